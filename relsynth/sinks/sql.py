"""Write frames into a SQL database: DDL for the target, a fast bulk load, keys afterwards.

Where the time goes (DESIGN.md, "Writing"): constraint checks row by row and per-row round trips.
So each dialect gets its own bulk loader, registered by dialect name in :data:`LOADERS`:

- **sqlite** — one transaction; tables created with every constraint inline; foreign keys
  and, into new tables, CHECKs checked set-wise before COMMIT (cycles load; see
  :func:`load_sqlite`); ``executemany`` per chunk with rows built
  column-wise, on the raw ``sqlite3`` connection or, for a large load, in a writer process fed
  while the next rows are drawn (:mod:`relsynth.sinks.sqlite_writer`).
- **postgresql** — one transaction; bare tables (columns + NOT NULL), ``COPY ... FROM STDIN``
  (text format, built column-wise) per table via psycopg 3, then ``ALTER TABLE ... ADD``
  primary keys, UNIQUE and foreign keys, which validates everything once. Any failure rolls
  the whole thing back.
- **mysql / mariadb** — tables with PK/UNIQUE; multi-row ``INSERT`` batches (PyMySQL's
  ``executemany``) in one transaction with ``foreign_key_checks=0``; every foreign key validated
  by an anti-join before COMMIT; then ``ALTER TABLE ... ADD FOREIGN KEY``. DDL is not
  transactional there, so a failure drops the tables this call created.

Values of native-typed columns go as their text form; PostgreSQL arrays written to a target
without arrays become JSON array text first (:func:`_fallback_values`).

Adding a dialect is adding a function decorated with :func:`register_loader`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from relsynth.errors import (
    ConfigError,
    MissingExtraError,
    SinkError,
    TargetNotEmptyError,
    did_you_mean,
)
from relsynth.plan import make_plan
from relsynth.schema.model import Column, Schema, Table
from relsynth.sinks.ddl import ALL_CONSTRAINTS, TargetDDL
from relsynth.sinks.integrity import fk_violations
from relsynth.sinks import sqlite_writer
from relsynth.sinks.pg_formatter import FormatterFailed, FormatterProcess
from relsynth.sinks.sqlite_writer import (
    CheckViolation,
    ForeignKeyViolation,
    SQLiteSession,
    WriterFailed,
    WriterProcess,
    column_values,
)
from relsynth.transform.keys import int_codes
from relsynth.transform.native import pg_array_to_json
from relsynth.urls import SUPPORTED_URLS, db_error_line, mask_url, normalize_url, require_driver

__all__ = [
    "LOADERS",
    "IfExists",
    "LoadJob",
    "add_constraints",
    "check_foreign_keys",
    "check_frame",
    "check_target",
    "open_engine",
    "mysql_insert",
    "mysql_session",
    "pg_copy",
    "register_loader",
    "target_label",
    "write",
]

log = logging.getLogger("relsynth")

#: What to do when the target already holds some of the schema's tables.
IfExists = Literal["fail", "truncate", "append", "replace"]
IF_EXISTS: tuple[str, ...] = get_args(IfExists)

#: Rows converted at a time, so a big table never exists twice in memory in full.
CHUNK_ROWS = 100_000
# COPY pipelines: the server parses one chunk while the next is built.
_PG_CHUNK = 25_000


# ---------------------------------------------------------------------------- engines


#: Former name of :func:`relsynth.urls.mask_url`, kept for callers that import it from here.
target_label = mask_url


def open_engine(target: str | sa.Engine, purpose: str = "writing to") -> tuple[sa.Engine, bool]:
    """Return ``(engine, owned)`` for ``target`` after checking that it can be reached.

    ``owned`` is True when this call created the engine (the caller disposes it).

    Raises:
        MissingExtraError: The database driver is not installed.
        ConfigError: The URL is malformed, names an unknown database type or in-memory SQLite.
        SinkError: The server cannot be reached / refuses the login, or the SQLite file cannot
            be opened as a database.
    """
    owned = not isinstance(target, sa.Engine)
    if owned:
        url = normalize_url(str(target))
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            raise ConfigError(
                f"target {mask_url(url)} is an in-memory SQLite database, which is gone when the write ends; "
                "give a file path (sqlite:///copy.db) or pass an engine"
            )
        require_driver(url, purpose)
        try:
            engine = sa.create_engine(url)
        except ImportError as exc:
            raise ConfigError(
                f"the driver for {url.drivername!r} cannot be imported ({exc}); install it or use {SUPPORTED_URLS}"
            ) from None
        except sa.exc.NoSuchModuleError:
            raise ConfigError(
                f"unknown database type {url.drivername!r} in target URL {mask_url(url)!r}; use {SUPPORTED_URLS}"
            ) from None
    else:
        engine = target  # type: ignore[assignment]
    label = mask_url(engine)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:  # opening a file that is not a database succeeds; the first query fails
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except sa.exc.DBAPIError as exc:
        if owned:
            engine.dispose()
        msg = db_error_line(exc, engine.url.password)
        hint = ("check that the folder exists and is writable and that an existing file is a SQLite database"
                if sqlite else "check the host, port, database name and credentials")
        raise SinkError(f"cannot connect for {purpose} {label}: {msg}; {hint}") from None
    return engine, owned


def check_target(target: str | sa.Engine) -> None:
    """Check that ``target`` can be written to, before a long read and fit, creating nothing.

    A server target is connected to (so a wrong password or host fails at once); a new SQLite
    file's folder must exist and be writable; an existing SQLite file must be a database.

    Raises:
        ConfigError: The URL is malformed, names an unknown database type or in-memory SQLite.
        MissingExtraError: The database driver is not installed.
        SinkError: The target cannot be reached or opened.
    """
    if not isinstance(target, sa.Engine):
        url = normalize_url(str(target))
        file = Path(url.database or "").expanduser() if url.get_backend_name() == "sqlite" else None
        if file is not None and url.database not in (None, "", ":memory:") and not file.exists():
            folder = file.resolve().parent
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise SinkError(f"cannot create target {mask_url(url)}: folder '{folder}' does not exist or is "
                                "not writable; create it or choose another path")
            return
    engine, owned = open_engine(target)
    if owned:
        engine.dispose()


# ---------------------------------------------------------------------------- plan and validation


def _check_order(schema: Schema, order: Sequence[str] | None) -> list[str]:
    if order is None:
        # The generation plan's order: parents first, self-references ignored, cycles broken
        # (the loaders check foreign keys only once every table is in).
        return make_plan(schema).order
    order = list(order)
    unknown = [n for n in order if n not in schema.tables]
    missing = [n for n in schema.tables if n not in order]
    if unknown or missing or len(set(order)) != len(order):
        parts = []
        if unknown:
            parts.append(f"unknown table(s) {', '.join(unknown)}{did_you_mean(unknown[0], schema.tables)}")
        if missing:
            parts.append(f"missing table(s) {', '.join(missing)}")
        if len(set(order)) != len(order):
            parts.append("repeated table names")
        raise ConfigError(f"load order has {'; '.join(parts)}; pass every schema table once, parents first (or order=None)")
    return order


def _check_frames(tables: Mapping[str, pd.DataFrame], schema: Schema) -> dict[str, pd.DataFrame]:
    """Check frames against the schema and return them in schema column order, normalized."""
    missing = [n for n in schema.tables if n not in tables]
    if missing:
        raise SinkError(
            f"no data frame for table(s) {', '.join(missing)}; pass one DataFrame per schema table "
            "(an empty one writes an empty table) or drop the table from the schema"
        )
    extra = [n for n in tables if n not in schema.tables]
    if extra:
        check_frame(extra[0], tables[extra[0]], schema)  # raises: not in the schema
    return {name: check_frame(name, tables[name], schema) for name in schema.tables}


def check_frame(name: str, frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """One table's frame checked against the schema, in schema column order, normalized."""
    if name not in schema.tables:
        raise SinkError(
            f"data frame for table {name!r} not in the schema{did_you_mean(name, schema.tables)}; "
            "drop them or add the tables to the schema"
        )
    table = schema.tables[name]
    if not isinstance(frame, pd.DataFrame):
        raise SinkError(f"data for table {name!r} is a {type(frame).__name__}, not a pandas DataFrame; pass a DataFrame")
    cols = [str(c) for c in frame.columns]
    if len(set(cols)) != len(cols):
        dup = sorted({c for c in cols if cols.count(c) > 1})
        raise SinkError(f"frame for table {name!r} repeats column(s) {', '.join(dup)}; give each column once")
    wanted = table.column_names
    lacking = [c for c in wanted if c not in cols]
    if lacking:
        raise SinkError(
            f"frame for table {name!r} lacks column(s) {', '.join(lacking)}{did_you_mean(lacking[0], cols)}; "
            "add them (all-NULL is fine for nullable columns)"
        )
    surplus = [c for c in cols if c not in wanted]
    if surplus:
        raise SinkError(
            f"frame for table {name!r} has column(s) {', '.join(surplus)} that the schema does not declare"
            f"{did_you_mean(surplus[0], wanted)}; drop them or add them to the schema"
        )
    if cols != wanted or list(frame.columns) != cols:
        frame = frame.set_axis(cols, axis=1)[wanted]
    changed = {}
    for col in table.columns:
        s = frame[col.name]
        n = _normalize(s, col, name)
        if n is not s:
            changed[col.name] = n
    if changed:
        frame = frame.copy(deep=False)  # copy-on-write: the caller's frame is left alone
        for col_name, series in changed.items():
            frame[col_name] = series
    for col in table.columns:
        required = not col.nullable or col.name in table.primary_key
        if required and frame[col.name].isna().any():
            raise SinkError(
                f"column {name}.{col.name} is NOT NULL but the frame has "
                f"{int(frame[col.name].isna().sum())} missing value(s); fill them or make the column nullable"
            )
    return frame


