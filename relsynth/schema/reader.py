"""Read a schema and its rows from a database, without ever writing to it.

:func:`connect` opens SQLite files read-only (and refuses paths that do not exist, which
SQLAlchemy would silently create), PostgreSQL sessions with ``default_transaction_read_only``
and MySQL/MariaDB sessions with ``SET SESSION TRANSACTION READ ONLY``. :func:`read_schema`
reflects tables, columns (mapped onto portable kinds), keys, UNIQUE and CHECK constraints and
row counts; :func:`read_tables` returns the rows in the frame convention (see
:mod:`relsynth.schema.frames`), through ``COPY ... TO STDOUT`` on PostgreSQL.

Kind mapping decisions worth knowing:

* ``NUMERIC(p, 0)`` stays ``decimal`` with scale 0 (values travel as float64, exact to 2**53);
  it is not turned into ``integer`` because its precision may exceed 64 bits.
* Integer precision follows the declared type (SMALLINT 16, INTEGER 32, BIGINT 64), on SQLite
  too; unsigned MySQL INT is 64.
* MySQL ``TINYINT(1)`` and ``BIT(1)`` are ``boolean``; wider ``BIT`` is ``integer``; MariaDB
  LONGTEXT columns with a ``json_valid()`` check are ``json`` (the check is then dropped).
* ``autoincrement`` is set for PostgreSQL serial/identity columns, MySQL AUTO_INCREMENT and
  SQLite columns declared with the AUTOINCREMENT keyword, not for plain rowid aliases.
* PostgreSQL domains map through their base type and contribute their CHECKs to the table;
  declarative partitions are skipped (their rows are read through the partitioned parent),
  while legacy inheritance children are tables of their own (parents are read with ONLY).
* Types that a kind does not capture are also recorded as ``Column.native_type``, which a
  target of the same dialect family declares as it is: PostgreSQL enums (by name), domains over
  a plain type (with base type and every CHECK, in ``Column.domain``), arrays of numbers,
  booleans, text and uuids (with ``element_kind``), tsvector, xml, inet, cidr, macaddr(8),
  interval and money; MySQL SET, YEAR, BIT(n > 1) and unsigned integers. Arrays, tsvector,
  xml, network types and intervals are kind ``string`` holding PostgreSQL's text form; other
  PostgreSQL types (ranges, bit strings, geometric, extension types) are plain text.
* SQLite declared types are affinities: a column whose values do not fit its declared kind is
  read as ``string`` and a ``VARCHAR(n)`` holding longer text gets its longest value's length
  (:func:`read_tables` changes the schema's column in place and warns).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import logging
import queue
import re
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from relsynth.errors import (
    ConfigError,
    RelsynthError,
    SchemaError,
    SelectionError,
    SourceError,
    did_you_mean,
)
from relsynth.schema.frames import coerce_frame, coerce_series, empty_frame
from relsynth.schema.model import (
    CheckConstraint,
    Column,
    ForeignKey,
    Schema,
    Table,
    UniqueConstraint,
    check_selection,
)
from relsynth.transform.native import native_style
from relsynth.urls import SUPPORTED_URLS, db_error_line, mask_url, normalize_url, require_driver

__all__ = ["connect", "mask_url", "read_schema", "read_tables", "sqlite_check_constraints"]

log = logging.getLogger("relsynth")

# --------------------------------------------------------------------------------------------
# engines


def connect(url: str | sa.Engine, read_only: bool = True) -> sa.Engine:
    """Create an engine for ``url`` and check that the database answers.

    PostgreSQL URLs use psycopg 3 and plain ``mysql://``/``mariadb://`` URLs PyMySQL (see
    :func:`relsynth.urls.normalize_url`).
    With ``read_only`` (the default), SQLite files are opened in read-only mode and must exist,
    PostgreSQL sessions default to read-only transactions and MySQL/MariaDB sessions run
    ``SET SESSION TRANSACTION READ ONLY``. An engine passed in is returned as it is.

    Args:
        url: Database URL, or an existing engine.
        read_only: Open the source so that nothing can be written through the engine.

    Returns:
        A SQLAlchemy engine.

    Raises:
        SourceError: The SQLite file does not exist, or the server cannot be reached or refuses
            the login (the message shows the URL with its password masked).
        ConfigError: The URL is malformed or names a database relsynth does not know.
        MissingExtraError: The driver for the URL's database is not installed.
    """
    if isinstance(url, sa.Engine):
        return url
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    require_driver(parsed, "reading")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        path = parsed.database or ""
        if read_only and path and path != ":memory:" and not path.startswith("file:"):
            file = Path(path).expanduser()
            if not file.is_file():
                raise SourceError(f"source database file '{path}' does not exist; check the path")
            resolved = file.resolve()
            parsed = parsed.set(database=str(resolved))
            uri = "file:" + _quote_path(resolved) + "?mode=ro"
            kwargs["creator"] = lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    elif backend == "postgresql":
        connect_args: dict[str, Any] = {}
        if read_only:
            options = str(parsed.query.get("options", "")).strip()
            connect_args["options"] = (options + " -c default_transaction_read_only=on").strip()
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = 10
        kwargs["connect_args"] = connect_args
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except sa_exc.NoSuchModuleError:
        raise ConfigError(
            f"unknown database type {parsed.drivername!r} in URL {mask_url(parsed)!r}; use {SUPPORTED_URLS}"
        ) from None
    except ImportError as exc:  # a driver relsynth's extras do not install (require_driver passed)
        raise ConfigError(
            f"the driver for {parsed.drivername!r} cannot be imported ({exc}); install it or use {SUPPORTED_URLS}"
        ) from None
    if read_only and backend in ("mysql", "mariadb"):
        sa.event.listen(engine, "connect", _mysql_read_only)
    try:
        with engine.connect() as conn:
            if backend == "sqlite":
                # Opening a file that is not a database succeeds; the first query fails.
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except sa_exc.DBAPIError as exc:
        engine.dispose()
        hint = ("check that the path is a SQLite database file" if backend == "sqlite"
                else "check host, port, database name, user and password")
        raise SourceError(
            f"cannot connect to {mask_url(parsed)}: {db_error_line(exc, parsed.password)}; {hint}"
        ) from None
    return engine


def _quote_path(path: Path) -> str:
    """Percent-encode a filesystem path for a SQLite ``file:`` URI ('?', '#', '%' are special)."""
    from urllib.parse import quote

    return quote(path.as_posix(), safe="/:")


def _mysql_read_only(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
    finally:
        cursor.close()


@contextmanager
def _source(source: str | sa.Engine) -> Iterator[sa.Engine]:
    """An engine for ``source``; one created here is disposed of afterwards."""
    if isinstance(source, sa.Engine):
        yield source
        return
    engine = connect(source, read_only=True)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _read_only_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside one read-only, snapshot-consistent transaction, rolled back at the end.

    Engines passed in by callers may not be read-only sessions, so the transaction itself is
    declared read-only too; repeatable read keeps parents and children of one snapshot.
    """
    try:
        with engine.connect() as conn:
            _declare_read_only(conn)
            try:
                yield conn
            finally:
                conn.rollback()
    except sa_exc.DBAPIError as exc:
        raise SourceError(f"reading {mask_url(engine)} failed: {db_error_line(exc, engine.url.password)}") from None


def _declare_read_only(conn: sa.Connection) -> None:
    """Make the transaction ``conn`` begins next read-only, repeatable read (where the database has both)."""
    name = conn.dialect.name
    if name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    elif name in ("mysql", "mariadb"):
        try:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        except sa_exc.DBAPIError as exc:  # a transaction already open: the session still is read-only
            log.debug("could not declare the MySQL transaction read-only: %s",
                      db_error_line(exc, conn.engine.url.password))


# --------------------------------------------------------------------------------------------
# SQLite CREATE TABLE scanning (CHECK constraints, AUTOINCREMENT)

