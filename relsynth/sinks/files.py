"""Tables as files: a directory of CSV or Parquet files (one per table) plus ``metadata.json``.

A *table directory* holds ``<table>.csv`` or ``<table>.parquet`` for every table of a schema
and the schema itself as ``metadata.json`` (:meth:`Schema.to_dict`, relsynth's own format), so
it can be read back with its kinds, keys and constraints: :func:`write_files` writes one,
:func:`read_files` reads one (or any directory of CSV/Parquet files with a relsynth or SDV
metadata file), :func:`verify_files` counts integrity violations in what was written.

Any target or source that is not a ``scheme://`` URL is a directory (:func:`is_directory`).

A table written in partitions (on Dask: :mod:`relsynth.distributed`) is a directory
``<table>/`` of ``part-000000.csv`` / ``part-000000.parquet`` files instead, read back in the
order of their numbers as one table.

How values are stored:

============  ===================================  ======================================
kind          CSV                                  Parquet
============  ===================================  ======================================
integer       digits                               int64
float         shortest exact repr                  float64
decimal       rounded to the column's scale        decimal128(precision, scale) when
                                                   both are declared, else float64
boolean       ``true`` / ``false``                 bool
date          ``YYYY-MM-DD``                       date32
datetime      ``YYYY-MM-DD HH:MM:SS[.fff[fff]]``   timestamp[us] (UTC when tz-aware)
time          ``HH:MM:SS[.ffffff]``                time64[us]
binary        base64                               binary
others        text                                 string
============  ===================================  ======================================

NULL is an empty CSV field (so an empty string reads back as NULL there; Parquet keeps the two
apart). Parquet needs ``pyarrow``: ``pip install "relsynth[parquet]"``.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from relsynth.errors import ConfigError, MissingExtraError, SinkError, SourceError, TargetNotEmptyError, did_you_mean
from relsynth.evaluate.integrity import frame_integrity
from relsynth.schema.dataframes import schema_from_metadata
from relsynth.schema.frames import coerce_frame
from relsynth.schema.model import Schema, Table
from relsynth.sinks.sql import IF_EXISTS, IfExists, _check_frames, round_decimal

__all__ = [
    "FILE_FORMATS",
    "METADATA_FILE",
    "FileFormat",
    "is_directory",
    "require_pyarrow",
    "read_files",
    "verify_files",
    "write_files",
    "write_table_file",
    "part_file",
    "prepare_directory",
    "replace_files",
    "write_metadata",
]

log = logging.getLogger("relsynth")

#: File formats of a table directory.
FileFormat = Literal["csv", "parquet"]
FILE_FORMATS: tuple[str, ...] = get_args(FileFormat)

#: Name of the schema file written next to the tables (relsynth's :meth:`Schema.to_dict` JSON).
METADATA_FILE = "metadata.json"

# Integrity row kinds (relsynth.evaluate.integrity) → the counters verify_integrity reports.
_COUNTERS = {
    "primary_key": "pk_duplicates",
    "not_null": "not_null_violations",
    "unique": "unique_duplicates",
    "foreign_key": "fk_violations",
    "check": "check_violations",
}


def is_directory(target: object) -> bool:
    """Whether ``target`` names a directory of files rather than a database.

    A :class:`~pathlib.Path`, or text that is not a ``scheme://`` URL (``./out/``,
    ``data``, ``/tmp/copy``), is a directory; ``sqlite:///x.db`` and engines are databases.
    """
    if isinstance(target, Path):
        return True
    return isinstance(target, str) and "://" not in target


#: Suffixes of database files: a path ending in one is a forgotten ``sqlite:///``, not a directory.
_DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")


def _directory(path: str | Path, role: str) -> Path:
    """``path`` as a directory path, refusing what is clearly a SQLite file named without its URL."""
    directory = Path(path).expanduser()
    if directory.suffix.lower() in _DATABASE_SUFFIXES:
        raise ConfigError(f"{role} '{path}' looks like a database file; write sqlite:///{path} for SQLite, "
                          "or give a directory name for CSV/Parquet files")
    return directory


def require_pyarrow(purpose: str) -> Any:
    """Import and return ``pyarrow`` (with ``pyarrow.parquet``), or raise MissingExtraError naming ``purpose``."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule is what reads and writes the files
    except ImportError:
        raise MissingExtraError("pyarrow", "parquet", purpose) from None
    return pyarrow