def _normalize(s: pd.Series, col: Column, table: str) -> pd.Series:
    """Bring one column to the frame convention; returns ``s`` itself when it already conforms."""
    kind, dtype = col.kind, s.dtype
    try:
        if kind == "integer":
            if dtype == "Int64":
                return s
            if pd.api.types.is_float_dtype(dtype):
                vals = s.dropna()
                if not (vals == np.floor(vals)).all():
                    raise ValueError("has fractional values")
            return s.astype("Int64")
        if kind in ("float", "decimal"):
            if dtype == np.float64:
                return s
            return pd.Series(pd.to_numeric(s).to_numpy(dtype="float64", na_value=np.nan), index=s.index, name=s.name)
        if kind == "boolean":
            return s if dtype == "boolean" else s.astype("boolean")
        if kind in ("date", "datetime"):
            if isinstance(dtype, pd.DatetimeTZDtype):
                return s.dt.tz_convert("UTC").dt.tz_localize(None)
            if pd.api.types.is_datetime64_dtype(dtype):
                return s
            conv = pd.to_datetime(s, utc=col.timezone, format="mixed")
            return conv.dt.tz_localize(None) if isinstance(conv.dtype, pd.DatetimeTZDtype) else conv
        if kind == "time":
            if pd.api.types.is_timedelta64_dtype(dtype):
                base = pd.Timestamp("1970-01-01") + s
                return base.dt.time.astype(object).where(s.notna(), None)
            return s
        if kind in ("string", "uuid", "json"):
            if isinstance(dtype, pd.StringDtype):
                return s
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            if inferred in ("string", "empty"):
                return s
            if kind == "json":
                return s.map(json.dumps, na_action="ignore").astype(object)
            return s.map(str, na_action="ignore").astype(object)
        return s  # binary: bytes-like objects go to the drivers as they are
    except (TypeError, ValueError, OverflowError) as exc:
        raise SinkError(
            f"column {table}.{col.name} (kind {kind}) holds values of dtype {dtype} that cannot be written "
            f"as {kind}: {str(exc).splitlines()[0]}; fix the data or the column's kind in the schema"
        ) from None


# ---------------------------------------------------------------------------- value conversion


def _fallback_values(frame: pd.DataFrame, table: Table, ddl: TargetDDL) -> pd.DataFrame:
    """Values of native-typed columns in the form their fallback type takes.

    PostgreSQL arrays written where the target has none become JSON array text (the column is
    JSON on MySQL/MariaDB, TEXT on SQLite). Every other fallback keeps the source's text form.
    """
    arrays = [c for c in table.columns if c.element_kind and c.kind == "string" and not ddl.native(c)]
    if not arrays:
        return frame
    frame = frame.copy(deep=False)
    for col in arrays:
        kind = col.element_kind
        frame[col.name] = frame[col.name].map(lambda v, k=kind: pg_array_to_json(v, k), na_action="ignore")
    return frame


def _time_text(s: pd.Series) -> pd.Series:
    """datetime.time objects as 'HH:MM:SS.ffffff' (SQLAlchemy's SQLite TIME storage format)."""
    mask = s.notna()
    out = pd.Series(None, index=s.index, dtype=object)
    if mask.any():
        txt = s[mask].astype(str)
        out[mask] = txt.where(txt.str.len() != 8, txt + ".000000")
    return out


def round_decimal(arr: np.ndarray, scale: int) -> np.ndarray:
    """Round to ``scale`` digits, half away from zero, as DECIMAL columns do.

    ``np.round`` rounds half to even after scaling, so 12.345 would become 12.34 where
    PostgreSQL and MySQL store 12.35.
    """
    factor = 10.0**scale
    scaled = arr * factor
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / factor


def wire_columns(frame: pd.DataFrame, table: Table, joined_text: bool = False) -> list[tuple]:
    """The columns of ``frame`` in the wire form of :func:`relsynth.sinks.sqlite_writer.column_values`:
    numbers as arrays plus a NULL mask (decimals rounded to the column's scale), dates and
    datetimes as ``datetime64`` (written as ISO text, how SQLAlchemy stores them in SQLite;
    MySQL parses it too), times as ``HH:MM:SS.ffffff`` text, anything else as Python values.
    ``joined_text``: text, dates and datetimes as one NUL-joined string, which pickles at C
    speed (for the writer process)."""
    cols: list[tuple] = []
    for col in table.columns:
        s = frame[col.name]
        kind = col.kind
        if kind in ("integer", "boolean", "float", "decimal"):
            cols.append(_wire_numbers(s, col))
        elif kind in ("date", "datetime"):
            values = s.to_numpy(dtype="datetime64[us]")
            mask = np.isnat(values)
            unit = "D" if kind == "date" else "us"
            values = values.astype("datetime64[D]") if kind == "date" else values
            if joined_text:  # each distinct value written once, as text (dates repeat: 2,500 in TPC-H's 6 M lines)
                distinct, codes = int_codes(values[~mask].view(np.int64))
                texts = column_values(("dates", distinct.view(values.dtype), None, unit))
                cols.append(("coded", "\x00".join(texts), codes, mask if mask.any() else None))
            else:
                cols.append(("dates", values, mask if mask.any() else None, unit))
        elif kind == "time":
            cols.append(("objects", _time_text(s).to_numpy(dtype=object, na_value=None)))
        else:
            values = s.to_numpy(dtype=object, na_value=None)
            cols.append(_wire_texts(values) if joined_text else ("objects", values))
    return cols