# A word starts with A-Z, a-z, _ or any character from U+0080 to U+FFFF, and goes on with those,
# digits and $. The classes are written as what they leave out: spelled as ranges up to U+FFFF,
# they made re build a table of 65,536 characters, 11 ms of every start.
_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<string>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<word>[^\x00-@\[-^`{-\x7f\U00010000-\U0010ffff][^\x00-\#%-/:-@\[-^`{-\x7f\U00010000-\U0010ffff]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _sql_tokens(sql: str) -> list[tuple[str, str, int, int]]:
    """(kind, text, start, end) of each token, skipping blanks and comments; quotes kept whole."""
    tokens = []
    for m in _TOKEN_RE.finditer(sql):
        kind = m.lastgroup or "other"
        if kind not in ("space", "comment"):
            tokens.append((kind, m.group(), m.start(), m.end()))
    return tokens


def _unquote(token: str) -> str:
    if token[:1] in "\"'`" and token[-1:] == token[:1] and len(token) >= 2:
        q = token[0]
        return token[1:-1].replace(q + q, q)
    if token.startswith("[") and token.endswith("]"):
        return token[1:-1]
    return token


def sqlite_check_constraints(create_sql: str) -> list[CheckConstraint]:
    """Every CHECK in a SQLite ``CREATE TABLE`` statement, column-level ones included.

    A token scan (quotes, identifiers and comments are skipped whole) finds each ``CHECK``
    keyword and takes the text up to its balancing parenthesis, so nested parentheses, commas,
    newlines and the word CHECK inside a string or a quoted name do not confuse it.

    Args:
        create_sql: The statement as ``sqlite_master.sql`` stores it.

    Returns:
        The CHECK constraints in the order they appear, named where ``CONSTRAINT name`` precedes.
    """
    tokens = _sql_tokens(create_sql)
    checks = []
    for i, (kind, text, _, _) in enumerate(tokens):
        if kind != "word" or text.upper() != "CHECK" or i + 1 >= len(tokens) or tokens[i + 1][1] != "(":
            continue
        depth, j = 0, i + 1
        while j < len(tokens):
            if tokens[j][0] == "other" and tokens[j][1] == "(":
                depth += 1
            elif tokens[j][0] == "other" and tokens[j][1] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(tokens):
            log.warning("unbalanced CHECK in %r; skipped", create_sql[:80])
            continue
        body = create_sql[tokens[i + 1][3]:tokens[j][2]].strip()
        name = None
        if i >= 2 and tokens[i - 2][0] == "word" and tokens[i - 2][1].upper() == "CONSTRAINT":
            name = _unquote(tokens[i - 1][1])
        checks.append(CheckConstraint(sqltext=body, name=name))
    return checks


def _sqlite_has_autoincrement(create_sql: str) -> bool:
    return any(k == "word" and t.upper() == "AUTOINCREMENT" for k, t, _, _ in _sql_tokens(create_sql))


# --------------------------------------------------------------------------------------------
# type mapping


def _int_bits(type_: Any) -> int:
    name = type(type_).__name__.upper()
    unsigned = bool(getattr(type_, "unsigned", False))
    if isinstance(type_, sa.BigInteger) or name == "BIGINT":
        return 64
    if isinstance(type_, sa.SmallInteger) or name in ("SMALLINT", "TINYINT"):
        return 32 if unsigned else 16
    if name == "MEDIUMINT":
        return 32
    return 64 if unsigned else 32


# _Binary is the common base of LargeBinary/BLOB/BYTEA and BINARY/VARBINARY/MySQL *BLOB types.
_BINARY_TYPES = (getattr(sa.types, "_Binary", sa.LargeBinary), sa.LargeBinary, sa.BINARY, sa.VARBINARY)


def _kind_of(type_: Any) -> dict[str, Any]:
    """Column attributes (kind, length, precision, scale, timezone, enum_values) for a SQLAlchemy type."""
    name = type(type_).__name__.upper()
    if name == "DOMAIN" and getattr(type_, "data_type", None) is not None:
        return _kind_of(type_.data_type)
    if isinstance(type_, sa.ARRAY):
        return {"kind": "string"}
    if isinstance(type_, sa.Boolean):
        return {"kind": "boolean"}
    if name == "TINYINT" and getattr(type_, "display_width", None) == 1:
        return {"kind": "boolean"}
    if name == "BIT" and hasattr(type_, "length") and not hasattr(type_, "varying"):
        # MySQL BIT(n); PostgreSQL BIT has a "varying" attribute and stays text.
        return {"kind": "boolean"} if (type_.length or 1) == 1 else {"kind": "integer", "precision": 64}
    if name == "YEAR":
        return {"kind": "integer", "precision": 16}
    if isinstance(type_, sa.Integer):
        return {"kind": "integer", "precision": _int_bits(type_)}
    if isinstance(type_, sa.Float):
        return {"kind": "float"}
    if isinstance(type_, sa.Numeric):
        return {"kind": "decimal", "precision": type_.precision, "scale": type_.scale}
    if name == "MONEY":
        return {"kind": "decimal", "precision": 19, "scale": 2}
    if name == "SET" and getattr(type_, "values", None):
        # MySQL SET: its text form joins members with commas; SQLAlchemy's length is one member's.
        return {"kind": "string", "length": len(",".join(type_.values))}
    if isinstance(type_, sa.Enum):
        return {"kind": "string", "enum_values": [str(v) for v in type_.enums]}
    if isinstance(type_, sa.Uuid):
        return {"kind": "uuid"}
    if isinstance(type_, sa.JSON):
        return {"kind": "json"}
    if isinstance(type_, sa.String):
        return {"kind": "string", "length": type_.length}
    if isinstance(type_, sa.DateTime):
        return {"kind": "datetime", "timezone": bool(getattr(type_, "timezone", False))}
    if isinstance(type_, sa.Date):
        return {"kind": "date"}
    if isinstance(type_, sa.Time):
        return {"kind": "time"}
    if isinstance(type_, _BINARY_TYPES) or name in ("BYTEA", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB"):
        return {"kind": "binary", "length": getattr(type_, "length", None)}
    # XML, intervals, network types, ranges, tsvector, NullType, ...: kept as their text form.
    return {"kind": "string"}


_SQLITE_NAMES: dict[str, dict[str, Any]] = {
    "UUID": {"kind": "uuid"},
    "GUID": {"kind": "uuid"},
    "UNIQUEIDENTIFIER": {"kind": "uuid"},
    "JSON": {"kind": "json"},
    "JSONB": {"kind": "json"},
    "MONEY": {"kind": "decimal", "precision": 19, "scale": 4},
    "SMALLMONEY": {"kind": "decimal", "precision": 10, "scale": 4},
    "DATETIME2": {"kind": "datetime"},
    "SMALLDATETIME": {"kind": "datetime"},
    "DATETIMEOFFSET": {"kind": "datetime", "timezone": True},
    "TIMESTAMPTZ": {"kind": "datetime", "timezone": True},
    "XML": {"kind": "string"},
}


def _sqlite_kind(declared: str, type_: Any) -> dict[str, Any]:
    """Kind of a SQLite column from its declared type text.

    SQLAlchemy falls back to SQLite's affinity rules for names it does not know, which turns a
    "UUID" or "DATETIME2" column into NUMERIC; known extra names and a text fallback avoid that.
    """
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    base = re.sub(r"\(.*", "", declared).strip().upper()
    if not base:
        return {"kind": "string"}  # untyped column: values of any storage class, read as text
    if base in SQLiteDialect.ischema_names:
        return _kind_of(type_)
    if base in _SQLITE_NAMES:
        return dict(_SQLITE_NAMES[base])
    if "INT" in base:
        return {"kind": "integer", "precision": 64}
    if any(w in base for w in ("CHAR", "CLOB", "TEXT")):
        return {"kind": "string"}
    if "BLOB" in base or "BINARY" in base:
        return {"kind": "binary"}
    if any(w in base for w in ("REAL", "FLOA", "DOUB")):
        return {"kind": "float"}
    if any(w in base for w in ("NUM", "DEC")):
        return _kind_of(type_) if isinstance(type_, sa.Numeric) else {"kind": "decimal"}
    if "TIMESTAMP" in base or "DATETIME" in base:
        return {"kind": "datetime"}
    if "DATE" in base:
        return {"kind": "date"}
    if "BOOL" in base:
        return {"kind": "boolean"}
    return {"kind": "string"}


def _type_text(type_: Any, dialect: sa.Dialect) -> str | None:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - NullType and exotic types cannot be compiled
        return None


# --------------------------------------------------------------------------------------------
# read_schema


def read_schema(
    source: str | sa.Engine,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    schema_name: str | None = None,
) -> Schema:
    """Reflect the tables of a database into a :class:`~relsynth.schema.model.Schema`.

    Views, SQLite's internal tables and PostgreSQL partitions (read through their parent) are
    left out. Each column gets a portable kind, nullability, its source type text and whether
    the database generates it; each table its ordered primary key, foreign keys (composite ones
    as ordered column lists), UNIQUE constraints and unique indexes (deduplicated, without the
    primary key), CHECK constraints and ``COUNT(*)``.

    Args:
        source: Database URL or engine.
        include: Only these tables (default: all).
        exclude: Leave out these tables.
        schema_name: Database schema to read (default: the connection's default, e.g. ``public``).

    Returns:
        The schema, with ``dialect`` set to the source's SQLAlchemy dialect name.

    Raises:
        SchemaError: The source has no tables, a named table does not exist, or a foreign key
            points at a table the selection leaves out.
        SourceError: The source cannot be reached or read.
    """
    with _source(source) as engine, _read_only_connection(engine) as conn, warnings.catch_warnings():
        # SQLAlchemy warns about every type it does not know (xml, tsvector, ...); those map to
        # "string" on purpose, so the warnings are noise here.
        warnings.simplefilter("ignore", sa_exc.SAWarning)
        insp = sa.inspect(conn)
        dialect = conn.dialect.name
        pg = _pg_catalog(conn, schema_name or insp.default_schema_name) if dialect == "postgresql" else {}
        names = sorted(insp.get_table_names(schema=schema_name))
        if pg:
            names = [n for n in names if not pg.get(n, {}).get("partition")]
        where = f" in schema {schema_name!r}" if schema_name else ""
        if not names:
            raise SchemaError(f"source {mask_url(engine)} has no tables{where}; "
                              "point relsynth at a database that holds the tables to copy")
        for name in (include or []) + (exclude or []):
            if name not in names:
                raise SelectionError(f"no table {name!r} in the source{where}{did_you_mean(name, names)}; "
                                     f"tables are: {', '.join(names)}")
        selected = [n for n in names if (include is None or n in include) and n not in (exclude or [])]
        if not selected:
            check_selection({})  # raises: the selection is empty
        tables = _reflect(conn, insp, selected, schema_name, pg)
        check_selection(tables)
        schema = Schema(tables, dialect=dialect)
    log.info("read schema of %d tables", len(tables))
    return schema


def _pg_rows(conn: sa.Connection, query: str, schema: str | None) -> list[Any]:
    """Rows of a catalog query about the PostgreSQL schema ``:schema`` (default ``public``)."""
    return list(conn.execute(sa.text(query), {"schema": schema or "public"}).fetchall())


def _pg_catalog(conn: sa.Connection, schema: str | None) -> dict[str, dict[str, Any]]:
    """Per table: relkind, whether it is a partition, and each column's ``format_type`` text."""
    rows = _pg_rows(
        conn,
        "SELECT c.relname, c.relkind, c.relispartition, a.attname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')",
        schema,
    )
    info: dict[str, dict[str, Any]] = {}
    for relname, relkind, partition, attname, type_text in rows:
        entry = info.setdefault(relname, {"relkind": relkind, "partition": bool(partition), "types": {}})
        if attname is not None:
            entry["types"][attname] = type_text
    return info


def _reflect(
    conn: sa.Connection,
    insp: sa.Inspector,
    names: list[str],
    schema_name: str | None,
    pg: dict[str, dict[str, Any]],
) -> dict[str, Table]:
    dialect = conn.dialect.name
    key = {n: (schema_name, n) for n in names}
    columns = insp.get_multi_columns(schema=schema_name, filter_names=names)
    pks = insp.get_multi_pk_constraint(schema=schema_name, filter_names=names)
    fks = insp.get_multi_foreign_keys(schema=schema_name, filter_names=names)
    try:
        uniques = insp.get_multi_unique_constraints(schema=schema_name, filter_names=names)
    except NotImplementedError:
        uniques = {}
    indexes = insp.get_multi_indexes(schema=schema_name, filter_names=names)
    if dialect == "sqlite":
        checks = {key[n]: [] for n in names}  # parsed from the CREATE text below
    elif dialect in ("mysql", "mariadb"):
        checks = _mysql_checks(conn, names, schema_name) or _sa_checks(insp, names, schema_name)
    else:
        checks = _sa_checks(insp, names, schema_name)

    domains = _pg_domains(conn, schema_name or insp.default_schema_name) if dialect == "postgresql" else {}
    tables = {}
    for name in names:
        k = key[name]
        cols_info = columns.get(k, [])
        pk = list((pks.get(k) or {}).get("constrained_columns") or [])
        table_checks = [CheckConstraint(sqltext=str(c["sqltext"]), name=c.get("name")) for c in checks.get(k, [])]
        create_sql = ""
        declared: dict[str, str] = {}
        if dialect == "sqlite":
            create_sql, declared = _sqlite_table_info(conn, name, schema_name)
            table_checks = sqlite_check_constraints(create_sql)
        cols = []
        json_cols = _json_valid_columns(table_checks) if dialect in ("mysql", "mariadb") else set()
        if json_cols:
            table_checks = [c for c in table_checks if not _is_json_valid_check(c.sqltext)]
        for info in cols_info:
            col, extra_checks = _column(info, conn.dialect, pg.get(name, {}).get("types", {}), declared,
                                        json_cols, domains)
            cols.append(col)
            table_checks += extra_checks
        if dialect == "sqlite" and len(pk) == 1 and _sqlite_has_autoincrement(create_sql):
            for col in cols:
                if col.name == pk[0] and col.kind == "integer":
                    col.autoincrement = True
        for col in cols:
            if col.name in pk:
                col.nullable = False
        table = Table(
            name=name,
            columns=cols,
            primary_key=pk,
            foreign_keys=_foreign_keys(name, fks.get(k, []), names, schema_name, insp, dialect),
            unique=_uniques(uniques.get(k, []), indexes.get(k, []), pk, conn, name, schema_name),
            checks=table_checks,
        )
        tables[name] = table
    for name, table in tables.items():
        table.row_count = _count(conn, name, schema_name, pg.get(name, {}).get("relkind"))
    return tables


def _column(
    info: dict[str, Any],
    dialect: sa.Dialect,
    pg_types: dict[str, str],
    sqlite_declared: dict[str, str],
    json_cols: set[str],
    domains: dict[str, dict[str, Any]],
) -> tuple[Column, list[CheckConstraint]]:
    name = info["name"]
    type_ = info["type"]
    checks: list[CheckConstraint] = []
    if dialect.name == "sqlite":
        attrs = _sqlite_kind(sqlite_declared.get(name, ""), type_)
        sql_type = sqlite_declared.get(name) or None
    else:
        attrs = _kind_of(type_)
        sql_type = pg_types.get(name) or _type_text(type_, dialect)
    if name in json_cols:
        attrs = {"kind": "json"}
    nullable = bool(info.get("nullable", True))
    if type(type_).__name__ == "DOMAIN":
        if getattr(type_, "not_null", False):
            nullable = False
        if getattr(type_, "check", None) is not None:
            # Domain checks speak of VALUE; as a table CHECK they speak of the column.
            text = re.sub(r"\bVALUE\b", dialect.identifier_preparer.quote(name), str(type_.check))
            checks.append(CheckConstraint(sqltext=text, name=getattr(type_, "constraint_name", None)))
    if sql_type and sql_type.lower() == "money":
        attrs = {"kind": "decimal", "precision": 19, "scale": 2}
    if dialect.name == "postgresql":
        attrs.update(_pg_native(type_, sql_type, domains))
        if "domain" in attrs:
            attrs.update(_typmod_attrs(attrs["kind"], attrs["domain"]["base"]))
    elif dialect.name in ("mysql", "mariadb") and attrs["kind"] != "boolean" and name not in json_cols:
        attrs.update(_mysql_native(type_, sql_type))
    autoincrement = False
    if dialect.name != "sqlite":
        default = str(info.get("default") or "")
        autoincrement = bool(info.get("identity")) or default.startswith("nextval(") or (
            dialect.name in ("mysql", "mariadb") and info.get("autoincrement") is True
        )
    return Column(name=name, nullable=nullable, sql_type=sql_type, autoincrement=autoincrement, **attrs), checks


def _pg_domains(conn: sa.Connection, schema: str | None) -> dict[str, dict[str, Any]]:
    """Each domain of ``schema``: base type text (with its length/precision), NOT NULL, every CHECK.

    SQLAlchemy's reflection strips the base type's arguments and keeps one CHECK only.
    """
    rows = _pg_rows(
        conn,
        "SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, c.conname, "
        "pg_get_constraintdef(c.oid, true) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_constraint c ON c.contypid = t.oid AND c.contype = 'c' "
        "WHERE t.typtype = 'd' AND n.nspname = :schema ORDER BY t.typname, c.conname",
        schema,
    )
    out = {row[0]: {"base": row[1], "not_null": bool(row[2]), "checks": []} for row in rows}
    # One row per CHECK (or one row with NULLs for a domain without any).
    checks = [(row[0], row[3], row[4]) for row in rows if row[3] is not None]
    for typname, conname, condef in checks:
        body = re.sub(r"^\s*CHECK\s*\((.*)\)\s*$", r"\1", condef, flags=re.DOTALL | re.IGNORECASE)
        out[typname]["checks"].append([conname, body])
    return out


def _pg_native(type_: Any, type_text: str | None, domains: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``native_type`` (and ``element_kind``/``domain``) of a PostgreSQL column, where relsynth keeps it.

    Kept: enums (by name), domains over a plain type (the domain is recreated with its CHECKs),
    arrays of numbers, booleans, text and uuids, tsvector, xml, inet, cidr, macaddr(8), interval
    and money. Everything else is written as its kind's type (text for the rest).
    """
    if type(type_).__name__ == "DOMAIN":
        domain = domains.get(type_.name)
        if domain is None:
            return {}
        inner = _pg_native(type_.data_type, domain["base"], domains)
        if inner:  # a domain over an enum or an array: keep the base type, not the domain
            return inner
        return {"native_type": type_.name, "domain": dict(domain)}
    if isinstance(type_, sa.ARRAY):
        item = type_.item_type
        element = _kind_of(item)
        if type(item).__name__ in ("DOMAIN", "ENUM") or element.get("enum_values"):
            return {}
        if native_style(type_text, element["kind"]) is None:
            return {}
        return {"native_type": type_text, "element_kind": element["kind"]}
    if isinstance(type_, sa.Enum):
        return {"native_type": type_.name} if getattr(type_, "name", None) else {}
    if type_text and (type_text.lower() == "money" or native_style(type_text) is not None):
        return {"native_type": type_text}
    return {}


def _typmod_attrs(kind: str, base: str) -> dict[str, Any]:
    """Length/precision/scale from a domain's base type text (``numeric(10,2)``, ``varchar(30)``)."""
    m = re.search(r"\(([\d\s,]+)\)", base)
    if not m:
        return {}
    args = [int(a) for a in m.group(1).split(",") if a.strip()]
    if kind == "decimal" and len(args) == 2:
        return {"precision": args[0], "scale": args[1]}
    if kind == "string" and len(args) == 1:
        return {"length": args[0]}
    return {}


def _mysql_native(type_: Any, type_text: str | None) -> dict[str, Any]:
    """``native_type`` of a MySQL/MariaDB column kept on MySQL targets: SET, YEAR, BIT(n), unsigned ints."""
    name = type(type_).__name__.upper()
    if not type_text:
        return {}
    if name in ("SET", "YEAR") or (name == "BIT" and (getattr(type_, "length", 1) or 1) > 1):
        return {"native_type": type_text}
    if isinstance(type_, sa.Integer) and getattr(type_, "unsigned", False):
        return {"native_type": type_text}
    return {}


def _sqlite_table_info(conn: sa.Connection, name: str, schema_name: str | None) -> tuple[str, dict[str, str]]:
    """CREATE TABLE text and each column's declared type of a SQLite table."""
    q = conn.dialect.identifier_preparer.quote_identifier
    prefix = f"{q(schema_name)}." if schema_name else ""
    sql = conn.exec_driver_sql(
        f"SELECT sql FROM {prefix}sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).scalar() or ""
    declared = {row[1]: row[2] or "" for row in conn.exec_driver_sql(f"PRAGMA {prefix}table_info({q(name)})")}
    return sql, declared


def _sa_checks(insp: sa.Inspector, names: list[str], schema_name: str | None) -> dict[Any, list[dict[str, Any]]]:
    try:
        return insp.get_multi_check_constraints(schema=schema_name, filter_names=names)
    except NotImplementedError:
        return {}


def _mysql_checks(conn: sa.Connection, names: list[str], schema_name: str | None) -> dict[Any, list[dict[str, Any]]]:
    """CHECKs from MariaDB's information_schema, which has column-level ones SQLAlchemy misses.

    MySQL 8's CHECK_CONSTRAINTS has no TABLE_NAME column; the query then fails and the caller
    falls back to SQLAlchemy (MySQL lists every CHECK at table level, where SQLAlchemy sees it).
    """
    try:
        rows = conn.execute(
            sa.text(
                "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE()) ORDER BY TABLE_NAME, CONSTRAINT_NAME"
            ),
            {"schema": schema_name},
        ).fetchall()
    except sa_exc.DBAPIError:
        # A failed statement does not end a MySQL transaction, so the read-only snapshot stays.
        return {}
    out: dict[Any, list[dict[str, Any]]] = {(schema_name, n): [] for n in names}
    for table, cname, clause in rows:
        if (schema_name, table) in out:
            out[(schema_name, table)].append({"name": cname, "sqltext": clause})
    return out


_JSON_VALID_RE = re.compile(r"^\s*\(?\s*json_valid\s*\(\s*[`\"]?([^`\"()]+)[`\"]?\s*\)\s*\)?\s*$", re.IGNORECASE)


def _is_json_valid_check(sqltext: str) -> bool:
    return bool(_JSON_VALID_RE.match(sqltext))


def _json_valid_columns(checks: list[CheckConstraint]) -> set[str]:
    """Columns that MariaDB declared JSON (it stores them as LONGTEXT CHECK (json_valid(col)))."""
    return {m.group(1) for c in checks if (m := _JSON_VALID_RE.match(c.sqltext))}


def _foreign_keys(
    name: str,
    fks: list[dict[str, Any]],
    names: list[str],
    schema_name: str | None,
    insp: sa.Inspector,
    dialect: str,
) -> list[ForeignKey]:
    out = []
    lower = {n.lower(): n for n in names}
    for fk in fks:
        ref_schema = fk.get("referred_schema")
        ref = fk["referred_table"]
        if ref_schema not in (None, schema_name):
            raise SchemaError(
                f"foreign key {name}({', '.join(fk['constrained_columns'])}) points at {ref_schema}.{ref}, "
                "outside the schema being read; read that schema instead or drop the key"
            )
        if dialect == "sqlite" and ref not in names and ref.lower() in lower:
            ref = lower[ref.lower()]  # SQLite matches table names case-insensitively
        ref_cols = [c for c in fk.get("referred_columns") or [] if c is not None]
        if not ref_cols and ref in names:
            # SQLite allows "REFERENCES parent" without columns: the parent's primary key.
            ref_cols = list(insp.get_pk_constraint(ref, schema=schema_name).get("constrained_columns") or [])
        out.append(ForeignKey(columns=list(fk["constrained_columns"]), ref_table=ref, ref_columns=ref_cols,
                              name=fk.get("name")))
    return out


def _uniques(
    constraints: list[dict[str, Any]],
    indexes: list[dict[str, Any]],
    pk: list[str],
    conn: sa.Connection,
    table: str,
    schema_name: str | None,
) -> list[UniqueConstraint]:
    candidates: list[tuple[list[str], str | None]] = [
        (list(c["column_names"]), c.get("name")) for c in constraints
    ]
    for ix in indexes:
        opts = ix.get("dialect_options") or {}
        partial = any(k.endswith("_where") and v is not None for k, v in opts.items())
        if ix.get("unique") and not partial:
            candidates.append((list(ix["column_names"]), ix.get("name")))
    if conn.dialect.name == "sqlite":
        candidates += _sqlite_unique_indexes(conn, table, schema_name)
    out: list[UniqueConstraint] = []
    seen = {frozenset(pk)} if pk else set()
    for cols, cname in candidates:
        if not cols or any(c is None for c in cols):  # expression index: not a column set
            continue
        key = frozenset(cols)
        if key in seen:
            continue
        seen.add(key)
        out.append(UniqueConstraint(columns=cols, name=cname))
    return out


def _sqlite_unique_indexes(conn: sa.Connection, table: str, schema_name: str | None) -> list[tuple[list[str], None]]:
    """UNIQUE constraints SQLite keeps only as autoindexes (e.g. inline ``col TEXT UNIQUE``)."""
    q = conn.dialect.identifier_preparer.quote_identifier
    prefix = f"{q(schema_name)}." if schema_name else ""
    out = []
    for row in conn.exec_driver_sql(f"PRAGMA {prefix}index_list({q(table)})").fetchall():
        _, index_name, unique, origin, partial = row[:5]
        if not unique or partial or origin != "u":
            continue
        cols = [r[2] for r in conn.exec_driver_sql(f"PRAGMA {prefix}index_info({q(index_name)})").fetchall()]
        out.append((cols, None))
    return out


def _count(conn: sa.Connection, name: str, schema_name: str | None, relkind: str | None) -> int:
    t = sa.table(name, schema=schema_name)
    stmt = sa.select(sa.func.count()).select_from(t)
    if relkind == "r":
        # Inheritance children are tables of their own; count (and read) the parent's rows only.
        stmt = stmt.with_hint(t, "ONLY", "postgresql")
    return int(conn.execute(stmt).scalar() or 0)


# --------------------------------------------------------------------------------------------
# read_tables


#: Rows per chunk when a table is read through a row filter.
READ_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class RowFilter:
    """Which rows of a table to keep while reading it: ``keep(frame of columns) -> bool mask``.

    The table is then read in chunks of :data:`READ_CHUNK_ROWS`; ``columns`` of each chunk are
    coerced to the frame convention and handed to ``keep``, and only the kept rows are
    converted and held, so memory follows the rows kept, not the table's size.
    """

    columns: list[str]
    keep: Callable[[pd.DataFrame], np.ndarray]
    #: ``(integer column, values, NULLs too)``: every row ``keep`` can keep has one of the
    #: values (or NULL) there, so the query only fetches those rows (an index makes it a few
    #: lookups instead of a scan of the whole table).
    within: tuple[str, np.ndarray, bool] | None = None


def read_tables(
    source: str | sa.Engine,
    schema: Schema,
    tables: list[str] | None = None,
    schema_name: str | None = None,
    *,
    columns: dict[str, list[str]] | None = None,
    filters: dict[str, RowFilter] | None = None,
    limits: dict[str, int] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the rows of ``schema``'s tables into frames in the frame convention.

    All tables are read inside one read-only repeatable-read transaction, so parents and
    children come from the same snapshot. PostgreSQL (psycopg 3) rows travel through
    ``COPY (SELECT ...) TO STDOUT`` in text format; other databases through a plain SELECT.

    Args:
        source: Database URL or engine.
        schema: The schema to read (usually from :func:`read_schema`).
        tables: Only these tables (default: every table of ``schema``), returned in schema order.
        schema_name: Database schema the tables live in (default: the connection's default).
        columns: Per table, only these columns (in schema order); other tables are read whole.
        filters: Per table, the rows to keep (:class:`RowFilter`); other tables are read whole.
        limits: Per table, the most rows to read: the first ones the database returns (a
            ``LIMIT`` in the statement, so no more rows are fetched or scanned than that).

    Returns:
        ``{table name: DataFrame}`` with each table's columns in schema order.

    Raises:
        SchemaError: A name in ``tables`` is not in the schema.
        SourceError: The source cannot be read or a value does not fit its column's kind.
    """
    for name in tables or []:
        schema.table(name)
    names = [n for n in schema.tables if tables is None or n in tables]
    frames: dict[str, pd.DataFrame] = {}
    with _source(source) as engine, _read_only_connection(engine) as conn, _adbc_reader(engine, conn) as arrow:
        use_copy = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
        relkinds = {}
        if conn.dialect.name == "postgresql":
            relkinds = {n: v["relkind"] for n, v in
                        _pg_catalog(conn, schema_name or sa.inspect(conn).default_schema_name).items()}
        reads = []  # per table: (name, its columns, filter, chunk rows, limit)
        for name in names:
            table = schema.tables[name]
            if columns and name in columns:
                wanted = set(columns[name])
                table = replace(table, columns=[c for c in table.columns if c.name in wanted])
            row_filter = (filters or {}).get(name)
            reads.append((name, table, row_filter, READ_CHUNK_ROWS if row_filter else None, (limits or {}).get(name)))
        ahead = None
        if arrow is not None:
            select = _sqlite_select if conn.dialect.name == "sqlite" else _pg_arrow_select
            ahead = _ArrowReads(arrow, [(select(conn, table, schema_name, relkinds.get(name), f.within if f else None, limit)
                                         if table.column_names else None, chunk_rows)
                                        for name, table, f, chunk_rows, limit in reads],
                                batch_rows_option="adbc.sqlite.query.batch_rows" if conn.dialect.name == "sqlite" else None)
        try:
            for i, (name, table, row_filter, chunk_rows, limit) in enumerate(reads):
                frames[name] = _read_one(conn, engine, i, name, table, row_filter, chunk_rows, limit, schema_name,
                                         relkinds, use_copy, ahead)
        finally:
            if ahead is not None:
                ahead.close()
    return frames


def _read_one(conn: sa.Connection, engine: sa.Engine, i: int, name: str, table: Table, row_filter: RowFilter | None,
              chunk_rows: int | None, limit: int | None, schema_name: str | None, relkinds: dict[str, str],
              use_copy: bool, ahead: _ArrowReads | None) -> pd.DataFrame:
    """Table ``name`` of :func:`read_tables` (read ``i``-th), in the frame convention."""
    try:
        within = row_filter.within if row_filter else None
        raw = ahead.frame(i, table, chunk_rows, row_filter) if ahead is not None else None
        if raw is None:
            if use_copy:
                chunks = _read_pg_copy(conn, table, schema_name, relkinds.get(name, "r"), chunk_rows, within, limit)
            else:
                chunks = _read_select(conn, table, schema_name, relkinds.get(name), chunk_rows, within, limit)
            if row_filter:
                raw = _filtered(chunks, table, row_filter)
            else:
                [raw] = list(chunks)  # one frame; list() runs the reader to its end
    except sa_exc.DBAPIError as exc:
        raise SourceError(f"cannot read table {name!r} from {mask_url(engine)}: {db_error_line(exc, engine.url.password)}; "
                          "check that the schema matches the source") from None
    except RelsynthError:
        raise
    except Exception as exc:  # driver errors outside SQLAlchemy (psycopg COPY)
        if type(exc).__module__.split(".")[0] not in ("psycopg", "pymysql", "sqlite3"):
            raise
        raise SourceError(f"cannot read table {name!r} from {mask_url(engine)}: {db_error_line(exc, engine.url.password)}; "
                          "check that the schema matches the source") from None
    frame = _coerce_loose(raw, table) if conn.dialect.name == "sqlite" else coerce_frame(raw, table)
    log.info("read %s: %d rows", name, len(frame))
    return frame


def _coerce_loose(raw: pd.DataFrame, table: Table) -> pd.DataFrame:
    """SQLite rows into the frame convention; a column whose values do not fit its kind becomes text.

    SQLite's declared types are affinities: an INTEGER column may hold "n/a" and a VARCHAR(10)
    column 30 characters. The first is read as ``string``, the second gets the length of its
    longest value (the schema's column is changed in place, with a warning), so the copy keeps
    the values as they are instead of failing or cutting them.
    """
    try:
        frame = coerce_frame(raw, table)
    except SourceError:
        out = {}
        for col in table.columns:
            try:
                out[col.name] = coerce_series(raw[col.name].reset_index(drop=True), col, table.name)
            except SourceError as exc:
                log.warning("%s; SQLite does not enforce declared types, so %s.%s is read as text",
                            str(exc).split("; ")[0], table.name, col.name)
                col.kind, col.length, col.precision, col.scale, col.timezone = "string", None, None, None, False
                out[col.name] = coerce_series(raw[col.name].reset_index(drop=True), col, table.name)
        frame = pd.DataFrame(out, columns=table.column_names, index=pd.RangeIndex(len(raw)))
    for col in table.columns:
        if col.kind == "string" and col.length and len(frame):
            values = frame[col.name].to_numpy(dtype=object)
            try:  # map/len/max in C: pandas' .str.len() took 0.5 s of TPC-H SF 0.1's read
                longest = max(map(len, values), default=None)
            except TypeError:  # NULLs (None) or values without a length
                longest = frame[col.name].map(len, na_action="ignore").max()
            if pd.notna(longest) and int(longest) > col.length:
                log.warning("%s.%s is declared with length %d but holds values of up to %d characters; "
                            "using %d", table.name, col.name, col.length, int(longest), int(longest))
                col.length = int(longest)
    return frame


def _filtered(chunks: Iterator[pd.DataFrame], table: Table, row_filter: RowFilter) -> pd.DataFrame:
    """The raw rows of ``chunks`` that ``row_filter`` keeps (its columns judged coerced)."""
    keyed = replace(table, columns=[c for c in table.columns if c.name in set(row_filter.columns)])
    kept = []
    for raw in chunks:
        keys = coerce_frame(raw[keyed.column_names], keyed)
        kept.append(raw[np.asarray(row_filter.keep(keys), dtype=bool)])
    return pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)


def _within_sql(within: tuple[str, np.ndarray, bool], quote: Callable[[str], str]) -> str:
    """``col IN (1, 2, ...)`` [``OR col IS NULL``] with the integers inlined: one statement
    whatever their number (bound parameters are capped at 32,766 on SQLite)."""
    column, values, nulls = within
    col = quote(column)
    listed = ", ".join(map(str, np.asarray(values, dtype=np.int64).tolist()))
    parts = [f"{col} IN ({listed})"] if len(values) else []
    if nulls or not parts:
        parts.append(f"{col} IS NULL")
    return " OR ".join(parts)


def _read_select(conn: sa.Connection, table: Table, schema_name: str | None, relkind: str | None,
                 chunk_rows: int | None = None,
                 within: tuple[str, np.ndarray, bool] | None = None,
                 limit: int | None = None) -> Iterator[pd.DataFrame]:
    """Rows through SELECT with untyped columns, so SQLAlchemy hands over the driver's raw values;
    one frame, or frames of ``chunk_rows`` rows read as the cursor streams them; only rows
    ``within`` the given values of a column when set (see :class:`RowFilter`); at most ``limit`` rows."""
    if not table.column_names:
        yield empty_frame(table)
        return
    stmt = _select(conn, table, schema_name, relkind, within, limit)
    if conn.dialect.name == "sqlite":
        # The sqlite3 cursor itself: SQLAlchemy's row objects cost more than SQLite's own reading.
        cur = conn.connection.driver_connection.cursor()
        try:
            cur.execute(_literal_sql(conn, stmt))
            batches = iter([cur.fetchall()]) if chunk_rows is None else iter(lambda: cur.fetchmany(chunk_rows), [])
            yield from _frames(conn, table, batches)
        finally:
            cur.close()
        return
    if chunk_rows is None:
        yield _raw_frame(conn, table, conn.execute(stmt).fetchall())
        return
    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
    yield from _frames(conn, table, result.partitions(chunk_rows))


def _select(conn: sa.Connection, table: Table, schema_name: str | None, relkind: str | None,
            within: tuple[str, np.ndarray, bool] | None, limit: int | None) -> sa.Select:
    """``SELECT`` of ``table``'s columns, only rows ``within`` the given values, at most ``limit``."""
    source = sa.table(table.name, schema=schema_name)
    stmt = sa.select(*[sa.column(n) for n in table.column_names]).select_from(source)
    if within is not None:
        stmt = stmt.where(sa.text(_within_sql(within, conn.dialect.identifier_preparer.quote)))
    if relkind == "r":  # PostgreSQL through another driver: inheritance children are separate tables
        stmt = stmt.with_hint(source, "ONLY", "postgresql")
    if limit is not None:
        stmt = stmt.limit(int(limit))
    return stmt


def _sqlite_select(conn: sa.Connection, table: Table, schema_name: str | None, relkind: str | None,
                   within: tuple[str, np.ndarray, bool] | None, limit: int | None) -> str:
    """:func:`_select` as SQL text for a SQLite cursor (values inlined)."""
    return _literal_sql(conn, _select(conn, table, schema_name, None, within, limit))


#: PostgreSQL types read through ADBC as they are: integers (widened to ``bigint``, one Arrow
#: type for every width), text, booleans and ``bytea``. Anything else is sent as its text form
#: (what COPY text sends, which :func:`coerce_frame` parses), so no type the driver cannot map
#: (enums, domains, arrays, ``tsvector``, extension types) reaches it.
_PG_ARROW_INTEGERS = ("SMALLINT", "INTEGER", "BIGINT")
_PG_ARROW_AS_IS = re.compile(r"^(?:TEXT|VARCHAR|CHAR|CHARACTER|CHARACTER VARYING|BPCHAR|BOOLEAN|BYTEA)(?:\(\d+\))?$")


def _pg_arrow_select(conn: sa.Connection, table: Table, schema_name: str | None, relkind: str | None,
                     within: tuple[str, np.ndarray, bool] | None, limit: int | None) -> str:
    """The SELECT of ``table`` for ADBC's PostgreSQL driver: what :func:`_read_pg_copy` selects,
    each column as an Arrow type or as its text (see :data:`_PG_ARROW_AS_IS`)."""
    quote = conn.dialect.identifier_preparer.quote_identifier  # always quoted, as COPY's psycopg Identifier
    exprs = []
    for col in table.columns:
        name, sql_type = quote(col.name), (col.sql_type or "").upper()
        if col.domain is not None or col.enum_values or col.element_kind:
            exprs.append(f"{name}::text")
        elif col.kind == "integer" and sql_type in _PG_ARROW_INTEGERS:
            exprs.append(f"{name}::bigint")
        elif _PG_ARROW_AS_IS.match(sql_type):
            exprs.append(name)
        elif sql_type == "MONEY":  # money prints with the locale's currency sign; numeric prints plain digits
            exprs.append(f"{name}::numeric::text")
        else:
            exprs.append(f"{name}::text")
    target = f"{quote(schema_name)}.{quote(table.name)}" if schema_name else quote(table.name)
    sql = f"SELECT {', '.join(exprs)} FROM {'ONLY ' if relkind == 'r' else ''}{target}"
    if within is not None:
        sql += f" WHERE {_within_sql(within, quote)}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def _literal_sql(conn: sa.Connection, stmt: sa.Select) -> str:
    """``stmt`` as SQL text in ``conn``'s dialect, its values inlined (for a driver cursor)."""
    return str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


# --------------------------------------------------------------------------------------------
# SQLite and PostgreSQL through ADBC (relsynth[adbc]): Arrow columns, no Python object per value


@contextmanager
def _adbc_reader(engine: sa.Engine, conn: sa.Connection) -> Iterator[Any]:
    """An ADBC connection to read ``engine``'s tables through as Arrow columns, reading what
    ``conn`` reads, or None to read them the usual way (see :func:`_adbc_sqlite`, :func:`_adbc_postgresql`)."""
    name = engine.dialect.name
    opened = _adbc_sqlite(engine) if name == "sqlite" else _adbc_postgresql(engine, conn) if name == "postgresql" \
        else contextlib.nullcontext()
    with opened as arrow:
        yield arrow


@contextmanager
def _adbc_postgresql(engine: sa.Engine, conn: sa.Connection) -> Iterator[Any]:
    """A connection of ADBC's PostgreSQL driver in a read-only transaction on ``conn``'s
    snapshot (exported there, imported here, so both see the same rows), as the same user on
    the same database and search path, with the output settings of :func:`_read_pg_copy`; or
    None where there is none to open (the driver not installed: ``pip install
    "relsynth[adbc]"``; a server, URL or engine it cannot be made to match), and ``conn``'s
    COPY reads every table.

    The driver takes the rows in its own C code: through psycopg, COPY hands over each row as
    a Python object, ~2 µs apiece (TPC-H SF 0.1's key columns, 866,602 rows: 1.8 s of COPY
    text against 0.46 s of Arrow columns here).
    """
    try:
        import adbc_driver_postgresql.dbapi as adbc  # needs pyarrow, which makes the frames
    except ImportError:
        yield None
        return
    password = engine.url.password

    def unused(why: str, exc: BaseException | None = None) -> None:
        log.info("reading %s through COPY: %s%s", mask_url(engine), why,
                 f": {db_error_line(exc, password)}" if exc is not None else "")

    identity = "SELECT current_user, current_database(), current_setting('search_path')"
    try:  # first thing in the read's transaction: nothing is read yet
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        wanted = tuple(conn.exec_driver_sql(identity).one())
    except sa_exc.DBAPIError as exc:
        conn.rollback()  # the failed statement ended the transaction; a new one for COPY, before any read
        _declare_read_only(conn)
        unused("cannot export its snapshot", exc)
        yield None
        return
    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        arrow = adbc.connect(uri, autocommit=True)  # the transaction below is ours
    except Exception as exc:  # noqa: BLE001 - COPY reads it, or says why it cannot
        unused("ADBC cannot connect", exc)
        yield None
        return
    try:
        cur = arrow.cursor()
        try:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            for setting in _PG_OUTPUT_SETTINGS:
                cur.execute(f"SET LOCAL {setting}")
            cur.execute(identity)
            got = tuple(cur.fetchone())
        finally:
            cur.close()
    except Exception as exc:  # noqa: BLE001 - as above
        arrow.close()
        unused("ADBC cannot share its snapshot", exc)
        yield None
        return
    if got != wanted:  # e.g. an engine given a role or search path in connect_args, which the URL lacks
        arrow.close()
        unused(f"ADBC's connection is {got[0]} on {got[1]} with search path {got[2]!r}, not as the engine's")
        yield None
        return
    try:
        yield arrow
    finally:
        arrow.close()  # ends its read-only transaction


@contextmanager
def _adbc_sqlite(engine: sa.Engine) -> Iterator[Any]:
    """A read-only connection of ADBC's SQLite driver to ``engine``'s database file, or None
    where there is none to open (another database, a memory or URI database, the driver not
    installed: ``pip install "relsynth[adbc]"``).

    It hands over whole columns as Arrow arrays: TPC-H SF 0.1's 600,572 lineitem keys in 0.3 s
    against 1.0 s through ``sqlite3``, whose rows are a Python object per value.
    """
    path = engine.url.database or ""
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or path.startswith("file:") \
            or engine.url.query or not Path(path).is_file():
        yield None
        return
    try:
        import adbc_driver_sqlite.dbapi as adbc  # needs pyarrow, which makes the frames
    except ImportError:
        yield None
        return
    try:
        conn = adbc.connect("file:" + _quote_path(Path(path).resolve()) + "?mode=ro")
    except Exception as exc:  # noqa: BLE001 - the sqlite3 path reads it, or says why it cannot
        log.info("reading through sqlite3: ADBC cannot open %s: %s", path, exc)
        yield None
        return
    try:
        yield conn
    finally:
        conn.close()


#: Record batches the ADBC reading thread may hold ahead of the caller, and their rows where
#: the table is read whole (a filtered read takes its chunks' size).
_ARROW_AHEAD = 4
_ARROW_BATCH_ROWS = 65_536


class _ArrowReads:
    """The ADBC reads of one :func:`read_tables` call, run in order by a thread of their own a
    few record batches ahead of the caller (the driver reads without the GIL), while the caller
    turns the batches it has into frames.

    ``statements`` are ``(sql, chunk rows or None)`` (no sql: a table without columns, read the
    other way); :meth:`frame` takes their results in that order. ``batch_rows_option`` is the
    driver's statement option for rows per record batch (SQLite's; PostgreSQL's driver cuts
    batches by size, ~16 MB). Where the driver cannot type
    a column (it takes each column's type from the first rows, and SQLite lets a later row hold
    another) :meth:`frame` returns None, and the caller reads that table through ``sqlite3``,
    value by value.
    """

    def __init__(self, conn: Any, statements: list[tuple[str | None, int | None]],
                 batch_rows_option: str | None = None) -> None:
        self._queue: queue.Queue[tuple[int, str, Any]] = queue.Queue(maxsize=_ARROW_AHEAD)
        self._stopped = False
        self._schema: Any = None
        self._batch_rows_option = batch_rows_option
        self._thread = threading.Thread(target=self._run, args=(conn, statements), name="relsynth-adbc-read",
                                        daemon=True)
        self._thread.start()

    def _run(self, conn: Any, statements: list[tuple[str | None, int | None]]) -> None:
        for i, (sql, chunk_rows) in enumerate(statements):
            if sql is None:
                self._queue.put((i, "skipped", None))
                continue
            try:
                cur = conn.cursor()
                try:
                    if self._batch_rows_option:
                        cur.adbc_statement.set_options(
                            **{self._batch_rows_option: str(chunk_rows or _ARROW_BATCH_ROWS)})
                    cur.execute(sql)
                    reader = cur.fetch_record_batch()
                    self._queue.put((i, "schema", reader.schema))
                    for batch in reader:
                        if self._stopped:
                            return
                        self._queue.put((i, "batch", batch))
                finally:
                    cur.close()
                self._queue.put((i, "end", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                if self._stopped:
                    return
                self._queue.put((i, "error", exc))

    def _batches(self, i: int) -> Iterator[Any]:
        """Statement ``i``'s record batches (what is left of an earlier one is dropped)."""
        while True:
            j, kind, value = self._queue.get()
            if j < i:
                continue
            if kind == "schema":
                self._schema = value
            elif kind == "batch":
                yield value
            elif kind == "end":
                return
            elif kind == "skipped":
                raise _NotRead
            else:
                raise value

    def frame(self, i: int, table: Table, chunk_rows: int | None, row_filter: RowFilter | None) -> pd.DataFrame | None:
        """The raw frame of statement ``i`` (the rows ``row_filter`` keeps, judged a chunk at a
        time), or None where the driver gave up on it."""
        import pyarrow as pa

        try:
            if row_filter is None:
                batches = list(self._batches(i))
                return _arrow_frame(pa.Table.from_batches(batches, schema=self._schema), table)
            frames = (_arrow_frame(pa.Table.from_batches([batch]), table) for batch in self._batches(i))
            first = next(frames, None)
            if first is None:
                return _arrow_frame(self._schema.empty_table(), table)
            return _filtered(itertools.chain([first], frames), table, row_filter)
        except _NotRead:
            return None
        except (OSError, pa.ArrowException) as exc:
            log.info("reading %s through sqlite3: %s", table.name, exc)
            return None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] != "adbc_driver_manager":
                raise
            log.info("reading %s through sqlite3: %s", table.name, exc)
            return None

    def close(self) -> None:
        """Stop the thread (after the statement under way) and wait for it."""
        self._stopped = True
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)


class _NotRead(Exception):
    """A statement :class:`_ArrowReads` was given none for."""


def _arrow_frame(arrow_table: Any, table: Table) -> pd.DataFrame:
    """A raw frame of Arrow columns: integers as ``Int64``, reals as ``float64`` (NaN for
    NULL), texts as ``str`` or object, blobs as ``bytes``; :func:`coerce_frame` takes it from there."""
    import pyarrow as pa

    df = arrow_table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    df.columns = table.column_names
    return df


def _frames(conn: sa.Connection, table: Table, batches: Iterator[Any]) -> Iterator[pd.DataFrame]:
    """A raw frame per batch of rows (at least one frame)."""
    empty = True
    for rows in batches:
        empty = False
        yield _raw_frame(conn, table, rows)
    if empty:
        yield _raw_frame(conn, table, [])


def _raw_frame(conn: sa.Connection, table: Table, rows: Any) -> pd.DataFrame:
    names = table.column_names
    # Object columns: DataFrame(rows) would turn integers with NULLs into floats and lose
    # precision above 2**53 before coerce_frame sees them.
    grid = np.empty((len(rows), len(names)), dtype=object)
    if len(rows):
        grid[:] = rows
    # One object block over the grid, not copied (a Series per column would copy each column
    # out of the grid and the frame would copy them again into one block: 0.5 s per 10 M values).
    df = pd.DataFrame(grid, columns=names, dtype=object, copy=False)
    if conn.dialect.name in ("mysql", "mariadb"):
        for col in table.columns:
            if (col.sql_type or "").upper().startswith("BIT"):
                # PyMySQL returns BIT(n) as big-endian bytes.
                df[col.name] = pd.Series([None if v is None else int.from_bytes(bytes(v), "big") if
                                          isinstance(v, (bytes, bytearray)) else v for v in df[col.name]],
                                         dtype=object)
    return df


_PG_UNESCAPE = {"\\": "\\", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_PG_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _pg_unescape(s: pd.Series) -> pd.Series:
    """Undo COPY text-format backslash escapes in the values that have any."""
    present = s.notna()
    has = present & s.where(present, "").str.contains("\\", regex=False)
    if has.any():
        s = s.copy()
        s[has] = s[has].str.replace(_PG_ESCAPE_RE, lambda m: _PG_UNESCAPE.get(m.group(1), m.group(1)), regex=True)
    return s


#: Session output settings that make PostgreSQL's text forms unambiguous: ISO dates, UTC for
#: timestamptz, hex bytea. Set LOCAL: they end with the (read-only) transaction.
_PG_OUTPUT_SETTINGS = ("DateStyle = 'ISO, YMD'", "TimeZone = 'UTC'", "bytea_output = 'hex'",
                       "IntervalStyle = 'postgres'", "extra_float_digits = 3")


def _read_pg_copy(conn: sa.Connection, table: Table, schema_name: str | None, relkind: str,
                  chunk_rows: int | None = None,
                  within: tuple[str, np.ndarray, bool] | None = None,
                  limit: int | None = None) -> Iterator[pd.DataFrame]:
    """Rows through ``COPY (SELECT ...) TO STDOUT`` (text format) parsed by ``pd.read_csv``: one
    frame, or frames of about ``chunk_rows`` rows parsed as the text streams in; at most ``limit`` rows.

    Text format is used instead of CSV because it tells NULL (``\\N``) from an empty string:
    a literal backslash in the data is always doubled, so ``\\N`` can only mean NULL.
    """
    from psycopg import sql as psql

    names = table.column_names
    if not names:
        yield empty_frame(table)
        return
    for setting in _PG_OUTPUT_SETTINGS:
        conn.exec_driver_sql(f"SET LOCAL {setting}")
    exprs = []
    for col in table.columns:
        ident = psql.Identifier(col.name)
        if (col.sql_type or "").lower() == "money":
            # money prints with the locale's currency sign; numeric prints plain digits.
            exprs.append(psql.SQL("{}::numeric").format(ident))
        else:
            exprs.append(ident)
    target = psql.Identifier(schema_name, table.name) if schema_name else psql.Identifier(table.name)
    only = psql.SQL("ONLY ") if relkind == "r" else psql.SQL("")
    where = psql.SQL("")
    if within is not None:
        where = psql.SQL(" WHERE ") + psql.SQL(_within_sql(within, lambda c: psql.Identifier(c).as_string(conn.connection.driver_connection)))
    if limit is not None:
        where = where + psql.SQL(" LIMIT {}").format(psql.Literal(int(limit)))
    query = psql.SQL("COPY (SELECT {} FROM {}{}{}) TO STDOUT").format(psql.SQL(", ").join(exprs), only, target, where)
    raw = conn.connection.driver_connection
    # A chunk is cut at the last row end once it holds about chunk_rows rows (COPY text has one
    # line per row: newlines inside values are escaped).
    lines_per_chunk = chunk_rows or 0
    buf = io.BytesIO()
    lines = 0
    emitted = False
    with raw.cursor() as cur, cur.copy(query) as copy:
        for block in copy:  # a memoryview, written without a copy
            buf.write(block)
            if not lines_per_chunk:
                continue
            lines += bytes(block).count(b"\n")
            if lines >= lines_per_chunk:
                data = buf.getvalue()
                cut = data.rfind(b"\n") + 1
                yield _parse_pg_text(data[:cut], table)
                emitted = True
                buf = io.BytesIO()
                buf.write(data[cut:])
                lines = 0
    if buf.tell() or not emitted:
        yield _parse_pg_text(buf.getvalue(), table)


def _parse_pg_text(data: bytes, table: Table) -> pd.DataFrame:
    """COPY text-format rows into an object frame (NULL as NaN, escapes undone, bytea decoded)."""
    names = table.column_names
    if not data:
        return pd.DataFrame({n: pd.Series([], dtype=object) for n in names}, columns=names)
    buf = io.BytesIO(data)
    # Integers are parsed by the C parser itself (PostgreSQL writes them plainly); the rest stays
    # text for coerce_frame (floats may read "Infinity", which the parser does not take).
    dtypes = {c.name: "Int64" if c.kind == "integer" else object for c in table.columns}
    df = pd.read_csv(
        buf, sep="\t", header=None, names=names, dtype=dtypes, quoting=csv.QUOTE_NONE,
        na_values=["\\N"], keep_default_na=False, skip_blank_lines=False, encoding="utf-8",
        engine="c", lineterminator="\n",
    )
    for col in table.columns:
        s = df[col.name]
        if col.kind in ("integer", "float", "decimal", "date", "datetime", "time", "uuid", "boolean"):
            continue  # these never contain backslashes
        s = _pg_unescape(s)
        if col.kind == "binary":
            # bytea in hex output: "\x0a1b..." (after unescaping the doubled backslash).
            s = pd.Series([(bytes.fromhex(v[2:]) if v.startswith("\\x") else v.encode("utf-8"))
                           if isinstance(v, str) else None for v in s], dtype=object)
        df[col.name] = s
    return df