def _check_format(file_format: str) -> FileFormat:
    if file_format not in FILE_FORMATS:
        raise ConfigError(f"file format {file_format!r} is not supported{did_you_mean(str(file_format), FILE_FORMATS)}; "
                          f"use one of: {', '.join(FILE_FORMATS)}")
    return file_format  # type: ignore[return-value]


# ---------------------------------------------------------------------------- writing


def _csv_frame(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The frame's columns as the text CSV stores (None for NULL), built column-wise."""
    out: dict[str, pd.Series] = {}
    for col in table.columns:
        s = frame[col.name]
        if col.kind == "date":
            out[col.name] = s.dt.strftime("%Y-%m-%d")
        elif col.kind == "boolean":
            out[col.name] = s.map({True: "true", False: "false"}).astype(object)
        elif col.kind == "decimal" and col.scale is not None:
            out[col.name] = pd.Series(round_decimal(s.to_numpy(dtype="float64", na_value=np.nan), col.scale),
                                      index=s.index)
        elif col.kind == "binary":
            out[col.name] = s.map(lambda v: base64.b64encode(bytes(v)).decode("ascii"), na_action="ignore")
        else:
            out[col.name] = s
    return pd.DataFrame(out, columns=table.column_names)


def _arrow_table(frame: pd.DataFrame, table: Table) -> Any:
    """The frame as a pyarrow Table whose column types keep each kind (see the module table)."""
    pa = require_pyarrow("writing Parquet files")
    arrays, fields = [], []
    for col in table.columns:
        s = frame[col.name]
        kind = col.kind
        if kind == "integer":
            arr = pa.array(s.astype("Int64"), type=pa.int64(), from_pandas=True)
        elif kind in ("float", "decimal"):
            values = s.to_numpy(dtype="float64", na_value=np.nan)
            if kind == "decimal" and col.precision is not None and col.scale is not None and col.precision <= 38:
                arr = pa.array(round_decimal(values, col.scale), from_pandas=True).cast(
                    pa.decimal128(col.precision, col.scale), safe=False)
            else:
                arr = pa.array(values, type=pa.float64(), from_pandas=True)
        elif kind == "boolean":
            arr = pa.array(s.astype("boolean"), type=pa.bool_(), from_pandas=True)
        elif kind in ("date", "datetime"):
            arr = pa.array(s.to_numpy(dtype="datetime64[us]"), from_pandas=True)
            if kind == "date":
                arr = arr.cast(pa.date32())
            elif col.timezone:
                arr = arr.cast(pa.timestamp("us", tz="UTC"))
        elif kind == "time":
            arr = pa.array(s.astype(object).where(s.notna(), None), type=pa.time64("us"))
        elif kind == "binary":
            arr = pa.array(s.astype(object).where(s.notna(), None), type=pa.binary())
        else:
            arr = pa.array(s.astype(object).where(s.notna(), None), type=pa.string())
        arrays.append(arr)
        fields.append(pa.field(col.name, arr.type, nullable=col.nullable))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _table_files(directory: Path, name: str) -> list[Path]:
    """The files holding table ``name``: ``<name>.csv``, ``<name>.parquet``, or a ``<name>/``
    directory of part files."""
    files = [p for p in (directory / f"{name}.{fmt}" for fmt in FILE_FORMATS) if p.exists()]
    return files + ([directory / name] if _parts(directory / name) else [])


def _parts(path: Path) -> list[Path]:
    """The part files of a partitioned table's directory, in order (none for anything else)."""
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.name.startswith("part-") and p.suffix[1:] in FILE_FORMATS)