def _wire_numbers(s: pd.Series, col: Column) -> tuple:
    mask = s.isna().to_numpy()
    has_null = bool(mask.any())
    if col.kind in ("float", "decimal"):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        if col.kind == "decimal" and col.scale is not None:
            values = round_decimal(values, col.scale)
    else:
        try:
            values = s.to_numpy(dtype="int64" if col.kind == "integer" else "bool", na_value=0)
        except (TypeError, ValueError, OverflowError):  # integers beyond int64 held as Python ints
            return ("objects", s.to_numpy(dtype=object, na_value=None))
    return ("numbers", values, mask if has_null else None)


def _wire_texts(values: np.ndarray) -> tuple:
    """``("texts", ...)`` when every present value is a ``str`` without NUL, else ``("objects", values)``."""
    mask = np.equal(values, None)
    present = values[~mask] if mask.any() else values
    joined = _nul_joined(present)
    if joined is None:
        return ("objects", values)
    return ("texts", joined, mask if mask.any() else None, int(present.size))


def _nul_joined(values: np.ndarray) -> str | None:
    """``values`` joined by NUL, one string to work on at C speed and split again, or None when
    one is no ``str`` or holds a NUL itself (the split would not give them back)."""
    try:
        joined = "\x00".join(values)
    except TypeError:  # not all str
        return None
    return joined if not values.size or joined.count("\x00") == values.size - 1 else None


def python_columns(frame: pd.DataFrame, table: Table) -> list[Any]:
    """Column-wise Python values (None for NULL) ready for a DB-API ``executemany`` (see
    :func:`wire_columns`)."""
    return [column_values(wire) for wire in wire_columns(frame, table)]


#: NULL in PostgreSQL's COPY text format; a string value "\\N" is escaped to "\\\\N", so no clash.
PG_NULL = "\\N"
_PG_SPECIAL = r"[\\\t\n\r]"


def _pg_escape(s: pd.Series, mask: np.ndarray, label: str = "") -> np.ndarray:
    """Strings escaped for COPY text format (backslash, tab, newline, CR), NULLs as ``\\N``.

    PostgreSQL text cannot hold a NUL character (SQLite's and MariaDB's can): a value with one
    is written without it, and a warning names the column (``label``) and how many values.

    The column's texts are joined with NUL (no value on this path holds one) and escaped by
    four ``str.replace`` over that one string, then split again: C speed, where a regex test of
    every value took 1.3 s of TPC-H SF 0.1's 3.1 s write. Columns holding anything but ``str``
    (or a NUL) take the value-by-value path.
    """
    # A new array: pandas may hand back the column's own one even with copy=True when there is
    # no NULL, and the caller's frame would then get the escapes.
    vals = np.array(s.to_numpy(dtype=object, na_value=PG_NULL), dtype=object, copy=True)
    if mask.all():
        return vals
    text = _nul_joined(vals[~mask])
    if text is not None:
        if any(char in text for char in _PG_ESCAPES):
            for char, code in _PG_ESCAPES.items():
                text = text.replace(char, code)
            vals[~mask] = text.split("\x00")
        return vals
    texts = s[~mask].astype(object)
    nul = texts.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
    if nul.any():
        log.warning("%s: removed the NUL characters of %d value(s): PostgreSQL text cannot hold them",
                    label or s.name, int(nul.sum()))
        texts = texts.where(~nul, texts.str.replace("\x00", "", regex=False))
        vals[np.flatnonzero(~mask)[nul]] = texts[nul].to_numpy(dtype=object)
    need = texts.str.contains(_PG_SPECIAL, regex=True)
    if need.any():
        fixed = texts[need]
        for char, code in _PG_ESCAPES.items():
            fixed = fixed.str.replace(char, code, regex=False)
        idx = np.flatnonzero(~mask)[need.to_numpy()]
        vals[idx] = fixed.to_numpy(dtype=object)
    return vals


#: COPY text escapes, backslash first (the others add backslashes).
_PG_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def pg_text(frame: pd.DataFrame, table: Table) -> str:
    """Rows of ``frame`` in PostgreSQL's ``COPY ... FROM STDIN`` text format.

    Built column by column (each column becomes a list of strings) and joined by one C-level
    ``map``; measured ~2x faster than ``DataFrame.to_csv`` (whose float formatting dominates)
    and parsed ~2x faster by the server than CSV. NULL is ``\\N`` and an empty string stays
    empty, so both survive the round trip.
    """
    cols: list[np.ndarray] = []
    for col in table.columns:
        s = frame[col.name]
        kind = col.kind
        mask = s.isna().to_numpy()
        if kind == "integer":
            out = np.array(list(map(int.__repr__, s.to_numpy(dtype="int64", na_value=0).tolist())), dtype=object)
        elif kind in ("float", "decimal"):
            arr = s.to_numpy(dtype="float64", na_value=np.nan)
            if kind == "decimal" and col.scale is not None:
                arr = round_decimal(arr, col.scale)
            out = np.array(list(map(float.__repr__, arr.tolist())), dtype=object)
        elif kind == "boolean":
            out = np.where(s.to_numpy(dtype=bool, na_value=False), "t", "f").astype(object)
        elif kind == "date":
            out = s.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=PG_NULL)
        elif kind == "datetime":
            fmt = "%Y-%m-%d %H:%M:%S.%f+00" if col.timezone else "%Y-%m-%d %H:%M:%S.%f"
            out = s.dt.strftime(fmt).to_numpy(dtype=object, na_value=PG_NULL)
        elif kind == "time":
            out = _time_text(s).to_numpy(dtype=object, na_value=PG_NULL)
        elif kind == "binary":
            # bytea hex input is \x...; the backslash itself is escaped in text format.
            out = s.map(lambda b: "\\\\x" + bytes(b).hex(), na_action="ignore").to_numpy(dtype=object, na_value=PG_NULL)
        else:
            out = _pg_escape(s, mask, f"{table.name}.{col.name}")
        if mask.any():
            if not out.flags.writeable:
                out = out.copy()
            out[mask] = PG_NULL
        cols.append(out)
    if not cols or not len(frame):
        return ""
    return "\n".join(map("\t".join, zip(*cols))) + "\n"


