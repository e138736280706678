"""Writers: turn generated frames into tables in a SQL database, fast and all-or-nothing.

Example:
    >>> from relsynth.sinks import write, verify_integrity
    >>> write(frames, "sqlite:///synthetic.db", schema)           # doctest: +SKIP
    {'patients': 1000, 'lab_results': 8412}
    >>> verify_integrity("sqlite:///synthetic.db", schema)        # doctest: +SKIP

Per-dialect bulk loaders live in :mod:`relsynth.sinks.sql` (registry ``LOADERS``); DDL
translation in :mod:`relsynth.sinks.ddl`; integrity counts in :mod:`relsynth.sinks.integrity`.
"""

from __future__ import annotations

from relsynth.sinks.integrity import verify_integrity
from relsynth.sinks.sql import IfExists, write

__all__ = ["IfExists", "verify_integrity", "write"]
