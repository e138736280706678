"""The source is only ever read: no statement that modifies it is sent, on any dialect.

Two kinds of proof. First, every statement relsynth sends to the source during ``clone``,
``inspect`` (with its FK anti-joins), ``fit`` and ``evaluate`` is recorded below SQLAlchemy, at
the driver, so raw-cursor paths (PostgreSQL ``COPY ... TO STDOUT``) are seen too: SQLite's
trace callback, libpq's protocol trace for psycopg (which also shows the server's own command
tags) and PyMySQL's ``Connection.query``. None may write (INSERT/UPDATE/DELETE/CREATE/DROP/
ALTER/TRUNCATE/..., temp tables included, ``COPY ... FROM``). Second, a PostgreSQL role that may
only CONNECT and SELECT, with ``default_transaction_read_only=on`` and no TEMP right, clones.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import relsynth
from relsynth.data import build_hospital, hospital_schema, write_hospital_sqlite
from relsynth.schema import reader

from conftest import PG_SERVER, dataset

#: Statements that change a database (or its session's catalog: temp tables are CREATE).
_WRITING = re.compile(
    r"^(INSERT|UPDATE|DELETE|MERGE|UPSERT|REPLACE|CREATE|DROP|ALTER|TRUNCATE|RENAME|GRANT|REVOKE|COMMENT|"
    r"VACUUM|REINDEX|CLUSTER|REFRESH|LOCK|LOAD|IMPORT|ATTACH|DETACH|CALL|DO|HANDLER|OPTIMIZE|REPAIR|ANALYZE)\b",
    re.IGNORECASE,
)
#: PostgreSQL command tags of writing statements (the server's own account of what it did).
_WRITING_TAGS = re.compile(r"^(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|GRANT|REVOKE|COMMENT|"
                           r"SELECT INTO|COPY FROM|VACUUM|REINDEX|CLUSTER|REFRESH|LOCK)\b")


def writes(sql: str) -> bool:
    """Whether ``sql`` (one statement) could modify the database it runs in."""
    text = re.sub(r"/\*.*?\*/|--[^\n]*", " ", sql, flags=re.DOTALL).strip().lstrip("(").strip()
    if _WRITING.match(text):
        return True
    if re.match(r"COPY\b", text, re.IGNORECASE) and re.search(r"\bFROM\b\s+(STDIN|'|PROGRAM)", text, re.IGNORECASE):
        return True
    if re.match(r"SELECT\b", text, re.IGNORECASE) and re.search(r"\bINTO\s+(TEMP|TEMPORARY|UNLOGGED|TABLE)\b",
                                                                text, re.IGNORECASE):
        return True
    # SQLite pragmas that set something persistent (journal_mode, user_version, ...).
    m = re.match(r"PRAGMA\s+(\w+)\s*=", text, re.IGNORECASE)
    return bool(m) and m.group(1).lower() not in ("foreign_keys", "query_only", "defer_foreign_keys")


class Recorder:
    """Every statement sent to the source, captured at the driver."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.statements: list[str] = []
        self.traces: list[Path] = []

    def attach(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "connect", self._on_connect)
        engine.dispose()  # the connection opened to check the source is dropped: new ones get traced

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        if hasattr(dbapi_conn, "set_trace_callback"):  # sqlite3
            dbapi_conn.set_trace_callback(self.statements.append)
        elif hasattr(dbapi_conn, "pgconn"):  # psycopg 3: libpq's protocol trace, one file per connection
            from psycopg import pq

            path = self.folder / f"trace-{len(self.traces)}.txt"
            self.traces.append(path)
            handle = path.open("w")
            dbapi_conn.pgconn.trace(handle.fileno())
            dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            dbapi_conn._rs_trace_file = handle  # kept open as long as the connection
        elif type(dbapi_conn).__module__.startswith("pymysql"):
            dbapi_conn._rs_source = True  # recorded by the Connection.query wrapper of the fixture

    def pg_messages(self) -> tuple[list[str], list[str], int]:
        """(statements sent, command tags returned, CopyIn responses) from the libpq traces."""
        sent: list[str] = []
        tags: list[str] = []
        copy_in = 0
        for path in self.traces:
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) < 4:
                    continue
                side, what, rest = parts[0], parts[2], parts[3]
                if side == "F" and what == "Query":
                    sent.append(rest.strip().strip('"'))
                elif side == "F" and what == "Parse":
                    m = re.match(r'\s*"[^"]*" "(.*)" \d+', rest)
                    sent.append(m.group(1) if m else rest)
                elif side == "B" and what == "CommandComplete":
                    tags.append(rest.strip().strip('"'))
                elif side == "B" and what == "CopyInResponse":
                    copy_in += 1
        return sent, tags, copy_in


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Records the statements of every engine relsynth opens on a source (all go through reader.connect)."""
    rec = Recorder(tmp_path)
    original = reader.connect

    def recording_connect(url: Any, read_only: bool = True) -> sa.Engine:
        engine = original(url, read_only)
        rec.attach(engine)
        return engine

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("relsynth") and getattr(module, "connect", None) is original:
            monkeypatch.setattr(module, "connect", recording_connect)
    pymysql = pytest.importorskip("pymysql")
    query = pymysql.connections.Connection.query

    def recording_query(self: Any, sql: Any, unbuffered: bool = False) -> Any:
        if getattr(self, "_rs_source", False):
            rec.statements.append(sql.decode() if isinstance(sql, bytes) else str(sql))
        return query(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", recording_query)
    arrow_reads = reader._ArrowReads.__init__

    def recording_arrow_reads(self: Any, conn: Any, statements: list[tuple[str, Any]], **options: Any) -> None:
        rec.statements.extend(sql for sql, _ in statements if sql)  # SQLite and PostgreSQL over ADBC
        arrow_reads(self, conn, statements, **options)

    monkeypatch.setattr(reader._ArrowReads, "__init__", recording_arrow_reads)
    yield rec


def exercise(source: str, target: str, tmp_path: Path) -> None:
    """Everything that reads a source: inspect (FK anti-joins), clone, fit, evaluate."""
    relsynth.inspect(source)
    assert relsynth.clone(source, target, seed=1).violations == 0
    relsynth.fit(source, fit_rows=50).save(tmp_path / "m.rsm")  # a sampled fit reads keys, then chunks
    relsynth.evaluate(source, target, detection=False)


def test_sqlite_source_gets_only_reads(recorder: Recorder, tmp_path: Path) -> None:
    for name, path in (("demo", tmp_path / "demo.db"), ("chinook", dataset("chinook"))):
        if name == "demo":
            write_hospital_sqlite(path, n_patients=300, seed=0)
        before = path.read_bytes()
        recorder.statements.clear()
        exercise(f"sqlite:///{path}", f"sqlite:///{tmp_path / f'{name}-copy.db'}", tmp_path)
        assert len(recorder.statements) > 20, recorder.statements
        assert [s for s in recorder.statements if writes(s)] == []
        assert path.read_bytes() == before


@pytest.mark.postgres
def test_postgres_source_gets_only_reads(recorder: Recorder, pg_url: str, tmp_path: Path, pg_reader: str) -> None:
    relsynth.write(build_hospital(300, seed=0), pg_url, hospital_schema())
    exercise(pg_url, f"sqlite:///{tmp_path / 'copy.db'}", tmp_path)
    sent, tags, copy_in = recorder.pg_messages()
    if pg_reader == "copy":
        assert any(s.upper().startswith("COPY") for s in sent), "the rows are read with COPY ... TO STDOUT"
    else:  # the rows' SELECTs run on ADBC's connection (in a READ ONLY transaction of its own)
        assert not any(s.upper().startswith("COPY") for s in sent) and _row_reads(recorder.statements)
        sent += recorder.statements
    assert len(sent) > 20 and tags
    assert [s for s in sent if writes(s)] == []
    assert [t for t in tags if _WRITING_TAGS.match(t)] == []
    assert copy_in == 0


@pytest.mark.mysql
def test_mariadb_source_gets_only_reads(recorder: Recorder, mysql_url: str, tmp_path: Path) -> None:
    relsynth.write(build_hospital(300, seed=0), mysql_url, hospital_schema())
    exercise(mysql_url, f"sqlite:///{tmp_path / 'copy.db'}", tmp_path)
    assert len(recorder.statements) > 20, recorder.statements
    assert [s for s in recorder.statements if writes(s)] == []


@pytest.mark.postgres
def test_clone_through_a_read_only_postgres_role(pg_url: str, pg_url2: str, tmp_path: Path) -> None:
    relsynth.write(build_hospital(300, seed=0), pg_url, hospital_schema())
    role = f"rs_ro_{uuid.uuid4().hex[:8]}"
    db = sa.make_url(pg_url).database
    admin = sa.create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    owner = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        conn.exec_driver_sql(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")  # no TEMP, no CONNECT for others
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {db} TO {role}")
    with owner.connect() as conn:
        conn.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    source = sa.make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    try:
        # The role really cannot write, not even a temp table.
        probe = sa.create_engine(source)
        for stmt in ("CREATE TEMP TABLE t (x int)", "INSERT INTO departments (department_id) VALUES (999)"):
            with pytest.raises(sa.exc.DBAPIError, match="read-only|permission denied"):
                with probe.begin() as conn:
                    conn.exec_driver_sql(stmt)
        probe.dispose()
        info = relsynth.inspect(source)
        assert info.dangling_rows == 0
        for target in (pg_url2, f"sqlite:///{tmp_path / 'copy.db'}"):
            result = relsynth.clone(source, target, seed=1)
            assert result.violations == 0 and result.rows_written["patients"] == 300
        report = relsynth.evaluate(source, pg_url2, detection=False)
        assert report.summary["integrity_violations"] == 0
    finally:
        with owner.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
        owner.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def test_the_write_detector() -> None:
    for sql in ("INSERT INTO t VALUES (1)", "  /* c */ update t set x=1", "CREATE TEMP TABLE x (a int)",
                "COPY t FROM STDIN", "SELECT * INTO TEMP t2 FROM t", "PRAGMA journal_mode=WAL", "(DELETE FROM t)",
                "TRUNCATE t", "drop table t", "ALTER TABLE t ADD x int", "REPLACE INTO t VALUES (1)"):
        assert writes(sql), sql
    for sql in ("SELECT 1", "COPY (SELECT * FROM t) TO STDOUT", "SET SESSION TRANSACTION READ ONLY",
                "PRAGMA table_info(t)", "BEGIN", "SHOW TABLES", "SELECT 'INSERT INTO' AS x", "PRAGMA foreign_keys=ON"):
        assert not writes(sql), sql


def _row_reads(statements: list[str]) -> list[str]:
    """The statements that read a table's rows (not its row count, not the catalog)."""
    return [s for s in statements if re.match(r"\s*(COPY\s*\()?\s*SELECT\b", s, re.IGNORECASE)
            and re.search(r'\bFROM\s+(ONLY\s+)?"', s, re.IGNORECASE) and "count(" not in s.lower()]