def _chunks(frame: pd.DataFrame, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


# ---------------------------------------------------------------------------- registry


class LoadTables:
    """Which tables a load creates and which it writes into as they are, from its ``order``,
    the ``existing`` tables and ``if_exists`` (a base of the single-connection and the staged loads)."""

    order: list[str]
    existing: set[str]
    if_exists: IfExists

    @property
    def to_create(self) -> list[str]:
        """Tables the load creates, in load order: all of them on ``replace``, else those not there yet."""
        return list(self.order) if self.if_exists == "replace" else [n for n in self.order if n not in self.existing]

    @property
    def kept(self) -> list[str]:
        """Existing tables written into as they are (``truncate``/``append``), in load order."""
        return [] if self.if_exists == "replace" else [n for n in self.order if n in self.existing]


@dataclass
class LoadJob(LoadTables):
    """Everything a dialect loader needs; built by :func:`write` after all validation passed.

    Attributes:
        engine: Connected engine for the target.
        schema: Tables to write.
        pieces: ``(table, frame)`` pieces to load, parents' before their children's; each frame
            validated (columns in schema order, convention dtypes) as it comes.
        order: Parent-first load order (tables are created and emptied in it).
        if_exists: What to do with tables that exist (``fail`` never gets here with any).
        existing: Names of schema tables already present in the target.
        ddl: Type and constraint decisions for the target dialect.
        label: Target URL with the password masked.
        expected_rows: Rows the pieces are expected to hold in all (a hint; None: unknown).
        streamed: The pieces are drawn as they are loaded (a stream), not before the load.
        formatter: PostgreSQL: the process making COPY text (:func:`_formatter`), started
            before the first pieces were drawn; None: made here.
    """

    engine: sa.Engine
    schema: Schema
    pieces: Iterator[tuple[str, pd.DataFrame]]
    order: list[str]
    if_exists: IfExists
    existing: set[str]
    ddl: TargetDDL
    label: str
    expected_rows: int | None = None
    streamed: bool = False
    formatter: FormatterProcess | None = None
    step: str = field(default="starting")
    written: dict[str, int] = field(default_factory=dict)

    def loads(self) -> Iterator[tuple[str, Table, pd.DataFrame]]:
        """The pieces in their target form, one at a time; counts rows and logs each table's rate."""
        started = time.perf_counter()
        for name, frame in self.pieces:
            self.step = f"loading table {name!r}"
            yield name, self.schema.tables[name], _fallback_values(frame, self.schema.tables[name], self.ddl)
            self.written[name] = self.written.get(name, 0) + len(frame)
            _log_rate(name, len(frame), started)
            started = time.perf_counter()


Loader = Callable[[LoadJob], None]
#: Bulk loaders by SQLAlchemy dialect name.
LOADERS: dict[str, Loader] = {}


def register_loader(*dialects: str) -> Callable[[Loader], Loader]:
    """Register a bulk loader for the given SQLAlchemy dialect names."""

    def deco(fn: Loader) -> Loader:
        for name in dialects:
            LOADERS[name] = fn
        return fn

    return deco


def _log_rate(table: str, rows: int, started: float) -> None:
    secs = max(time.perf_counter() - started, 1e-9)
    log.debug("loaded %s: %d rows in %.2fs (%.0f rows/s)", table, rows, secs, rows / secs)


# ---------------------------------------------------------------------------- sqlite


#: A SQLite load of a stream of at least this many rows (:attr:`LoadJob.expected_rows`) runs
#: its statements in a writer process (:mod:`relsynth.sinks.sqlite_writer`) while this one
#: draws the next table or piece and scores the copy. The process is up in ~0.1 s beside the
#: first table's drawing; from a few tens of thousands of rows the overlap pays for it (the
#: demo database's 44,452 rows: the clone 2.02 → 1.66 s here; chinook's 15,607: no gain).
WRITER_PROCESS_ROWS = 20_000

#: The same for frames drawn before the load (``write`` of a dict), where only turning the next
#: piece into the wire form overlaps the inserts: below this many rows the process's start and
#: the pickling cost more than that saves (the demo's 44,452 rows: 0.60 s here, 0.79 s through it).
WRITER_PROCESS_DRAWN_ROWS = 200_000

#: A PostgreSQL load of at least this many rows makes its COPY text in a formatter process
#: (:mod:`relsynth.sinks.pg_formatter`) while this one draws the next pieces; a smaller one
#: makes it here and spares the process's start (~1 s of imports, beside the first pieces' drawing).
FORMATTER_PROCESS_ROWS = 200_000


#: Page cache of a writer process's connection (SQLite's default is 2 MB): the indexes of a
#: large load stay in memory until COMMIT instead of being spilled and read back.
WRITER_CACHE_KB = 65_536


@register_loader("sqlite")
def load_sqlite(job: LoadJob) -> None:
    """One transaction, constraints inline, ``executemany`` per table, in a writer process for
    a large load (:func:`_writer_process_file`).

    Foreign keys hold at COMMIT, so FK cycles (even NOT NULL ones) load in any order. Into
    tables this load creates in a target that had none of them, they are checked once, set-wise,
    by ``PRAGMA foreign_key_check`` of each table before COMMIT, with the connection's per-row
    enforcement off (as PostgreSQL adds its FKs after COPY): a lookup per row and FK took 1.9 s
    of TPC-H SF 0.1's 4.2 s load here, the check 0.4 s. Into existing tables (``append``,
    ``truncate``, ``replace``) they are deferred, so rows already there and other tables' rows
    that point at them are held to them too.

    CHECK constraints, where the load creates every table it writes (a new target, or
    ``replace``), are declared in CREATE TABLE but not evaluated row by row (``PRAGMA
    ignore_check_constraints``): SQLite builds the list of an ``IN (...)`` CHECK anew for every
    row an ``executemany`` inserts (6 µs a row: 2/3 of the demo's lab results load). They are
    counted set-wise before COMMIT instead (:func:`_check_counts`), where the list is built once
    per table. Into tables kept (``append``, ``truncate``) every row is checked as it goes in.
    """
    dialect = job.engine.dialect
    md = job.ddl.metadata(ALL_CONSTRAINTS)

    def ddl(stmt: sa.schema.ExecutableDDLElement) -> str:
        return str(stmt.compile(dialect=dialect))

    checked = [] if job.existing else [dialect.identifier_preparer.quote(name) for name in job.order
                                        if md.tables[name].foreign_keys]
    enforce = "OFF" if checked else "ON"  # only takes effect outside a transaction
    counted = [] if job.kept else _check_counts(md, job.order, dialect)
    ignore_checks = "ON" if counted else "OFF"
    setup = [("starting", "BEGIN")] + ([] if checked else [("starting", "PRAGMA defer_foreign_keys=ON")])
    if job.if_exists == "replace":
        setup += [(f"dropping table {name!r}", ddl(sa.schema.DropTable(md.tables[name])))
                  for name in reversed(job.order) if name in job.existing]
    elif job.if_exists == "truncate":
        setup += [(f"emptying table {name!r}", str(sa.delete(md.tables[name]).compile(dialect=dialect)))
                  for name in reversed(job.kept)]
    setup += [(f"creating table {name!r}", ddl(sa.schema.CreateTable(md.tables[name]))) for name in job.to_create]
    inserts = {name: str(md.tables[name].insert().compile(dialect=dialect)) for name in job.order}

    def run(session: SQLiteSession | WriterProcess, joined_text: bool) -> None:
        for step, sql in setup:
            job.step = step
            session.execute(step, sql)
        for name, table, frame in job.loads():
            for chunk in _chunks(frame):
                session.insert(job.step, inserts[name], wire_columns(chunk, table, joined_text))
        job.step = "committing (foreign keys and CHECK constraints are checked now)"
        try:
            session.commit(job.step, checked, counted)
        except ForeignKeyViolation as exc:
            raise SinkError(f"writing to {job.label} failed: foreign key violations found at COMMIT ({exc}); "
                            "the target was left unchanged (rolled back)") from None
        except CheckViolation as exc:
            raise SinkError(f"writing to {job.label} failed: CHECK constraint violations found at COMMIT ({exc}); "
                            "the target was left unchanged (rolled back)") from None

    path = _writer_process_file(job)
    writer = None
    if path is not None:
        try:
            writer = WriterProcess(path)
        except (OSError, WriterFailed) as exc:
            log.info("loading in this process: %s", exc)
    if writer is not None:
        try:
            writer.execute("starting", f"PRAGMA foreign_keys={enforce}")
            writer.execute("starting", f"PRAGMA ignore_check_constraints={ignore_checks}")
            writer.execute("starting", f"PRAGMA cache_size=-{WRITER_CACHE_KB}")
            run(writer, joined_text=True)
        except WriterFailed as exc:
            raise SinkError(f"writing to {job.label} failed while {writer.failed_step or job.step}: {exc}; "
                            "the target was left unchanged (rolled back)") from None
        except Exception:
            job.step = writer.failed_step or job.step
            raise
        finally:
            writer.close()
        return
    raw = job.engine.raw_connection()
    try:
        con: Any = raw.driver_connection
        old_isolation = con.isolation_level
        con.isolation_level = None  # we issue BEGIN/COMMIT ourselves, DDL included
        session = SQLiteSession(con)
        fk_before = session.cur.execute("PRAGMA foreign_keys").fetchone()[0]
        ignoring_before = session.cur.execute("PRAGMA ignore_check_constraints").fetchone()[0]
        session.cur.execute(f"PRAGMA foreign_keys={enforce}")
        session.cur.execute(f"PRAGMA ignore_check_constraints={ignore_checks}")
        try:
            run(session, joined_text=False)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.cur.execute(f"PRAGMA foreign_keys={int(fk_before)}")
            session.cur.execute(f"PRAGMA ignore_check_constraints={int(ignoring_before)}")
            con.isolation_level = old_isolation
    finally:
        raw.close()


def _check_counts(md: sa.MetaData, order: list[str], dialect: sa.Dialect) -> list[tuple[str, list[str], str]]:
    """For each table of ``order`` with CHECK constraints: its name, the constraints (``name:
    expression``, for the error message) and one query counting the rows that break each of
    them (``NOT (expression)`` true: false breaks a CHECK, NULL does not)."""
    out = []
    for name in order:
        checks = [c for c in md.tables[name].constraints if isinstance(c, sa.CheckConstraint)]
        if not checks:
            continue
        texts = [str(c.sqltext) for c in checks]
        query = (f"SELECT {', '.join(f'coalesce(sum(NOT ({text})), 0)' for text in texts)} "
                 f"FROM {dialect.identifier_preparer.quote(name)}")
        out.append((name, [f"{c.name}: {text}" if c.name else text for c, text in zip(checks, texts)], query))
    return out


def _writer_process_file(job: LoadJob) -> str | None:
    """The target's file when this load goes through a writer process (large enough for its
    kind, :data:`WRITER_PROCESS_ROWS` or :data:`WRITER_PROCESS_DRAWN_ROWS`; a plain
    file path, an interpreter to start), else None."""
    url = job.engine.url
    path = url.database
    least = WRITER_PROCESS_ROWS if job.streamed else WRITER_PROCESS_DRAWN_ROWS
    if (job.expected_rows or 0) < least or not path or path == ":memory:" or path.startswith("file:"):
        return None
    if url.query or not _python_interpreter() or not Path(sqlite_writer.__file__).is_file():
        return None
    return path


# ---------------------------------------------------------------------------- postgresql


@register_loader("postgresql")
def load_postgresql(job: LoadJob) -> None:
    """One transaction: bare tables, COPY (text format), then keys and FKs (validated once), COMMIT."""
    try:
        from psycopg import sql
    except ImportError:
        raise MissingExtraError("psycopg", "postgres", "writing to PostgreSQL") from None
    if job.engine.dialect.driver != "psycopg":
        raise ConfigError(
            f"writing to PostgreSQL uses psycopg 3 COPY, but the engine uses {job.engine.dialect.driver}; "
            "create it from a postgresql+psycopg:// URL"
        )
    bare = job.ddl.metadata(include=())
    full = job.ddl.metadata(ALL_CONSTRAINTS)
    with job.engine.connect() as conn, conn.begin():
        pg: Any = conn.connection.driver_connection
        cur = pg.cursor()
        # Bigger sort memory makes the ADD PRIMARY KEY / UNIQUE index builds faster; LOCAL ends
        # with the transaction.
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # Existing tables keep their constraints; deferrable ones wait for COMMIT.
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        if job.if_exists == "replace" and job.existing:
            job.step = "dropping existing tables"
            names = [n for n in reversed(job.order) if n in job.existing]
            cur.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, names))))
            # The domains and enum types this writer created for those tables (same names);
            # recreated below.
            for what, type_name in job.ddl.named_types:
                keyword = sql.SQL("DOMAIN" if what == "domain" else "TYPE")
                cur.execute(sql.SQL("DROP {} IF EXISTS {}").format(keyword, sql.Identifier(type_name)))
        elif job.if_exists == "truncate" and job.kept:
            job.step = "emptying existing tables"
            # One TRUNCATE for all: FKs among them do not block it, and it is far faster than DELETE.
            cur.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, job.kept))))
        create = job.to_create
        if create:
            job.step = "creating tables"
            bare.create_all(conn, tables=[bare.tables[n] for n in create], checkfirst=True)
        _copy_pieces(cur, job)
        add_constraints(conn, full, create, job)
        job.step = "committing"


