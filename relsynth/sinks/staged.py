"""PostgreSQL and MariaDB/MySQL loading by many writers at once (the Dask workers of
:mod:`relsynth.distributed`).

:func:`relsynth.sinks.write` loads over one connection in one transaction. Here every writer
loads its own pieces over its own connection, so the rows cannot go straight into the target's
tables in one transaction; they go through a staging area ``relsynth_staging_<8 hex>`` instead
(a schema on PostgreSQL, a database on the same server on MariaDB/MySQL):

1. :func:`open_staged_load` checks what :func:`relsynth.sinks.write` checks (``if_exists``,
   the load order, a reachable target, the tables already there) and decides the types from the
   first pieces (:class:`~relsynth.sinks.ddl.TargetDDL`), then creates the staging area with a
   table per schema table: the new tables as they will be, and for existing tables that are kept
   (``append`` / ``truncate``) a table with their columns, through which the rows pass.

   - PostgreSQL: bare tables (columns and NOT NULL, no keys or constraints), named types
     (domains, enums) created beside them; kept tables' ones UNLOGGED.
   - MariaDB/MySQL: tables with PRIMARY KEY, UNIQUE and CHECK but no FOREIGN KEY, as
     :func:`~relsynth.sinks.sql.load_mysql` creates them; kept tables' ones ``CREATE TABLE ...
     LIKE`` the kept table (its types and keys, no foreign keys).
2. Any process calls :meth:`StagingTarget.copy` with some pieces: COPY (PostgreSQL) or batched
   INSERTs in strict mode as :func:`~relsynth.sinks.sql.load_mysql` does
   (:func:`~relsynth.sinks.sql.mysql_insert`), and COMMIT over its own connection (the target's
   URL, password included).
3. :meth:`StagedLoad.finish` puts the rows in place.

   - PostgreSQL, in one transaction: drops the replaced tables and their named types
     (``replace``) or empties the kept ones (``truncate``); inserts the staged rows of kept
     tables; moves the new tables and their named types into the target schema (``ALTER ... SET
     SCHEMA``, no copy); adds keys and constraints as :func:`~relsynth.sinks.sql.load_postgresql`
     does (:func:`~relsynth.sinks.sql.add_constraints`); drops the staging schema; COMMIT.
   - MariaDB/MySQL (DDL commits by itself there): in one transaction, empties the kept tables
     (``truncate``, DELETE) and inserts their staged rows (``INSERT ... SELECT``), then checks
     every foreign key by anti-joins over the tables as they will be (new ones in staging, kept
     ones in the target; :func:`~relsynth.sinks.sql.check_foreign_keys`) and COMMITs; then one
     atomic ``RENAME TABLE`` moves the new tables in (and, for ``replace``, the old ones out into
     the staging database in the same statement); adds the foreign keys with checks off, as
     :func:`~relsynth.sinks.sql.load_mysql` does; drops the staging database (with the old tables).
4. :meth:`StagedLoad.abort` (any failure, Ctrl-C) drops the staging area: the target is left
   as it was, since nothing reached it before step 3's COMMIT (PostgreSQL) or RENAME (MariaDB,
   whose tables are renamed back if adding a foreign key fails; once the rows of kept tables are
   committed, they stay, and the error says so).

The rows are those a single-connection write gives; their physical order in a table is the
order in which the writers' COMMITs landed (compare ordered by key).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd
import sqlalchemy as sa

from relsynth.errors import ConfigError, SinkError, did_you_mean
from relsynth.schema.model import Schema
from relsynth.sinks.ddl import ALL_CONSTRAINTS, TargetDDL
from relsynth.sinks.sql import (IF_EXISTS, IfExists, LoadTables, _check_order, _existing_tables, _fallback_values,
                                _is_driver_error, _positional_insert, add_constraints, check_foreign_keys, check_frame,
                                mysql_insert, mysql_session, open_engine, pg_copy)
from relsynth.urls import db_error_line, mask_url

__all__ = ["StagedLoad", "StagingTarget", "open_staged_load"]

log = logging.getLogger("relsynth")

#: How long (seconds) dropping the staging area after a failure waits for writers still loading into it.
_ABORT_LOCK_SECONDS = 60


@dataclass
class StagingTarget:
    """What a writer needs to load pieces into the staging tables; small and picklable (sent
    once to every Dask worker).

    Attributes:
        url: The SQLAlchemy URL writers connect with, password included: the target's
            (PostgreSQL), its staging database's (MariaDB/MySQL).
        staging: Name of the staging schema (PostgreSQL) or database (MariaDB/MySQL).
        schema: The tables being written.
        ddl: The type decisions (without the frames they were made from), for the values of
            columns written in a fallback type.
    """

    url: str = field(repr=False)  # holds the password
    staging: str
    schema: Schema
    ddl: TargetDDL

    def copy(self, pieces: Iterable[tuple[str, pd.DataFrame]]) -> dict[str, int]:
        """Load ``pieces`` into the staging tables over a connection of its own and COMMIT; rows per table.

        Raises:
            SinkError: A piece does not match the schema, or the database refused the rows (one
                line, password masked; the caller drops the staging area).
        """
        rows: dict[str, int] = {}
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        mysql = self.ddl.family == "mysql"
        step = "connecting"
        try:
            with engine.connect() as conn, conn.begin():
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                bare = self.ddl.metadata(include=()) if mysql else None
                inserts: dict[str, str] = {}
                with mysql_session(cur) if mysql else contextlib.nullcontext():
                    for name, frame in pieces:
                        step = f"loading table {name!r} into staging"
                        frame = check_frame(name, frame, self.schema)  # raises for a table not in the schema
                        table = self.schema.tables[name]
                        values = _fallback_values(frame, table, self.ddl)
                        if bare is None:
                            pg_copy(cur, table, values, self.staging)
                        else:  # connected to the staging database: unqualified names are its tables
                            if name not in inserts:
                                inserts[name] = _positional_insert(bare.tables[name], engine.dialect)
                            mysql_insert(cur, inserts[name], table, values)
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
class StagedLoad(LoadTables):
    """A load into a database through a staging area (see the module docstring); made by
    :func:`open_staged_load`, one subclass per target family.

    Attributes:
        target: What writers need (:meth:`StagingTarget.copy`).
        engine: The client's engine for the target.
        owned: Whether ``engine`` was created here (disposed by :meth:`close`).
        label: The target's URL, password masked.
        order: Parent-first load order.
        if_exists: What to do with tables that exist.
        existing: Schema tables already in the target.
        target_schema: The schema (PostgreSQL: ``current_schema()``) or database (MariaDB/MySQL:
            ``DATABASE()``) the tables end up in.
        written: Rows staged per table so far.
        step: What is being done (for error messages).
    """

    #: What the staging area is, for messages.
    area: ClassVar[str] = "schema"

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

    def create(self) -> None:
        """Create the staging area and its tables."""
        raise NotImplementedError

    def finish(self) -> dict[str, int]:
        """Put the staged rows in place, keys and constraints added; rows per table.

        Raises:
            SinkError: The database refused (e.g. a key is not unique); what reached the target
                is undone as far as the target allows (the caller then calls :meth:`abort`).
        """
        raise NotImplementedError

    def abort(self) -> str:
        """Drop the staging area (after a failure); returns a note for the error message."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the client's engine (if it was created here)."""
        if self.owned:
            self.engine.dispose()

    def fail(self, exc: BaseException) -> BaseException:
        """Drop the staging area after ``exc`` and return what to raise: a one-line SinkError
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

    def _log_finished(self, started: float) -> None:
        log.info("put %d staged rows in place in %s in %.2fs", sum(self.written.values()), self.label,
                 time.perf_counter() - started)


@dataclass
class _PostgresLoad(StagedLoad):
    """A staged load into PostgreSQL: a staging schema, moved in within one transaction."""

    def create(self) -> None:
        """The staging schema and its bare tables (one transaction: all or nothing)."""
        from psycopg import sql

        staging = self.target.staging
        bare = self.target.ddl.metadata(include=())
        with self.engine.connect() as conn, conn.begin():
            cur: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            self.step = "finding the target schema"
            cur.execute("SELECT current_schema()")
            current = cur.fetchone()[0]
            if current is None:
                raise SinkError(f"{self.label} has no schema to create tables in (search_path names none that "
                                "exists); create one or fix the search_path")
            self.target_schema = current
            self.step = f"creating staging schema {staging}"
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
            # Unqualified CREATEs go to staging; types of the target (extensions', reused enums) stay visible.
            cur.execute("SELECT set_config('search_path', %s || ', ' || current_setting('search_path'), true)",
                        (sql.Identifier(staging).as_string(cur),))
            # Replaced tables' named types are dropped at the end, so the new tables get their own
            # in staging; otherwise, as load_postgresql, a type already in the target is reused.
            fresh = self.if_exists == "replace" and bool(self.existing)
            from sqlalchemy.dialects import postgresql  # loaded for PostgreSQL targets only

            named: dict[str, Any] = {}
            for name in self.to_create:
                for col in bare.tables[name].columns:
                    if isinstance(col.type, (sa.Enum, postgresql.DOMAIN)) and col.type.name:
                        named.setdefault(col.type.name, col.type)
            for type_ in sorted(named.values(), key=lambda t: isinstance(t, postgresql.DOMAIN)):  # enums first
                self.step = f"creating type {type_.name!r}"
                type_.create(conn, checkfirst=not fresh)
            for name in self.to_create:
                self.step = f"creating staging table {name!r}"
                conn.execute(sa.schema.CreateTable(bare.tables[name]))
            for name in self.kept:
                self.step = f"creating staging table {name!r}"
                cols = sql.SQL(", ").join(map(sql.Identifier, self.target.schema.tables[name].column_names))
                # Rows pass through: UNLOGGED (no WAL), the kept table's own column types.
                cur.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
                    sql.Identifier(staging, name), cols, sql.Identifier(self.target_schema, name)))

    def finish(self) -> dict[str, int]:
        """Put the staged rows in place in one transaction, keys and constraints added; rows per table."""
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
        self._log_finished(started)
        return {name: self.written.get(name, 0) for name in self.target.schema.tables}

    def abort(self) -> str:
        """Drop the staging schema (after a failure); returns a note for the error message."""
        try:
            with self.engine.connect() as conn, conn.begin():
                # Writers still in a COPY hold locks on staging tables: wait for them, not forever.
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_ABORT_LOCK_SECONDS}s'")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.target.staging}" CASCADE')
            return "the target was left unchanged (staging schema dropped)"
        except Exception as exc:  # noqa: BLE001 - reported in the error message
            log.error("could not drop staging schema %s: %s", self.target.staging,
                      db_error_line(exc, self.engine.url.password))
            return (f'the target tables were left unchanged, but the staging schema could not be dropped: run '
                    f'DROP SCHEMA "{self.target.staging}" CASCADE')


@dataclass
class _MySQLLoad(StagedLoad):
    """A staged load into MariaDB/MySQL: a staging database on the same server, moved in by one
    atomic ``RENAME TABLE``.

    Attributes:
        moved: The renames done by :meth:`finish` (``(from, to)``, qualified and quoted), undone
            by :meth:`abort` while the rows of kept tables are not committed.
        committed: Whether the staged rows of kept tables are committed into them.
    """

    area: ClassVar[str] = "database"

    moved: list[tuple[str, str]] = field(default_factory=list)
    committed: bool = False

    def _name(self, database: str, table: str) -> str:
        quote = self.engine.dialect.identifier_preparer.quote
        return f"{quote(database)}.{quote(table)}"

    def create(self) -> None:
        """The staging database and its tables: PRIMARY KEY, UNIQUE and CHECK, no FOREIGN KEY
        (as load_mysql creates them); a kept table's as the kept one (``LIKE``). Dropped again
        if a table cannot be created."""
        staging = self.target.staging
        keyed = self.target.ddl.metadata(("primary_key", "unique", "check"))
        staged = sa.MetaData()
        with self.engine.connect() as conn:
            self.step = "finding the target database"
            current = conn.exec_driver_sql("SELECT DATABASE()").scalar()
            if current is None:
                raise SinkError(f"{self.label} names no database to create tables in; add one to the URL "
                                "(mysql://user@host/DATABASE)")
            self.target_schema = current
            if self.if_exists == "replace" and self.existing:
                self._refuse_outside_references(conn)
            self.step = f"creating staging database {staging}"
            conn.exec_driver_sql(f"CREATE DATABASE {self.engine.dialect.identifier_preparer.quote(staging)}")
            for name in self.to_create:
                self.step = f"creating staging table {name!r}"
                conn.execute(sa.schema.CreateTable(keyed.tables[name].to_metadata(staged, schema=staging)))
            for name in self.kept:
                self.step = f"creating staging table {name!r}"
                conn.exec_driver_sql(f"CREATE TABLE {self._name(staging, name)} LIKE "
                                     f"{self._name(self.target_schema, name)}")

    def _refuse_outside_references(self, conn: sa.Connection) -> None:
        """Raise SinkError if tables outside the schema have foreign keys to tables being replaced:
        InnoDB would point them at the old tables as those are renamed out (then dropped), where a
        write without Dask leaves them pointing at the new ones by name."""
        self.step = "looking for foreign keys to the replaced tables"
        replaced = sorted(self.existing)
        names = ", ".join(["%s"] * len(replaced))
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT table_schema, table_name FROM information_schema.key_column_usage "
            f"WHERE referenced_table_schema = %s AND referenced_table_name IN ({names}) "
            "ORDER BY table_schema, table_name", (self.target_schema, *replaced)).fetchall()
        outside = [f"{db}.{name}" if db != self.target_schema else name for db, name in rows
                   if db != self.target_schema or name not in self.target.schema.tables]
        if outside:
            raise SinkError(f"table(s) {', '.join(outside)} outside the schema have foreign keys to tables being "
                            "replaced, which on Dask would follow the old tables out; drop those foreign keys first "
                            "or write without workers/scheduler")

    def finish(self) -> dict[str, int]:
        """Kept tables filled and every foreign key checked in one transaction, new tables moved
        in by one RENAME, their foreign keys added, the staging database dropped; rows per table."""
        staging, target, schema = self.target.staging, self.target_schema, self.target.schema
        full = self.target.ddl.metadata(ALL_CONSTRAINTS)
        quote = self.engine.dialect.identifier_preparer.quote
        started = time.perf_counter()
        with self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            cur = raw.cursor()
            with mysql_session(cur, foreign_key_checks=0):
                try:
                    if self.if_exists == "truncate":
                        for name in reversed(self.kept):
                            self.step = f"emptying table {name!r}"
                            cur.execute(f"DELETE FROM {self._name(target, name)}")  # DELETE, unlike TRUNCATE, rolls back
                    for name in self.kept:
                        self.step = f"inserting the staged rows into table {name!r}"
                        cols = ", ".join(map(quote, schema.tables[name].column_names))
                        cur.execute(f"INSERT INTO {self._name(target, name)} ({cols}) "
                                    f"SELECT {cols} FROM {self._name(staging, name)}")
                    # Every key as the tables will be: new tables still in staging, kept ones in the target.
                    check_foreign_keys(conn, schema, self, {name: staging for name in self.to_create})
                    self.step = "committing"
                    raw.commit()
                    self.committed = bool(self.kept)
                except BaseException:
                    with contextlib.suppress(Exception):
                        raw.rollback()
                    raise
                if self.to_create:
                    self.step = "moving the new tables into place"
                    # One statement: all renames happen or none. Replaced tables go to staging under
                    # fresh names (dropped with it), so the old ones are back if anything fails.
                    replaced = [n for n in reversed(self.order) if n in self.existing and self.if_exists == "replace"]
                    renames = [(self._name(target, n), self._name(staging, f"replaced_{uuid.uuid4().hex[:12]}"))
                               for n in replaced]
                    renames += [(self._name(staging, n), self._name(target, n)) for n in self.to_create]
                    cur.execute("RENAME TABLE " + ", ".join(f"{a} TO {b}" for a, b in renames))
                    self.moved = renames
                    # Validated by the anti-joins above: with checks off, MariaDB adds them in place.
                    add_constraints(conn, full, self.to_create, self, ("foreign_key",))
                self.moved = []  # in place: nothing to undo any more
                self.step = "dropping the staging database"
                try:
                    cur.execute(f"DROP DATABASE {quote(staging)}")
                except Exception as exc:  # noqa: BLE001 - the load is done; say what is left over
                    log.error("wrote %s, but could not drop staging database %s (%s): run DROP DATABASE `%s`",
                              self.label, staging, db_error_line(exc, self.engine.url.password), staging)
        self._log_finished(started)
        return {name: self.written.get(name, 0) for name in schema.tables}

    def abort(self) -> str:
        """Rename back what :meth:`finish` moved, then drop the staging database (after a failure);
        returns a note for the error message."""
        quote = self.engine.dialect.identifier_preparer.quote
        kept = ""
        if self.committed:  # nothing is renamed back then: the kept tables' rows need the new tables
            kept = f"the staged rows of existing table(s) {', '.join(self.kept)} were already committed"
            if self.moved:
                kept += f" and new table(s) {', '.join(self.to_create)} moved in"
        try:
            with self.engine.connect() as conn:
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                # Writers still loading hold locks on staging tables: wait for them, not forever.
                with mysql_session(cur, foreign_key_checks=0, lock_wait_timeout=_ABORT_LOCK_SECONDS):
                    if self.moved and not self.committed:
                        cur.execute("RENAME TABLE " + ", ".join(f"{b} TO {a}" for a, b in reversed(self.moved)))
                        self.moved = []
                    cur.execute(f"DROP DATABASE IF EXISTS {quote(self.target.staging)}")
        except Exception as exc:  # noqa: BLE001 - reported in the error message
            log.error("could not undo the staged load into %s: %s", self.label, db_error_line(exc, self.engine.url.password))
            moved = (f"tables moved in stay there ({', '.join(b for _, b in self.moved)}); "
                     if self.moved and not self.committed else "")
            return (f"{kept + '; ' if kept else ''}{moved}the staging database could not be dropped: run "
                    f"DROP DATABASE `{self.target.staging}`")
        if kept:
            return f"{kept}; staging database dropped"
        return "the target was left unchanged (staging database dropped)"


def open_staged_load(target: str | sa.Engine, schema: Schema, first: Iterable[tuple[str, pd.DataFrame]], *,
                     if_exists: IfExists = "fail", order: Sequence[str] | None = None,
                     int_bounds: Mapping[tuple[str, str], int] | None = None) -> StagedLoad:
    """Check the target as :func:`relsynth.sinks.write` does and create the staging area.

    Args:
        target: PostgreSQL (``postgresql+psycopg``) or MariaDB/MySQL URL or engine; writers
            connect with its URL.
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
            staging area cannot be created (what was created of it is dropped again).
        ConfigError: ``if_exists`` or ``order`` is invalid, or the target is neither PostgreSQL
            over psycopg nor MariaDB/MySQL.
        MissingExtraError: The database driver is not installed.
    """
    if if_exists not in IF_EXISTS:
        raise ConfigError(f"if_exists={if_exists!r} is not valid{did_you_mean(str(if_exists), IF_EXISTS)}; "
                          f"use one of: {', '.join(IF_EXISTS)}")
    load_order = _check_order(schema, order)
    frames: dict[str, pd.DataFrame] = {}
    for name, frame in first:
        frames.setdefault(name, check_frame(name, frame, schema))
    engine, owned = open_engine(target)
    try:
        label = mask_url(engine)
        kind: type[StagedLoad]
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            kind = _PostgresLoad
        elif engine.dialect.name in ("mysql", "mariadb"):
            kind = _MySQLLoad
        else:
            raise ConfigError(f"staged loading by many writers is for PostgreSQL over psycopg 3 and MariaDB/MySQL, "
                              f"not {label}; use a postgresql+psycopg:// or mysql:// URL")
        existing = _existing_tables(engine, schema, if_exists, label)
        ddl = TargetDDL(schema, engine.dialect.name, frames, int_bounds=int_bounds)
        slim = copy.copy(ddl)
        slim.frames = None  # the writers need the decisions, not the data they were made from
        staging = f"relsynth_staging_{uuid.uuid4().hex[:8]}"
        # MariaDB/MySQL writers connect to the staging database itself (unqualified INSERTs land there).
        url = engine.url if kind is _PostgresLoad else engine.url.set(database=staging)
        load = kind(StagingTarget(url.render_as_string(hide_password=False), staging, schema, slim), engine, owned,
                    label, load_order, if_exists, existing, target_schema="")
        try:
            load.create()
        except BaseException as exc:
            raised = load.fail(exc)
            if raised is exc:
                raise
            raise raised from None
        log.info("created staging %s %s in %s", load.area, staging, label)
        return load
    except BaseException:
        if owned:
            engine.dispose()
        raise
