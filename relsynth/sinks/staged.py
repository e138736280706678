"""PostgreSQL loading by many writers at once (the Dask workers of :mod:`relsynth.distributed`).

:func:`relsynth.sinks.write` loads over one connection in one transaction. Here every writer
COPYs its own pieces over its own connection, so the rows cannot go straight into the target's
tables in one transaction; they go through a staging schema instead:

1. :func:`open_staged_load` checks what :func:`relsynth.sinks.write` checks (``if_exists``,
   the load order, a reachable target, the tables already there) and decides the types from the
   first pieces (:class:`~relsynth.sinks.ddl.TargetDDL`), then creates a fresh schema
   ``relsynth_staging_<8 hex>`` holding bare tables (columns and NOT NULL, no keys or
   constraints): the new tables as they will be (named types, i.e. domains and enums, created
   beside them), and for existing tables that are kept (``append`` / ``truncate``) an UNLOGGED
   table with their columns, through which the rows pass.
2. Any process calls :meth:`StagingTarget.copy` with some pieces: COPY into the staging tables
   and COMMIT over its own connection (the target's URL, password included).
3. :meth:`StagedLoad.finish`, in one transaction: drops the replaced tables and their named
   types (``replace``) or empties the kept ones (``truncate``); inserts the staged rows of kept
   tables; moves the new tables and their named types into the target schema (``ALTER ... SET
   SCHEMA``, no copy); adds keys and constraints as :func:`~relsynth.sinks.sql.load_postgresql`
   does (:func:`~relsynth.sinks.sql.add_constraints`); drops the staging schema; COMMIT.
4. :meth:`StagedLoad.abort` (any failure, Ctrl-C) drops the staging schema: the target is left
   as it was, since nothing reached it before step 3's COMMIT.

The rows are those a single-connection write gives; their physical order in a table is the
order in which the writers' COMMITs landed (compare ordered by key).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from relsynth.errors import ConfigError, MissingExtraError, SinkError, did_you_mean
from relsynth.schema.model import Schema
from relsynth.sinks.ddl import ALL_CONSTRAINTS, TargetDDL
from relsynth.sinks.sql import (IF_EXISTS, IfExists, _check_order, _existing_tables, _fallback_values, _is_driver_error,
                                add_constraints, check_frame, open_engine, pg_copy)
from relsynth.urls import db_error_line, mask_url

__all__ = ["StagedLoad", "StagingTarget", "open_staged_load"]

log = logging.getLogger("relsynth")

#: How long dropping the staging schema after a failure waits for writers still in a COPY.
_ABORT_LOCK_TIMEOUT = "60s"


@dataclass
class StagingTarget:
    """What a writer needs to COPY pieces into the staging tables; small and picklable (sent
    once to every Dask worker).

    Attributes:
        url: The target's SQLAlchemy URL, password included.
        staging: Name of the staging schema.
        schema: The tables being written.
        ddl: The type decisions (without the frames they were made from), for the values of
            columns written in a fallback type.
    """

    url: str = field(repr=False)  # holds the password
    staging: str
    schema: Schema
    ddl: TargetDDL

    def copy(self, pieces: Iterable[tuple[str, pd.DataFrame]]) -> dict[str, int]:
        """COPY ``pieces`` into the staging tables over a connection of its own and COMMIT; rows per table.

        Raises:
            SinkError: A piece does not match the schema, or the database refused the rows (one
                line, password masked; the caller drops the staging schema).
        """
        rows: dict[str, int] = {}
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        step = "connecting"
        try:
            with engine.connect() as conn, conn.begin():
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                for name, frame in pieces:
                    step = f"loading table {name!r} into staging"
                    frame = check_frame(name, frame, self.schema)  # raises for a table not in the schema
                    table = self.schema.tables[name]
                    pg_copy(cur, table, _fallback_values(frame, table, self.ddl), self.staging)
                    rows[name] = rows.get(name, 0) + len(frame)
                step = "committing the staged rows"
        except (sa.exc.DBAPIError, sa.exc.StatementError) as exc:
            raise SinkError(f"{step}: {db_error_line(exc, engine.url.password)}") from None
        except Exception as exc:
            if _is_driver_error(exc):
                raise SinkError(f"{step}: {db_error_line(exc, engine.url.password)}") from None
            raise
        finally:
            engine.dispose()
        return rows


@dataclass
class StagedLoad:
    """A load into a PostgreSQL target through a staging schema (see the module docstring);
    made by :func:`open_staged_load`.

    Attributes:
        target: What writers need (:meth:`StagingTarget.copy`).
        engine: The client's engine for the target.
        owned: Whether ``engine`` was created here (disposed by :meth:`close`).
        label: The target's URL, password masked.
        order: Parent-first load order.
        if_exists: What to do with tables that exist.
        existing: Schema tables already in the target.
        target_schema: The schema the tables end up in (the target's ``current_schema()``).
        written: Rows staged per table so far.
        step: What is being done (for error messages).
    """

    target: StagingTarget
    engine: sa.Engine
    owned: bool
    label: str
    order: list[str]
    if_exists: IfExists
    existing: set[str]
    target_schema: str
    written: dict[str, int] = field(default_factory=dict)
    step: str = "starting"

    @property
    def to_create(self) -> list[str]:
        """Tables this load creates (moved from staging), in load order."""
        if self.if_exists == "replace":
            return list(self.order)
        return [n for n in self.order if n not in self.existing]

    @property
    def kept(self) -> list[str]:
        """Existing tables the staged rows are inserted into, in load order."""
        return [] if self.if_exists == "replace" else [n for n in self.order if n in self.existing]

    def add(self, rows: Mapping[str, int]) -> None:
        """Count rows a writer staged."""
        for name, n in rows.items():
            self.written[name] = self.written.get(name, 0) + n

    def copy(self, pieces: Iterable[tuple[str, pd.DataFrame]]) -> dict[str, int]:
        """Stage ``pieces`` from this process (:meth:`StagingTarget.copy`) and count them."""
        pieces = list(pieces)
        self.step = f"loading {', '.join(dict.fromkeys(n for n, _ in pieces))}"
        rows = self.target.copy(pieces)
        self.add(rows)
        return rows

    def finish(self) -> dict[str, int]:
        """Put the staged rows in place in one transaction, keys and constraints added; rows per table.

        Raises:
            SinkError: The database refused (e.g. a key is not unique); the transaction is rolled
                back, so the target is as it was (the caller then calls :meth:`abort`).
        """
        from psycopg import sql

        staging, target = sql.Identifier(self.target.staging), sql.Identifier(self.target_schema)

        def qualified(names: Sequence[str]) -> sql.Composable:
            return sql.SQL(", ").join(sql.Identifier(self.target_schema, n) for n in names)

        full = self.target.ddl.metadata(ALL_CONSTRAINTS)
        started = time.perf_counter()
        with self.engine.connect() as conn, conn.begin():
            cur: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute("SET CONSTRAINTS ALL DEFERRED")  # existing deferrable constraints wait for COMMIT
            if self.if_exists == "replace" and self.existing:
                self.step = "dropping existing tables"
                names = [n for n in reversed(self.order) if n in self.existing]
                cur.execute(sql.SQL("DROP TABLE {} CASCADE").format(qualified(names)))
                # The domains and enum types made for those tables; their new ones are in staging.
                for what, type_name in self.target.ddl.named_types:
                    cur.execute(sql.SQL("DROP {} IF EXISTS {}").format(
                        sql.SQL("DOMAIN" if what == "domain" else "TYPE"), sql.Identifier(self.target_schema, type_name)))
            elif self.if_exists == "truncate" and self.kept:
                self.step = "emptying existing tables"
                cur.execute(sql.SQL("TRUNCATE {}").format(qualified(self.kept)))
            for name in self.kept:
                self.step = f"inserting the staged rows into table {name!r}"
                cols = sql.SQL(", ").join(map(sql.Identifier, self.target.schema.tables[name].column_names))
                cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    sql.Identifier(self.target_schema, name), cols, cols, sql.Identifier(self.target.staging, name)))
            self.step = "moving the new tables into place"
            cur.execute("SELECT t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE n.nspname = %s AND t.typtype IN ('d', 'e') ORDER BY t.typname", (self.target.staging,))
            for type_name, kind in cur.fetchall():
                cur.execute(sql.SQL("ALTER {} {} SET SCHEMA {}").format(
                    sql.SQL("DOMAIN" if kind == "d" else "TYPE"), sql.Identifier(self.target.staging, type_name), target))
            for name in self.to_create:
                cur.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                    sql.Identifier(self.target.staging, name), target))
            add_constraints(conn, full, self.to_create, self)
            self.step = "dropping the staging schema"
            cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(staging))
            self.step = "committing"
        log.info("put %d staged rows in place in %s in %.2fs", sum(self.written.values()), self.label,
                 time.perf_counter() - started)
        return {name: self.written.get(name, 0) for name in self.target.schema.tables}

    def abort(self) -> str:
        """Drop the staging schema (after a failure); returns a note for the error message."""
        try:
            with self.engine.connect() as conn, conn.begin():
                # Writers still in a COPY hold locks on staging tables: wait for them, not forever.
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_ABORT_LOCK_TIMEOUT}'")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.target.staging}" CASCADE')
            return "the target was left unchanged (staging schema dropped)"
        except Exception as exc:  # noqa: BLE001 - reported in the error message
            log.error("could not drop staging schema %s: %s", self.target.staging,
                      db_error_line(exc, self.engine.url.password))
            return (f'the target tables were left unchanged, but the staging schema could not be dropped: run '
                    f'DROP SCHEMA "{self.target.staging}" CASCADE')

    def close(self) -> None:
        """Release the client's engine (if it was created here)."""
        if self.owned:
            self.engine.dispose()

    def fail(self, exc: BaseException) -> BaseException:
        """Drop the staging schema after ``exc`` and return what to raise: a one-line SinkError
        for a refused load (a SinkError, a database error), ``exc`` itself otherwise (Ctrl-C, a
        bug), after logging what was undone."""
        note = self.abort()
        if isinstance(exc, SinkError):
            return SinkError(f"writing to {self.label} failed: {exc}; {note}")
        if isinstance(exc, (sa.exc.DBAPIError, sa.exc.StatementError)) or _is_driver_error(exc):
            line = db_error_line(exc, self.engine.url.password)
            return SinkError(f"writing to {self.label} failed while {self.step}: {line}; {note}")
        log.warning("writing to %s stopped while %s: %s", self.label, self.step, note)
        return exc


def open_staged_load(target: str | sa.Engine, schema: Schema, first: Iterable[tuple[str, pd.DataFrame]], *,
                     if_exists: IfExists = "fail", order: Sequence[str] | None = None,
                     int_bounds: Mapping[tuple[str, str], int] | None = None) -> StagedLoad:
    """Check the target as :func:`relsynth.sinks.write` does and create the staging schema.

    Args:
        target: PostgreSQL URL or engine (``postgresql+psycopg``); writers connect with its URL.
        schema: Tables to write.
        first: The first pieces of the data (at least one per table where there is one): the
            target's types are chosen from each table's first, as :func:`relsynth.sinks.write`
            does. They are not staged here (:meth:`StagedLoad.copy` does that).
        if_exists: ``fail``, ``truncate``, ``append`` or ``replace`` (as for ``write``).
        order: Parent-first order of all the schema's tables (default: the plan's).
        int_bounds: Largest absolute values integer columns get in later pieces.

    Raises:
        TargetNotEmptyError: ``if_exists="fail"`` and some of the tables exist.
        SinkError: A piece does not match the schema, the target cannot be reached, or the
            staging schema cannot be created.
        ConfigError: ``if_exists`` or ``order`` is invalid, or the target is not PostgreSQL over psycopg.
        MissingExtraError: psycopg is not installed.
    """
    if if_exists not in IF_EXISTS:
        raise ConfigError(f"if_exists={if_exists!r} is not valid{did_you_mean(str(if_exists), IF_EXISTS)}; "
                          f"use one of: {', '.join(IF_EXISTS)}")
    load_order = _check_order(schema, order)
    frames: dict[str, pd.DataFrame] = {}
    for name, frame in first:
        frames.setdefault(name, check_frame(name, frame, schema))
    if importlib.util.find_spec("psycopg") is None:
        raise MissingExtraError("psycopg", "postgres", "writing to PostgreSQL")
    engine, owned = open_engine(target)
    try:
        label = mask_url(engine)
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            raise ConfigError(f"staged loading by many writers is for PostgreSQL over psycopg 3, not {label}; "
                              "use a postgresql+psycopg:// URL")
        existing = _existing_tables(engine, schema, if_exists, label)
        ddl = TargetDDL(schema, engine.dialect.name, frames, int_bounds=int_bounds)
        slim = copy.copy(ddl)
        slim.frames = None  # the writers need the decisions, not the data they were made from
        staging = f"relsynth_staging_{uuid.uuid4().hex[:8]}"
        url = engine.url.render_as_string(hide_password=False)
        load = StagedLoad(StagingTarget(url, staging, schema, slim), engine, owned, label, load_order, if_exists,
                          existing, target_schema="")
        _create_staging(load)
        return load
    except BaseException:
        if owned:
            engine.dispose()
        raise


def _create_staging(load: StagedLoad) -> None:
    """The staging schema and its bare tables (one transaction: all or nothing)."""
    from psycopg import sql

    staging = load.target.staging
    bare = load.target.ddl.metadata(include=())
    try:
        with load.engine.connect() as conn, conn.begin():
            cur: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            load.step = "finding the target schema"
            cur.execute("SELECT current_schema()")
            current = cur.fetchone()[0]
            if current is None:
                raise SinkError(f"{load.label} has no schema to create tables in (search_path names none that "
                                "exists); create one or fix the search_path")
            load.target_schema = current
            load.step = f"creating staging schema {staging}"
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
            # Unqualified CREATEs go to staging; types of the target (extensions', reused enums) stay visible.
            cur.execute("SELECT set_config('search_path', %s || ', ' || current_setting('search_path'), true)",
                        (sql.Identifier(staging).as_string(cur),))
            # Replaced tables' named types are dropped at the end, so the new tables get their own
            # in staging; otherwise, as load_postgresql, a type already in the target is reused.
            fresh = load.if_exists == "replace" and bool(load.existing)
            named: dict[str, Any] = {}
            for name in load.to_create:
                for col in bare.tables[name].columns:
                    if isinstance(col.type, (sa.Enum, postgresql.DOMAIN)) and col.type.name:
                        named.setdefault(col.type.name, col.type)
            for type_ in sorted(named.values(), key=lambda t: isinstance(t, postgresql.DOMAIN)):  # enums first
                load.step = f"creating type {type_.name!r}"
                type_.create(conn, checkfirst=not fresh)
            for name in load.to_create:
                load.step = f"creating staging table {name!r}"
                conn.execute(sa.schema.CreateTable(bare.tables[name]))
            for name in load.kept:
                load.step = f"creating staging table {name!r}"
                cols = sql.SQL(", ").join(map(sql.Identifier, load.target.schema.tables[name].column_names))
                # Rows pass through: UNLOGGED (no WAL), the kept table's own column types.
                cur.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
                    sql.Identifier(staging, name), cols, sql.Identifier(load.target_schema, name)))
    except SinkError:
        raise
    except (sa.exc.DBAPIError, sa.exc.StatementError) as exc:
        raise SinkError(f"writing to {load.label} failed while {load.step}: "
                        f"{db_error_line(exc, load.engine.url.password)}; nothing was written") from None
    except Exception as exc:
        if _is_driver_error(exc):
            raise SinkError(f"writing to {load.label} failed while {load.step}: "
                            f"{db_error_line(exc, load.engine.url.password)}; nothing was written") from None
        raise
    log.info("created staging schema %s in %s", staging, load.label)