def _formatter(engine: sa.Engine, expected_rows: int | None) -> FormatterProcess | None:
    """A process making the COPY text of a large PostgreSQL load (:data:`FORMATTER_PROCESS_ROWS`),
    or None: another target, a small load, or no Python interpreter to start it with."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg" \
            or (expected_rows or 0) < FORMATTER_PROCESS_ROWS or not _python_interpreter():
        return None
    try:
        return FormatterProcess()
    except OSError as exc:
        log.info("making the COPY text in this process: %s", exc)
        return None


def _python_interpreter() -> bool:
    """Whether ``sys.executable`` is a Python to start a helper process with (not an app that
    embeds Python)."""
    return Path(sys.executable or "").name.lower().startswith("py")


def _copy_pieces(cur: Any, job: LoadJob) -> None:
    """COPY every piece of ``job``. With its formatter process, a piece's text is made there
    and COPY'd by a thread (:class:`_Copier`) while this one draws the next pieces."""
    if job.formatter is None:
        for _, table, frame in job.loads():
            pg_copy(cur, table, frame)
        return
    copier = _Copier(cur, job, job.formatter)
    try:
        for _, table, frame in job.loads():
            chunks = list(_chunks(frame, _PG_CHUNK))
            for chunk in chunks:
                job.formatter.submit(chunk, table)
            copier.put(table, chunks)
        copier.finish()
    except BaseException:
        copier.abort()
        raise