def part_file(directory: Path, name: str, number: int, file_format: FileFormat) -> Path:
    """Where partition ``number`` of table ``name`` is written in a table directory."""
    return directory / name / f"part-{number:06d}.{file_format}"


def _existing_columns(path: Path) -> list[str]:
    if path.is_dir():
        path = _parts(path)[0]
    if path.suffix == ".parquet":
        return list(require_pyarrow("reading Parquet files").parquet.read_schema(path).names)
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def write_files(
    tables: Mapping[str, pd.DataFrame],
    directory: str | Path,
    schema: Schema,
    *,
    file_format: FileFormat = "csv",
    if_exists: IfExists = "fail",
) -> dict[str, int]:
    """Write one file per table of ``schema`` into ``directory``, plus ``metadata.json``.

    Files are first written under temporary names and renamed once every table is written,
    so a failure leaves the directory as it was.

    Args:
        tables: One DataFrame per schema table (checked as :func:`relsynth.sinks.write` does).
        directory: The directory (created if absent).
        schema: Tables, kinds and keys; written as ``metadata.json`` so the directory reads back.
        file_format: ``csv`` (default) or ``parquet`` (needs ``relsynth[parquet]``).
        if_exists: A directory that is not empty is refused with ``fail`` (default);
            ``replace`` and ``truncate`` overwrite the tables' files and the metadata file
            (other files are left alone; ``truncate`` requires existing files to have the
            schema's columns); ``append`` adds rows to existing files of the same format.

    Returns:
        Rows written per table.

    Raises:
        TargetNotEmptyError: ``if_exists="fail"`` and the directory holds files.
        SinkError: A frame does not match the schema, an existing file cannot be reused, or
            the directory cannot be written.
        ConfigError: ``file_format`` or ``if_exists`` is invalid.
        MissingExtraError: Parquet without pyarrow.
    """
    frames = _check_frames(tables, schema)
    directory, existing = prepare_directory(directory, schema, file_format, if_exists)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, table in schema.tables.items():
            final = directory / f"{name}.{file_format}"
            tmp = directory / f".{name}.{file_format}.tmp"
            frame = frames[name]
            if if_exists == "append" and final.exists():
                _append_table_file(frame, table, final, tmp, file_format)
            else:
                write_table_file(frame, table, tmp, file_format)
            staged.append((tmp, final))
        meta_tmp = directory / f".{METADATA_FILE}.tmp"
        written = {name: len(frames[name]) for name in schema.tables}
        write_metadata(meta_tmp, schema, written)
        staged.append((meta_tmp, directory / METADATA_FILE))
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise SinkError(f"writing to directory {directory} failed: {exc}; nothing was changed") from None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    replace_files(staged, existing if if_exists != "append" else {})
    log.info("wrote %d rows to %d %s files in %s", sum(written.values()), len(written), file_format, directory)
    return written


