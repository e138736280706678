"""Writers: turn generated frames into tables in a SQL database, fast and all-or-nothing.

Example:
    >>> from relsynth.sinks import write, verify_integrity
    >>> write(frames, "sqlite:///synthetic.db", schema)           # doctest: +SKIP
    {'patients': 1000, 'lab_results': 8412}
    >>> verify_integrity("sqlite:///synthetic.db", schema)        # doctest: +SKIP

Directories of CSV/Parquet files (one per table, plus ``metadata.json``) are written and read
by :mod:`relsynth.sinks.files`. Per-dialect bulk loaders live in :mod:`relsynth.sinks.sql` (registry ``LOADERS``); DDL
translation in :mod:`relsynth.sinks.ddl`; integrity counts in :mod:`relsynth.sinks.integrity`; PostgreSQL and
MariaDB/MySQL loading by many writers at once (the Dask workers), through a staging schema or database, in
:mod:`relsynth.sinks.staged`.
"""

from __future__ import annotations

from relsynth.sinks.files import read_files, verify_files, write_files
from relsynth.sinks.integrity import total_violations, verify_integrity
from relsynth.sinks.sql import IfExists, write

__all__ = ["IfExists", "read_files", "total_violations", "verify_files", "verify_integrity", "write", "write_files"]