class _Copier:
    """COPY pieces in a thread: each chunk's text as the formatter process sends it back, in
    order, made here instead once that process has failed (the text is the same). A failure
    stops the COPYs and is raised by the next :meth:`put` or by :meth:`finish`, with the job's
    step set to the table it met; the thread then takes and drops what is still put, so no
    caller waits on it. The queue holds one piece: the caller draws at most two ahead."""

    def __init__(self, cur: Any, job: LoadJob, formatter: FormatterProcess) -> None:
        self.cur, self.job, self.formatter = cur, job, formatter
        self.step = job.step
        self._queue: queue.Queue[tuple[Table, list[pd.DataFrame]] | None] = queue.Queue(maxsize=1)
        self._failure: BaseException | None = None
        self._aborted = False
        self._thread = threading.Thread(target=self._run, name="relsynth-copy", daemon=True)
        self._thread.start()

    def put(self, table: Table, chunks: list[pd.DataFrame]) -> None:
        self._raise_failure()
        self._queue.put((table, chunks))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise_failure()

    def abort(self) -> None:
        """Stop at once (the COPY under way fails, so the transaction can roll back) and wait."""
        self._aborted = True
        self.job.formatter.close()  # a wait for a text ends (self.formatter is None once it failed)
        while self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=0.1)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            self.job.step = self.step
            raise self._failure

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._failure is not None:
                continue
            table, chunks = item
            try:
                self.step = f"loading table {table.name!r}"
                with self.cur.copy(_copy_statement(table)) as copy:
                    for chunk in chunks:
                        copy.write(self._text(chunk, table))
            except BaseException as exc:  # noqa: BLE001 - raised in the caller
                self._failure = exc

    def _text(self, chunk: pd.DataFrame, table: Table) -> str:
        if self._aborted:
            raise _Aborted
        if self.formatter is not None:
            try:
                return self.formatter.result()
            except FormatterFailed as exc:
                if self._aborted:
                    raise _Aborted from None
                log.info("making the COPY text in this process: %s", exc)
                self.formatter = None
        return pg_text(chunk, table)


class _Aborted(Exception):
    """The caller stopped the COPYs (:meth:`_Copier.abort`)."""


def _copy_statement(table: Table, schema_name: str | None = None) -> Any:
    from psycopg import sql

    name = sql.Identifier(table.name) if schema_name is None else sql.Identifier(schema_name, table.name)
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        name, sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    )


def pg_copy(cur: Any, table: Table, frame: pd.DataFrame, schema_name: str | None = None) -> None:
    """``COPY`` the rows of ``frame`` (in its target form) into ``table`` over the psycopg
    cursor ``cur``, in the text format of :func:`pg_text`; into ``schema_name.table`` when given."""
    if not len(frame):
        return
    with cur.copy(_copy_statement(table, schema_name)) as copy:
        # Chunks smaller than CHUNK_ROWS let the server parse one while we build the next.
        for chunk in _chunks(frame, _PG_CHUNK):
            copy.write(pg_text(chunk, table))


def add_constraints(conn: sa.Connection, full: sa.MetaData, create: Sequence[str], job: Any,
                    kinds: Sequence[str] = ("primary_key", "unique", "check", "foreign_key")) -> None:
    """Declare the keys and constraints (of ``kinds``) of the tables ``create`` once their rows are
    in: one index build and one validation pass per constraint (PostgreSQL), or only the foreign
    keys, in place, with checks off (MariaDB/MySQL, after :func:`check_foreign_keys`). PRIMARY KEY,
    UNIQUE and CHECK first, then FOREIGN KEYs, which need the referenced PRIMARY KEY/UNIQUE to
    exist. ``job.step`` says which one is being added (for the error message if it fails)."""
    started = time.perf_counter()
    first = [k for k in ("primary_key", "unique", "check") if k in kinds]
    adds = [c for n in create for c in _sorted_constraints(full.tables[n], first)]
    if "foreign_key" in kinds:
        adds += [c for n in create for c in _sorted_constraints(full.tables[n], ("foreign_key",))]
    for constraint in adds:
        job.step = f"adding {_describe(constraint)}"
        conn.execute(sa.schema.AddConstraint(constraint))
    if adds:
        log.info("added %d keys/constraints in %.2fs", len(adds), time.perf_counter() - started)


def _sorted_constraints(table: sa.Table, kinds: Sequence[str]) -> list[ColumnCollectionConstraint]:
    out: list[ColumnCollectionConstraint] = []
    if "primary_key" in kinds and table.primary_key.columns:
        out.append(table.primary_key)
    others = [c for c in table.constraints if isinstance(c, ColumnCollectionConstraint)]
    for c in sorted(others, key=lambda c: [col.name for col in c.columns]):
        if "unique" in kinds and isinstance(c, sa.UniqueConstraint) or "foreign_key" in kinds and isinstance(c, sa.ForeignKeyConstraint) or "check" in kinds and isinstance(c, sa.CheckConstraint):
            out.append(c)
    return out


def _describe(c: ColumnCollectionConstraint) -> str:
    cols = ", ".join(col.name for col in c.columns)
    if isinstance(c, sa.PrimaryKeyConstraint):
        return f"PRIMARY KEY ({cols}) to {c.table.name!r}"
    if isinstance(c, sa.UniqueConstraint):
        return f"UNIQUE ({cols}) to {c.table.name!r}"
    if isinstance(c, sa.ForeignKeyConstraint):
        ref = c.elements[0].target_fullname.rsplit(".", 1)[0]
        refcols = ", ".join(e.target_fullname.rsplit(".", 1)[1] for e in c.elements)
        return f"FOREIGN KEY {c.table.name}({cols}) -> {ref}({refcols})"
    return f"constraint to {c.table.name!r}"


# ---------------------------------------------------------------------------- mysql / mariadb