def prepare_directory(directory: str | Path, schema: Schema, file_format: str,
                      if_exists: str) -> tuple[Path, dict[str, list[Path]]]:
    """Check a target directory for :func:`write_files` (or a partitioned write) and create it.

    Returns the directory and each table's existing files (see :func:`write_files` for what
    ``if_exists`` allows; ``append`` is refused for a table written in parts).
    """
    file_format = _check_format(file_format)
    if if_exists not in IF_EXISTS:
        raise ConfigError(f"if_exists={if_exists!r} is not valid{did_you_mean(str(if_exists), IF_EXISTS)}; "
                          f"use one of: {', '.join(IF_EXISTS)}")
    if file_format == "parquet":
        require_pyarrow("writing Parquet files")
    directory = _directory(directory, "target")
    if directory.exists() and not directory.is_dir():
        raise SinkError(f"target {directory} is a file, not a directory; give a directory path or a database URL")
    present = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    if present and if_exists == "fail":
        shown = ", ".join(present[:5]) + (", …" if len(present) > 5 else "")
        raise TargetNotEmptyError(f"target directory {directory} is not empty ({shown}); pass --if-exists "
                                  "replace|truncate|append or choose an empty directory")
    existing = {name: _table_files(directory, name) for name in schema.tables}
    if if_exists in ("truncate", "append"):
        for name, paths in existing.items():
            for path in paths:
                if if_exists == "append" and path.is_dir():
                    raise SinkError(f"cannot append to {path}, a table written in parts; use --if-exists replace")
                if if_exists == "append" and path.suffix != f".{file_format}":
                    raise SinkError(f"cannot append {file_format} rows to {path}; use --file-format "
                                    f"{path.suffix[1:]} or --if-exists replace")
                have, want = _existing_columns(path), schema.tables[name].column_names
                if sorted(have) != sorted(want):
                    raise SinkError(f"existing file {path} has columns {', '.join(have)}, not the schema's "
                                    f"{', '.join(want)}; use --if-exists replace to rewrite it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"cannot create directory {directory}: {exc.strerror}; choose a writable path") from None
    return directory, existing


def write_table_file(frame: pd.DataFrame, table: Table, path: Path, file_format: FileFormat) -> None:
    """Write one frame (in the frame convention) as a CSV or Parquet file of ``table``."""
    if file_format == "csv":
        _csv_frame(frame, table).to_csv(path, index=False, lineterminator="\n")
    else:
        require_pyarrow("writing Parquet files").parquet.write_table(_arrow_table(frame, table), path)


def _append_table_file(frame: pd.DataFrame, table: Table, final: Path, tmp: Path, file_format: FileFormat) -> None:
    """Write ``final``'s rows followed by ``frame``'s to ``tmp``."""
    if file_format == "csv":
        shutil.copyfile(final, tmp)
        text = _csv_frame(frame, table)[_existing_columns(final)]  # rows in the existing header's order
        text.to_csv(tmp, index=False, mode="a", header=False, lineterminator="\n")
    else:
        pa = require_pyarrow("writing Parquet files")
        arrow = _arrow_table(frame, table)
        old = pa.parquet.read_table(final).select(arrow.column_names).cast(arrow.schema)
        pa.parquet.write_table(pa.concat_tables([old, arrow]), tmp)


def replace_files(staged: list[tuple[Path, Path]], existing: Mapping[str, list[Path]]) -> None:
    """Remove the tables' ``existing`` files, then move each staged file or part directory to
    its final path (the last step of a write, once everything is staged)."""
    for paths in existing.values():
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()  # e.g. patients.parquet when patients.csv replaces it
    for tmp, final in staged:
        os.replace(tmp, final)


def write_metadata(path: Path, schema: Schema, rows: Mapping[str, int]) -> None:
    """The schema as ``metadata.json``, each table's row count what was written."""
    doc = schema.to_dict()
    for t in doc["tables"]:
        t["row_count"] = rows.get(t["name"], t.get("row_count"))
    path.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")


# ---------------------------------------------------------------------------- reading


def _read_csv(path: Path, table: Table) -> pd.DataFrame:
    # Every field as text (no guessing: "NA" is a value, "007" keeps its zeros); the schema's
    # kinds decide the parsing in coerce_frame.
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise SourceError(f"cannot read {path}: {str(exc).splitlines()[0]}; fix the file") from None
    except pd.errors.EmptyDataError:
        df = pd.DataFrame(columns=table.column_names)
    for col in table.columns:
        if col.kind == "binary" and col.name in df.columns:
            try:
                df[col.name] = df[col.name].astype(object).map(base64.b64decode, na_action="ignore")
            except ValueError:
                raise SourceError(f"column {table.name}.{col.name} in {path} is binary but not base64 text; "
                                  "fix the file or declare the column's kind as string") from None
    return df


def _read_table(path: Path, table: Table) -> pd.DataFrame:
    """A table's file, or the part files of its directory one after the other."""
    if path.is_dir():
        frames = [_read_table(part, table) for part in _parts(path)]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path, table)