def test_inspect_reads_a_bounded_sample_for_personal_data(recorder: Recorder) -> None:
    url = f"sqlite:///{dataset('chinook')}"
    recorder.statements.clear()
    info = relsynth.inspect(url, integrity=False)
    assert info.pii["Customer"]["Email"]["kind"] == "email"
    reads = _row_reads(recorder.statements)
    # One read per table with text columns (Track has 3,503 rows), each with its LIMIT.
    assert any('FROM "Track"' in s for s in reads), recorder.statements
    assert reads and all(re.search(r"\bLIMIT 1000\b", s) for s in reads), reads


@pytest.mark.postgres
def test_postgres_inspect_reads_a_bounded_sample(recorder: Recorder, pg_url: str, pg_reader: str) -> None:
    relsynth.write(build_hospital(1500, seed=0), pg_url, hospital_schema())
    relsynth.inspect(pg_url, integrity=False)
    sent, _, _ = recorder.pg_messages()
    reads = _row_reads(sent + recorder.statements)  # COPY on psycopg's connection, or SELECTs on ADBC's
    assert any('"patients"' in s for s in reads), sent
    assert all(re.search(r"\bLIMIT 1000\b", s) for s in reads), reads


@pytest.mark.mysql
def test_mariadb_inspect_reads_a_bounded_sample(recorder: Recorder, mysql_url: str) -> None:
    relsynth.write(build_hospital(1500, seed=0), mysql_url, hospital_schema())
    relsynth.inspect(mysql_url, integrity=False)
    reads = [s for s in recorder.statements if re.match(r"\s*SELECT\b", s, re.IGNORECASE)
             and re.search(r"\bFROM\s+`?patients`?", s, re.IGNORECASE) and "count(" not in s.lower()]
    assert reads and all(re.search(r"\bLIMIT 1000\b", s) for s in reads), recorder.statements