@register_loader("mysql", "mariadb")
def load_mysql(job: LoadJob) -> None:
    """PK/UNIQUE tables, batched INSERTs with FK checks off, FK anti-join check, then ADD FOREIGN KEY.

    MySQL commits DDL implicitly, so the rows go in one transaction and, on failure, the tables
    this call created are dropped again.
    """
    dialect = job.engine.dialect
    keyed = job.ddl.metadata(("primary_key", "unique", "check"))
    full = job.ddl.metadata(ALL_CONSTRAINTS)
    created: list[str] = []
    dropped: list[str] = []
    committed = False
    with job.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        cur = raw.cursor()

        def run(stmt: sa.Executable) -> None:
            conn.execute(stmt)

        with mysql_session(cur, foreign_key_checks=0):
            try:
                if job.if_exists == "replace":
                    for name in reversed(job.order):
                        if name in job.existing:
                            job.step = f"dropping table {name!r}"
                            run(sa.schema.DropTable(keyed.tables[name]))
                            dropped.append(name)
                for name in job.to_create:
                    job.step = f"creating table {name!r}"
                    run(sa.schema.CreateTable(keyed.tables[name]))
                    created.append(name)
                conn.commit()
                # Rows: one transaction, FK checks off (cycles and any order load), validated below.
                if job.if_exists == "truncate":
                    for name in reversed(job.kept):
                        job.step = f"emptying table {name!r}"
                        run(sa.delete(keyed.tables[name]))  # DELETE, unlike TRUNCATE, can roll back
                inserts = {name: _positional_insert(keyed.tables[name], dialect) for name in job.order}
                for name, table, frame in job.loads():
                    mysql_insert(cur, inserts[name], table, frame)
                check_foreign_keys(conn, job.schema, job)
                job.step = "committing"
                raw.commit()
                committed = True
                # Declare the FKs of the new tables. The rows were just validated by the anti-joins
                # above, so checks stay off: MariaDB then adds the key in place instead of copying
                # the whole table to re-validate it.
                add_constraints(conn, full, created, job, ("foreign_key",))
            except BaseException as exc:
                # The rows went through the raw connection, so roll back there: SQLAlchemy may not
                # know a transaction is open.
                with contextlib.suppress(Exception):
                    raw.rollback()
                with contextlib.suppress(Exception):
                    conn.rollback()
                undo = _mysql_drop(conn, keyed, created)
                notes = []
                if created:
                    notes.append(
                        f"dropped the {len(created)} table(s) this run created" if undo else
                        f"could not drop the table(s) it created ({', '.join(created)}); drop them by hand"
                    )
                if dropped:
                    notes.append(f"the replaced table(s) {', '.join(dropped)} were already dropped (MySQL DDL cannot roll back)")
                if job.kept:
                    notes.append(
                        f"rows added to existing table(s) {', '.join(job.kept)} were already committed" if committed
                        else "rows in existing tables were rolled back"
                    )
                note = "; ".join(notes) or "nothing was written"
                if isinstance(exc, SinkError) and not isinstance(exc, TargetNotEmptyError):
                    raise SinkError(f"writing to {job.label} failed: {exc}; {note}") from None
                if isinstance(exc, sa.exc.DBAPIError) or _is_driver_error(exc):
                    raise SinkError(
                        f"writing to {job.label} failed while {job.step}: {db_error_line(exc, job.engine.url.password)}; {note}"
                    ) from None
                # Ctrl-C or an unexpected error: it propagates as it is, so say here what was undone.
                log.warning("writing to %s stopped while %s: %s", job.label, job.step, note)
                raise


#: Strict: a value that does not fit is an error, not a silent truncation with a warning.
_MYSQL_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"


@contextlib.contextmanager
def mysql_session(cur: Any, **settings: int | str) -> Iterator[None]:
    """Run the block with the MariaDB/MySQL session a load needs on the DB-API cursor ``cur``:
    strict ``sql_mode``, INSERT batches as big as ``max_allowed_packet`` allows, and ``settings``
    (session variables, e.g. ``foreign_key_checks=0``); the old values are restored after."""
    names = ["sql_mode", *settings]
    cur.execute("SELECT " + ", ".join(f"@@SESSION.{n}" for n in names) + ", @@SESSION.max_allowed_packet")
    *old, packet = cur.fetchone()
    values = {"sql_mode": _MYSQL_SQL_MODE, **settings}
    cur.execute("SET SESSION " + ", ".join(f"{n} = %s" for n in values), tuple(values.values()))
    if hasattr(cur, "max_stmt_length"):
        # PyMySQL packs rows into INSERT statements of up to this many bytes (default 1 MB).
        cur.max_stmt_length = max(1 << 20, min(int(packet) - (64 << 10), 8 << 20))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            cur.execute("SET SESSION " + ", ".join(f"{n} = %s" for n in names), tuple(old))


def mysql_insert(cur: Any, statement: str, table: Table, frame: pd.DataFrame) -> None:
    """INSERT the rows of ``frame`` (in its target form) into ``table`` over the DB-API cursor
    ``cur`` (in :func:`mysql_session`): ``executemany`` of ``statement`` (:func:`_positional_insert`,
    which PyMySQL sends as multi-row INSERTs), :data:`CHUNK_ROWS` rows at a time."""
    for chunk in _chunks(frame):
        cur.executemany(statement, list(zip(*python_columns(chunk, table))))


def check_foreign_keys(conn: sa.Connection, schema: Schema, job: Any,
                       where: Mapping[str, str] | None = None) -> None:
    """Raise SinkError for the first foreign key of ``schema`` that some rows break (anti-joins,
    :func:`~relsynth.sinks.integrity.fk_violations`; the rows were loaded with checks off).
    ``where``: the database each table is read from (default: the connection's);
    ``job.step`` says which key is being checked."""
    started = time.perf_counter()
    for table in schema.tables.values():
        for fk in table.foreign_keys:
            job.step = f"checking foreign key {table.name}.{fk.label}"
            bad = fk_violations(conn, table, fk, where)
            if bad:
                raise SinkError(f"{bad} row(s) of {table.name!r} have {fk.label} values with no parent row")
    log.info("checked foreign keys in %.2fs", time.perf_counter() - started)


def _positional_insert(table: sa.Table, dialect: sa.Dialect) -> str:
    """``INSERT ... VALUES (%s, ...)`` in column order, quoted (and %-escaped) by the dialect.

    The engine's own paramstyle may be named (``%(x)s``); rows are tuples, and PyMySQL only
    batches statements whose VALUES clause it recognises, which ``%s`` always is.
    """
    positional: sa.Dialect = type(dialect)(paramstyle="format")  # type: ignore[call-arg]
    compiled = table.insert().compile(dialect=positional)
    assert list(compiled.positiontup or []) == [c.name for c in table.columns]
    return str(compiled)


def _mysql_drop(conn: sa.Connection, md: sa.MetaData, names: list[str]) -> bool:
    try:
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
        for name in reversed(names):
            conn.execute(sa.schema.DropTable(md.tables[name], if_exists=True))
        conn.commit()
        return True
    except Exception as exc:  # noqa: BLE001 - reported in the error message
        log.error("could not drop tables after a failed load: %s", db_error_line(exc, conn.engine.url.password))
        return False


def _is_driver_error(exc: BaseException) -> bool:
    """True for a DB-API error raised by a driver called directly (not wrapped by SQLAlchemy)."""
    return any(k.__name__ in ("Error", "DatabaseError") and k.__module__.split(".")[0] in ("pymysql", "MySQLdb",
               "psycopg", "sqlite3") for k in type(exc).__mro__)


# ---------------------------------------------------------------------------- front door