def _read_parquet(path: Path) -> pd.DataFrame:
    pa = require_pyarrow("reading Parquet files")
    try:
        arrow = pa.parquet.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"cannot read {path}: {str(exc).splitlines()[0]}; fix the file") from None
    # Integers stay exact (not float64 with NaN); dates and decimals come as Python objects.
    ints = {t: pd.Int64Dtype() for t in (pa.int8(), pa.int16(), pa.int32(), pa.int64(),
                                          pa.uint8(), pa.uint16(), pa.uint32())}
    return arrow.to_pandas(types_mapper=ints.get)


def read_files(
    directory: str | Path,
    metadata: Schema | dict[str, Any] | str | Path | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> tuple[Schema, dict[str, pd.DataFrame]]:
    """Read a directory of ``<table>.csv`` / ``<table>.parquet`` files described by a metadata file.

    Args:
        directory: The directory.
        metadata: The schema, or a metadata dict or file: relsynth's own (:meth:`Schema.to_dict`)
            or SDV's multi-table metadata JSON. None reads ``directory/metadata.json``.
        include: Only these tables.
        exclude: All tables but these.

    Returns:
        The schema (row counts from the files) and the frames in the frame convention,
        every column parsed into its kind.

    Raises:
        SourceError: The directory, the metadata or a table's file is missing or unreadable, or a
            value does not fit its column's kind.
        MissingExtraError: A Parquet file without pyarrow.
    """
    directory = _directory(directory, "source")
    if not directory.is_dir():
        what = "is a file, not a directory" if directory.exists() else "does not exist"
        raise SourceError(f"source directory {directory} {what}; check the path (database sources are URLs "
                          "such as sqlite:///file.db)")
    if metadata is None:
        metadata = directory / METADATA_FILE
        if not metadata.is_file():
            raise SourceError(f"directory {directory} has no {METADATA_FILE}; pass --metadata FILE (a relsynth or "
                              "SDV metadata JSON) that describes its tables")
    schema = metadata if isinstance(metadata, Schema) else schema_from_metadata(metadata)
    schema = schema.select(include, exclude)
    frames: dict[str, pd.DataFrame] = {}
    tables: dict[str, Table] = {}
    for name, table in schema.tables.items():
        paths = _table_files(directory, name)
        if not paths:
            found = sorted(p.stem for p in directory.iterdir() if p.suffix[1:] in FILE_FORMATS)
            raise SourceError(f"directory {directory} has no {name}.csv or {name}.parquet"
                              f"{did_you_mean(name, found)}; add the file or leave the table out of the metadata")
        if len(paths) > 1:
            raise SourceError(f"directory {directory} has both {paths[0].name} and {paths[1].name}; keep one")
        raw = _read_table(paths[0], table)
        frames[name] = coerce_frame(raw, table)
        tables[name] = replace(table, row_count=len(frames[name]))
    log.info("read %d tables from %s", len(frames), directory)
    return Schema(tables, dialect=schema.dialect), frames


def verify_files(directory: str | Path, schema: Schema) -> dict[str, dict[str, int]]:
    """Read a table directory back and count integrity violations of ``schema`` in it.

    The counts are those of :func:`relsynth.sinks.verify_integrity` (``rows``,
    ``pk_duplicates``, ``not_null_violations``, ``unique_duplicates``, ``fk_violations``) plus
    ``check_violations`` (rows breaking a CHECK relsynth evaluates), computed in memory with
    :func:`relsynth.evaluate.integrity.frame_integrity`.
    """
    _, frames = read_files(directory, schema)
    report: dict[str, dict[str, int]] = {
        name: {"rows": len(frames[name]), **{counter: 0 for counter in _COUNTERS.values()}} for name in schema.tables
    }
    for row in frame_integrity(schema, frames):
        report[row["table"]][_COUNTERS[row["kind"]]] += row["violations"]
    return report