def write(
    tables: Mapping[str, pd.DataFrame] | Iterable[tuple[str, pd.DataFrame]],
    target: str | sa.Engine,
    schema: Schema,
    if_exists: IfExists = "fail",
    order: list[str] | None = None,
    int_bounds: Mapping[tuple[str, str], int] | None = None,
    expected_rows: int | None = None,
) -> dict[str, int]:
    """Create ``schema``'s tables in ``target`` and bulk-load ``tables`` into them, parents first.

    Nothing is written until every check has passed (frames match the schema, the target is
    reachable and, with ``if_exists="fail"``, holds none of the tables). SQLite and PostgreSQL
    load in one transaction, so a failed load leaves the target as it was; on MySQL/MariaDB the
    tables this call created are dropped again.

    Args:
        tables: One DataFrame per schema table, columns as in the schema (any order), dtypes by
            column kind (see the sampler's frame convention; compatible dtypes are converted).
            Or an iterable of ``(table, frame)`` pieces (:class:`relsynth.sampling.relational.
            SampleStream`), loaded as they come, so the output never exists whole in memory; a
            table with no piece is created empty. Types are chosen from each table's first piece
            (and ``int_bounds``; SQLite's types do not depend on the rows, so there loading
            starts with the first piece); a bad piece fails the load, which is then rolled back.
        target: Database URL (``sqlite:///file.db``, ``postgresql://…``, ``mysql://…``,
            ``mariadb://…``) or an SQLAlchemy engine. A SQLite file is created if absent.
        schema: Tables, columns, keys and constraints to create.
        if_exists: ``fail`` (default) refuses a target that already has any of the tables;
            ``replace`` drops and recreates them; ``truncate`` empties and reuses them;
            ``append`` inserts into them. Missing tables are created in every mode.
        order: Parent-first load order of all the schema's tables; when None, the order of
            :func:`relsynth.plan.make_plan`.
        int_bounds: Largest absolute value each ``(table, column)`` integer column may get in
            later pieces (new keys numbered on), so its type is wide enough from the start.
        expected_rows: Rows the pieces of a stream are expected to hold in all (a hint: a
            large load hands work to a process of its own, :data:`WRITER_PROCESS_ROWS` and
            :data:`FORMATTER_PROCESS_ROWS`).

    Returns:
        Rows written per table.

    Raises:
        TargetNotEmptyError: ``if_exists="fail"`` and some of the tables exist.
        SinkError: A frame does not match the schema, the target cannot be reached, or the load
            failed (the message says what was rolled back).
        MissingExtraError: The database driver is not installed.
        ConfigError: ``if_exists`` or ``order`` is invalid.
    """
    if if_exists not in IF_EXISTS:
        raise ConfigError(
            f"if_exists={if_exists!r} is not valid{did_you_mean(str(if_exists), IF_EXISTS)}; use one of: {', '.join(IF_EXISTS)}"
        )
    load_sequence = _check_order(schema, order)
    if isinstance(tables, Mapping):
        frames = _check_frames(tables, schema)
        first = frames
        pieces: Iterator[tuple[str, pd.DataFrame]] = ((n, frames[n]) for n in load_sequence)
        expected_rows = sum(len(f) for f in frames.values())
    engine, owned = open_engine(target)
    formatter = None
    try:
        label = mask_url(engine)
        loader = LOADERS.get(engine.dialect.name)
        if loader is None:
            raise SinkError(
                f"no writer for {engine.dialect.name!r} targets ({label}); supported: {', '.join(sorted(LOADERS))}"
            )
        existing = _existing_tables(engine, schema, if_exists, label)
        # Started before the first pieces are drawn: its imports overlap the drawing.
        formatter = _formatter(engine, expected_rows)
        if not isinstance(tables, Mapping):
            if engine.dialect.name == "sqlite":
                # SQLite's types do not depend on the rows (INTEGER is 64-bit, NUMERIC holds any
                # precision), so its tables are created and loaded while the first pieces are
                # still being drawn, not after them.
                first, pieces = {}, ((name, check_frame(name, frame, schema)) for name, frame in tables)
            else:
                first, pieces = _first_pieces(iter(tables), schema)
        ddl = TargetDDL(schema, engine.dialect.name, first, int_bounds=int_bounds)
        job = LoadJob(
            engine=engine,
            schema=schema,
            pieces=pieces,
            order=load_sequence,
            if_exists=if_exists,
            existing=existing,
            ddl=ddl,
            label=label,
            expected_rows=expected_rows,
            streamed=not isinstance(tables, Mapping),
            formatter=formatter,
        )
        started = time.perf_counter()
        try:
            loader(job)
        except SinkError:
            raise
        except (sa.exc.DBAPIError, sa.exc.StatementError) as exc:
            raise SinkError(
                f"writing to {label} failed while {job.step}: {db_error_line(exc, engine.url.password)}; "
                "the target was left unchanged (rolled back)"
            ) from None
        except Exception as exc:
            if _is_driver_error(exc):
                raise SinkError(
                    f"writing to {label} failed while {job.step}: {db_error_line(exc, engine.url.password)}; "
                    "the target was left unchanged (rolled back)"
                ) from None
            raise
        total = sum(job.written.values())
        secs = time.perf_counter() - started
        log.info("wrote %d rows to %d tables of %s in %.2fs (%.0f rows/s)", total, len(schema.tables), label, secs,
                 total / max(secs, 1e-9))
        return {name: job.written.get(name, 0) for name in schema.tables}
    finally:
        if formatter is not None:
            formatter.close()
        if owned:
            engine.dispose()


def _first_pieces(stream: Iterator[tuple[str, pd.DataFrame]], schema: Schema,
                  ) -> tuple[dict[str, pd.DataFrame], Iterator[tuple[str, pd.DataFrame]]]:
    """Pull pieces until every table has shown one (or the stream ends): the target's types are
    chosen from them. Returns those first frames and every piece, checked, in stream order."""
    head: list[tuple[str, pd.DataFrame]] = []
    first: dict[str, pd.DataFrame] = {}
    for name, frame in stream:
        frame = check_frame(name, frame, schema)
        head.append((name, frame))
        first.setdefault(name, frame)
        if len(first) == len(schema.tables):
            break
    rest = ((name, check_frame(name, frame, schema)) for name, frame in stream)
    return first, itertools.chain(head, rest)


def _existing_tables(engine: sa.Engine, schema: Schema, if_exists: IfExists, label: str) -> set[str]:
    """Schema tables already in the target; raises for ``fail``; checks columns for reuse."""
    inspector = sa.inspect(engine)
    present = {n: n for n in inspector.get_table_names()}
    folded = _case_insensitive_names(engine)
    if folded:
        # SQLite (and MySQL with lower_case_table_names) treat "Customer" and "customer" as one
        # table: CREATE would collide, DROP/DELETE reach it under either spelling.
        present = {n.casefold(): n for n in present}
        existing = {n for n in schema.tables if n.casefold() in present}
    else:
        existing = {n for n in schema.tables if n in present}
    if existing and if_exists == "fail":
        names = ", ".join(n for n in schema.tables if n in existing)
        raise TargetNotEmptyError(
            f"target {label} already has tables {names}; pass --if-exists truncate|append|replace "
            "or choose an empty database"
        )
    if if_exists in ("truncate", "append"):
        for name in schema.tables:
            if name not in existing:
                continue
            actual = present[name.casefold()] if folded else name
            have = {c["name"] for c in inspector.get_columns(actual)}
            if engine.dialect.name in ("sqlite", "mysql", "mariadb"):
                have |= {c.casefold() for c in have}  # column names are case-insensitive there
                lacking = [c for c in schema.tables[name].column_names if c.casefold() not in have]
            else:
                lacking = [c for c in schema.tables[name].column_names if c not in have]
            if lacking:
                raise SinkError(
                    f"existing table {name!r} in {label} lacks column(s) {', '.join(lacking)}; "
                    "use --if-exists replace to recreate it"
                )
    return existing


def _case_insensitive_names(engine: sa.Engine) -> bool:
    if engine.dialect.name == "sqlite":
        return True
    if engine.dialect.name in ("mysql", "mariadb"):
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT @@lower_case_table_names").scalar() or 0) != 0
    return False
