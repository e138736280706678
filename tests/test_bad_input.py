"""Every bad input: one line naming the problem and the fix, a non-zero exit, nothing written.

CLI cases run ``python -m relsynth`` in a subprocess, so the exit code and stderr are the real
ones: 1 for a failure, 2 for a usage or configuration error, 130 for Ctrl-C; stderr is one
``error: …`` line without a traceback. Library cases assert the error class and a stable
fragment of its message. Each case also checks that the target holds no table afterwards, or
exactly what it held before.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
import relsynth.cli
from relsynth.errors import (
    ConfigError,
    MissingExtraError,
    ModelError,
    SchemaError,
    SelectionError,
    SinkError,
    SourceError,
    TargetNotEmptyError,
)

from conftest import MYSQL_SERVER, dataset

PASSWORD = "pw-Zq7-secret"


# ------------------------------------------------------------------------------------ helpers


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m relsynth ARGS`` and return the finished process."""
    return subprocess.run([sys.executable, "-m", "relsynth", *args], capture_output=True, text=True)


def assert_error_line(r: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """The process exited with ``code`` and printed one ``error:`` line holding every fragment."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def tables_in(url: str) -> dict[str, int]:
    """Rows per table of the database at ``url``; {} when it has none (or the SQLite file is absent)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return {}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {n: conn.execute(sa.select(sa.func.count()).select_from(sa.table(n))).scalar_one() for n in names}
    finally:
        engine.dispose()


def make_sqlite(path: Path, script: str) -> str:
    """Create a SQLite file from a SQL script and return its URL."""
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


PARENT_CHILD = """
CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL);
CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER NOT NULL REFERENCES p(id), amount REAL);
""" + "".join(f"INSERT INTO p VALUES ({i}, 'n{i % 4}', {i * 1.5});" for i in range(1, 31)) + "".join(
    f"INSERT INTO c VALUES ({i}, {i % 30 + 1}, {i * 0.25});" for i in range(1, 91)
)


@pytest.fixture
def source(tmp_path: Path) -> str:
    """A small parent/child SQLite source."""
    return make_sqlite(tmp_path / "source.db", PARENT_CHILD)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty target database of each dialect."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")


# ------------------------------------------------------------------------------------ connections


def test_unreachable_server_source_and_target(source: str, tmp_path: Path) -> None:
    dst = tmp_path / "out.db"
    down = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/db"  # nothing listens on port 1
    r = cli("clone", down, f"sqlite:///{dst}")
    line = assert_error_line(r, 1, "cannot connect", "127.0.0.1:1", "check host, port")
    assert PASSWORD not in r.stderr and "***" in line
    assert not dst.exists()
    r = cli("clone", source, down)
    assert_error_line(r, 1, "cannot connect for writing", "check the host, port")
    assert PASSWORD not in r.stderr
    with pytest.raises(SourceError, match="cannot connect"):
        relsynth.clone("mysql://root@host-that-does-not-exist.invalid/db", f"sqlite:///{dst}")
    assert not dst.exists()


def test_unreachable_target_fails_before_the_source_is_read(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import relsynth.api

    def not_now(*args: object, **kwargs: object) -> None:
        raise AssertionError("the source was read before the target was checked")

    monkeypatch.setattr(relsynth.api, "read_schema", not_now)
    with pytest.raises(SinkError, match="cannot connect for writing"):
        relsynth.clone(source, f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/db")


@pytest.fixture
def mysql_user(mysql_url: str) -> str:
    """A MariaDB user whose password is PASSWORD, allowed everything on the test database."""
    name = f"rs_{uuid.uuid4().hex[:8]}"
    db = sa.make_url(mysql_url).database
    admin = sa.create_engine(MYSQL_SERVER + "/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE USER '{name}'@'%%' IDENTIFIED BY '{PASSWORD}'")
        conn.exec_driver_sql(f"GRANT ALL ON `{db}`.* TO '{name}'@'%%'")
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
    admin.dispose()


@pytest.mark.mysql
def test_wrong_password(source: str, mysql_url: str, mysql_user: str, tmp_path: Path) -> None:
    url = sa.make_url(mysql_url)
    wrong = url.set(username=mysql_user, password="not-" + PASSWORD).render_as_string(hide_password=False)
    right = url.set(username=mysql_user, password=PASSWORD).render_as_string(hide_password=False)
    dst = tmp_path / "out.db"
    r = cli("clone", wrong, f"sqlite:///{dst}")
    assert_error_line(r, 1, "cannot connect", "Access denied", "user and password")
    assert "not-" + PASSWORD not in r.stderr and not dst.exists()
    with pytest.raises(SinkError, match="Access denied") as info:
        relsynth.clone(source, wrong)
    assert PASSWORD not in str(info.value)
    # The right password works, and the target is untouched by the refused attempts.
    assert tables_in(mysql_url) == {}
    assert relsynth.clone(source, right, seed=1).violations == 0


def test_unknown_dialect_and_missing_driver(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dst = tmp_path / "out.db"
    r = cli("clone", "foo://u:pw@host/db", f"sqlite:///{dst}")
    assert_error_line(r, 2, "unknown database type 'foo'", "use sqlite:///PATH")
    r = cli("clone", source, "foo://u:pw@host/db")
    assert_error_line(r, 2, "unknown database type 'foo'", "use sqlite:///PATH")
    with pytest.raises(ConfigError, match="oracledb"):
        relsynth.clone("oracle://u@host/db", f"sqlite:///{dst}")
    with pytest.raises(ConfigError, match="oracledb"):
        relsynth.clone(source, "oracle://u@host/db")
    # Drivers installed by relsynth's extras: the message gives the pip line.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "pymysql", None)
    with pytest.raises(MissingExtraError, match=r'pip install "relsynth\[postgres\]"'):
        relsynth.clone("postgresql://postgres@127.0.0.1/db", f"sqlite:///{dst}")
    with pytest.raises(MissingExtraError, match=r'pip install "relsynth\[postgres\]"'):
        relsynth.clone(source, "postgresql://postgres@127.0.0.1/db")
    with pytest.raises(MissingExtraError, match=r'pip install "relsynth\[mysql\]"'):
        relsynth.clone(source, "mariadb://root@127.0.0.1/db")
    assert not dst.exists()


def test_in_memory_or_non_database_target(source: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="in-memory SQLite"):
        relsynth.clone(source, "sqlite://")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    r = cli("clone", source, f"sqlite:///{text}")
    assert_error_line(r, 1, "file is not a database", "is a SQLite database")
    assert text.read_text() == "not a database\n" * 100
    r = cli("clone", source, f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}")
    assert_error_line(r, 1, "does not exist or is not writable", "create it or choose another path")
    assert not (tmp_path / "no-such-folder").exists()


# ------------------------------------------------------------------------------------ selection and contents


def test_missing_table_in_include_or_exclude(tmp_path: Path) -> None:
    src = f"sqlite:///{dataset('chinook')}"
    dst = tmp_path / "out.db"
    r = cli("clone", src, f"sqlite:///{dst}", "--include", "Album,Artst")
    assert_error_line(r, 2, "no table 'Artst'", "did you mean 'Artist'", "tables are:")
    r = cli("clone", src, f"sqlite:///{dst}", "--exclude", "Invoices")
    assert_error_line(r, 2, "no table 'Invoices'", "did you mean 'Invoice'")
    assert not dst.exists()
    frames = {"a": pd.DataFrame({"x": [1, 2, 3]})}
    with pytest.raises(SelectionError, match="no table 'b'"):
        relsynth.fit(frames, include=["b"])
    with pytest.raises(SchemaError):  # still a SchemaError for code that catches those
        relsynth.fit(frames, exclude=["b"])


def test_fk_to_a_table_outside_the_selection(source: str, tmp_path: Path) -> None:
    dst = tmp_path / "out.db"
    r = cli("clone", source, f"sqlite:///{dst}", "--include", "c")
    assert_error_line(r, 2, "foreign key (p_id) -> p(id)", "include 'p' or exclude 'c'")
    r = cli("clone", source, f"sqlite:///{dst}", "--exclude", "p")
    assert_error_line(r, 2, "include 'p' or exclude 'c'")
    assert not dst.exists()
    # The same for DataFrames with declared keys.
    schema = relsynth.inspect(source).schema
    frames = {"p": pd.DataFrame({"id": [1], "name": ["a"], "score": [1.0]}),
              "c": pd.DataFrame({"id": [1], "p_id": [1], "amount": [2.0]})}
    with pytest.raises(SelectionError, match="include 'p' or exclude 'c'"):
        relsynth.fit(frames, schema=schema, include=["c"])


def test_empty_or_missing_source_database(tmp_path: Path) -> None:
    empty = make_sqlite(tmp_path / "empty.db", "")
    dst = tmp_path / "out.db"
    r = cli("clone", empty, f"sqlite:///{dst}")
    assert_error_line(r, 1, "has no tables", "point relsynth at a database")
    r = cli("clone", f"sqlite:///{tmp_path / 'absent.db'}", f"sqlite:///{dst}")
    assert_error_line(r, 1, "does not exist", "check the path")
    assert not dst.exists() and not (tmp_path / "absent.db").exists()


def test_empty_table_is_cloned_empty_but_an_all_empty_source_is_an_error(tmp_path: Path) -> None:
    src = make_sqlite(tmp_path / "src.db", PARENT_CHILD + "CREATE TABLE audit (id INTEGER PRIMARY KEY, "
                      "c_id INTEGER REFERENCES c(id), note TEXT); CREATE TABLE log (id INTEGER PRIMARY KEY, msg TEXT);")
    dst = f"sqlite:///{tmp_path / 'out.db'}"
    result = relsynth.clone(src, dst, seed=1)
    assert result.violations == 0
    assert tables_in(dst) == {"p": 30, "c": 90, "audit": 0, "log": 0}
    blank = make_sqlite(tmp_path / "blank.db", "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);"
                        "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));")
    out = tmp_path / "blank-out.db"
    r = cli("clone", blank, f"sqlite:///{out}")
    assert_error_line(r, 1, "every selected table of the source is empty (a, b)", "fill at least one table")
    assert not out.exists()
    with pytest.raises(SourceError, match=r"every selected table of the source is empty \(log\)"):
        relsynth.fit(src, include=["log"])
    with pytest.raises(SourceError, match="is empty"):
        relsynth.fit({"a": pd.DataFrame({"x": pd.Series([], dtype="Int64")})})


ALL_NULL = """
CREATE TABLE p (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE t (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id), i INTEGER, f REAL, n NUMERIC(8, 2),
                s VARCHAR(20), d DATE, ts DATETIME, b BOOLEAN, blob BLOB, j JSON, u UUID, kept TEXT);
""" + "".join(f"INSERT INTO p VALUES ({i}, 'p{i}');" for i in range(1, 6)) + "".join(
    f"INSERT INTO t (id, kept) VALUES ({i}, 'k{i % 3}');" for i in range(1, 41)
)


def test_all_null_columns_stay_all_null(target: str, tmp_path: Path) -> None:
    src = make_sqlite(tmp_path / "nulls.db", ALL_NULL)
    result = relsynth.clone(src, target, seed=1)
    assert result.violations == 0
    engine = sa.create_engine(target)
    with engine.connect() as conn:
        t = sa.Table("t", sa.MetaData(), autoload_with=conn)
        rows = conn.execute(sa.select(t)).mappings().all()
    engine.dispose()
    assert len(rows) == 40
    for col in ("p_id", "i", "f", "n", "s", "d", "ts", "b", "blob", "j", "u"):
        assert all(row[col] is None for row in rows), col
    assert {row["kept"] for row in rows} <= {"k0", "k1", "k2"}


def test_column_type_that_cannot_be_handled(tmp_path: Path) -> None:
    frames = {"a": pd.DataFrame({"id": [1, 2, 3], "z": np.array([1 + 2j, 3j, 1], dtype=complex)})}
    with pytest.raises(SchemaError, match=r"column a\.z has dtype complex128, which has no kind; convert it"):
        relsynth.fit(frames)


@pytest.mark.postgres
def test_postgres_types_without_a_kind_are_cloned_as_their_text(pg_url: str, pg_url2: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TYPE pair AS (a int, b text)")
        conn.exec_driver_sql("CREATE TABLE odd (id int PRIMARY KEY, c pair, r int4range, pt point, box box, "
                             "cs pair[], tq tsquery)")
        conn.exec_driver_sql("INSERT INTO odd SELECT g, ROW(g, 'x' || g)::pair, int4range(g, g + 5), point(g, -g), "
                             "box(point(0, 0), point(g, g)), ARRAY[ROW(g, 'y')::pair], 'a & b'::tsquery "
                             "FROM generate_series(1, 30) g")
    engine.dispose()
    result = relsynth.clone(pg_url, pg_url2, seed=1)
    assert result.violations == 0 and tables_in(pg_url2) == {"odd": 30}


# ------------------------------------------------------------------------------------ target


def test_non_empty_target_without_if_exists(source: str, target: str) -> None:
    relsynth.clone(source, target, seed=1)
    before = tables_in(target)
    engine = sa.create_engine(target)
    with engine.connect() as conn:
        rows_before = conn.execute(sa.text("SELECT * FROM c ORDER BY id")).all()
    r = cli("clone", source, target, "--seed", "2")
    assert_error_line(r, 1, "already has tables c, p", "pass --if-exists truncate|append|replace")
    with pytest.raises(TargetNotEmptyError):
        relsynth.clone(source, target, seed=2)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM c ORDER BY id")).all() == rows_before
    engine.dispose()
    assert tables_in(target) == before


def test_target_equal_to_source_by_any_path(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(sa.make_url(source).database)
    before = path.read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(path)
    os.link(path, tmp_path / "hard.db")
    monkeypatch.chdir(tmp_path / "sub")
    spellings = [source, "sqlite:///../source.db", f"sqlite:///{tmp_path}/sub/../source.db",
                 f"sqlite:///{tmp_path / 'link.db'}", f"sqlite:///{tmp_path / 'hard.db'}"]
    for same in spellings:
        with pytest.raises(ConfigError, match="is the source database"):
            relsynth.clone(source, same, if_exists="replace")
    r = cli("clone", source, "sqlite:///../link.db", "--if-exists", "replace")
    assert_error_line(r, 2, "is the source database", "choose another target")
    assert path.read_bytes() == before


@pytest.mark.postgres
def test_target_equal_to_source_on_postgres_by_another_host_spelling(source: str, pg_url: str) -> None:
    relsynth.clone(source, pg_url, seed=1)
    before = tables_in(pg_url)
    url = sa.make_url(pg_url)
    spellings = [url.set(host="localhost"), url.set(host="localhost", port=None), url.set(drivername="postgresql"),
                 url.set(host=os.uname().nodename)]
    for same in spellings:
        with pytest.raises(ConfigError, match="is the source database"):
            relsynth.clone(pg_url, same.render_as_string(hide_password=False), if_exists="replace")
    assert tables_in(pg_url) == before


@pytest.mark.mysql
def test_target_equal_to_source_on_mariadb_by_another_host_spelling(source: str, mysql_url: str) -> None:
    relsynth.clone(source, mysql_url, seed=1)
    before = tables_in(mysql_url)
    url = sa.make_url(mysql_url)
    for same in (url.set(drivername="mariadb"), url.set(host="localhost", port=3306)):
        with pytest.raises(ConfigError, match="is the source database"):
            relsynth.clone(mysql_url, same.render_as_string(hide_password=False), if_exists="replace")
    assert tables_in(mysql_url) == before


# ------------------------------------------------------------------------------------ options


def test_bad_scale_and_seed(source: str, tmp_path: Path) -> None:
    dst = tmp_path / "out.db"
    r = cli("clone", source, f"sqlite:///{dst}", "--scale", "-1")
    assert_error_line(r, 2, "scale must be a positive number, got -1", "--scale 2")
    r = cli("clone", source, f"sqlite:///{dst}", "--scale", "abc")
    assert_error_line(r, 2, "Invalid value for '--scale'", "--help")
    r = cli("clone", source, f"sqlite:///{dst}", "--seed", "-3")
    assert_error_line(r, 2, "seed must be a whole number", "--seed 7")
    for scale in (-1, 0, float("nan"), float("inf"), "abc", None):
        with pytest.raises(ConfigError, match="scale must be a"):
            relsynth.clone(source, f"sqlite:///{dst}", scale=scale)  # type: ignore[arg-type]
    for seed in (-1, 2**64, 1.5, "7"):
        with pytest.raises(ConfigError, match="seed must be"):
            relsynth.clone(source, f"sqlite:///{dst}", seed=seed)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="seed must be"):
            relsynth.fit(source, seed=seed)  # type: ignore[arg-type]
    assert not dst.exists()


def test_usage_errors_are_one_line(source: str, tmp_path: Path) -> None:
    assert_error_line(cli("clone", source), 2, "no target database URL", "RELSYNTH_TARGET")
    assert_error_line(cli("clone", source, "sqlite:///x.db", "--bogus"), 2, "No such option: --bogus")
    assert_error_line(cli("clone", source, "sqlite:///x.db", "--if-exists", "merge"), 2,
                      "if_exists must be fail, truncate, append or replace")
    assert_error_line(cli("--log-level", "loud", "inspect", source), 2, "--log-level must be")
    assert not Path("x.db").exists()


# ------------------------------------------------------------------------------------ model files


def _rewrite(src: Path, dst: Path, edit: object) -> Path:
    """Copy model file ``src`` to ``dst`` with ``edit(doc)`` applied to its model.json."""
    with zipfile.ZipFile(src) as zf:
        doc = json.loads(zf.read("model.json"))
        arrays = zf.read("arrays.npz")
    edit(doc)  # type: ignore[operator]
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        zf.writestr("arrays.npz", arrays)
    return dst


class _Boom:
    """Unpickling this would create a file: proof that a model file never runs code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    src = make_sqlite(folder / "src.db", PARENT_CHILD)
    return relsynth.fit(src).save(folder / "good.rsm")


def test_corrupt_truncated_foreign_or_newer_model_files(model_file: Path, tmp_path: Path) -> None:
    data = model_file.read_bytes()
    truncated = tmp_path / "truncated.rsm"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.rsm"
    garbage.write_bytes(os.urandom(2048))
    not_json = tmp_path / "not-json.rsm"
    with zipfile.ZipFile(not_json, "w") as zf:
        zf.writestr("model.json", "{not json")
        zf.writestr("arrays.npz", b"")
    no_arrays = tmp_path / "no-arrays.rsm"
    with zipfile.ZipFile(no_arrays, "w") as zf, zipfile.ZipFile(model_file) as good:
        zf.writestr("model.json", good.read("model.json"))
    marker = tmp_path / "code-ran"
    pickled = tmp_path / "pickled.rsm"
    with zipfile.ZipFile(model_file) as good:
        doc = good.read("model.json")
    payload = np.empty(1, dtype=object)
    payload[0] = _Boom(str(marker))
    buf = __import__("io").BytesIO()
    np.savez(buf, a0=payload, allow_pickle=True)
    with zipfile.ZipFile(pickled, "w") as zf:
        zf.writestr("model.json", doc)
        zf.writestr("arrays.npz", buf.getvalue())
    cases = {
        truncated: "is not a readable relsynth model file",
        garbage: "is not a readable relsynth model file (BadZipFile); refit it",
        not_json: "is not a readable relsynth model file (JSONDecodeError)",
        no_arrays: "is not a readable relsynth model file (KeyError)",
        pickled: "is not a readable relsynth model file (ValueError)",
        _rewrite(model_file, tmp_path / "newer.rsm", lambda d: d.update(version=99)):
            "has model format version 99, this relsynth reads versions 2 to 3; refit",
        _rewrite(model_file, tmp_path / "foreign.rsm", lambda d: d.update(format="other")):
            "is not a relsynth model file; refit it with `relsynth fit`",
        _rewrite(model_file, tmp_path / "no-tables.rsm", lambda d: d.pop("tables")): "is damaged (KeyError",
        _rewrite(model_file, tmp_path / "tables-list.rsm", lambda d: d.update(tables=[1, 2])): "is damaged",
        _rewrite(model_file, tmp_path / "schema-str.rsm", lambda d: d.update(schema="x")): "is damaged",
        tmp_path / "absent.rsm": "does not exist; fit one with `relsynth fit SRC -o absent.rsm`",
        tmp_path: "is a folder, not a model file",
    }
    for path, fragment in cases.items():
        with pytest.raises(ModelError) as info:
            relsynth.load(path)
        assert fragment in str(info.value), (path.name, str(info.value))
        assert "\n" not in str(info.value)
    assert not marker.exists()
    dst = tmp_path / "out.db"
    r = cli("sample", str(truncated), "--to", f"sqlite:///{dst}")
    assert_error_line(r, 1, "is not a readable relsynth model file", "refit it")
    r = cli("sample", str(tmp_path / "newer.rsm"), "--to", f"sqlite:///{dst}")
    assert_error_line(r, 1, "model format version 99")
    assert not dst.exists()


def test_model_save_to_an_unwritable_place(model_file: Path, tmp_path: Path, source: str) -> None:
    model = relsynth.load(model_file)
    with pytest.raises(ModelError, match="cannot write model file .*check that the folder exists"):
        model.save(tmp_path / "missing" / "m.rsm")
    r = cli("fit", source, "-o", str(tmp_path / "missing" / "m.rsm"))
    assert_error_line(r, 1, "cannot write model file", "No such file or directory")
    assert list(tmp_path.glob("**/*.partial")) == []


# ------------------------------------------------------------------------------------ interrupted writes


def _fail_on_second_table(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make the writers raise ``error`` while converting the rows of the second table they load."""
    import relsynth.sinks.sql as sql

    seen: list[str] = []

    def wrap(original):  # noqa: ANN001, ANN202 - test shim
        def converted(frame, table, *rest):  # noqa: ANN001, ANN202
            if table.name not in seen:
                seen.append(table.name)
            if len(seen) >= 2:
                raise error
            return original(frame, table, *rest)

        return converted

    monkeypatch.setattr(sql, "python_columns", wrap(sql.python_columns))  # MariaDB
    monkeypatch.setattr(sql, "wire_columns", wrap(sql.wire_columns))  # SQLite, here or in its writer process
    monkeypatch.setattr(sql, "pg_text", wrap(sql.pg_text))


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("disk on fire")], ids=["ctrl-c", "failure"])
def test_interrupted_or_failed_write_leaves_no_table(source: str, target: str, error: BaseException,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_on_second_table(monkeypatch, error)
    with pytest.raises(type(error)):
        relsynth.clone(source, target, seed=1)
    assert tables_in(target) == {}


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("disk on fire")], ids=["ctrl-c", "failure"])
@pytest.mark.parametrize("mode", ["replace", "truncate"])
def test_interrupted_write_into_existing_tables_keeps_them(source: str, target: str, mode: str, error: BaseException,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if target.startswith("mysql") and mode == "replace":
        pytest.skip("MariaDB cannot roll back DROP TABLE; the loader says so in its error")
    relsynth.clone(source, target, seed=1)
    engine = sa.create_engine(target)
    with engine.connect() as conn:
        before = {t: conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY id")).all() for t in ("p", "c")}
    _fail_on_second_table(monkeypatch, error)
    with pytest.raises(type(error)):
        relsynth.clone(source, target, seed=2, if_exists=mode)  # type: ignore[arg-type]
    with engine.connect() as conn:
        after = {t: conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY id")).all() for t in ("p", "c")}
    engine.dispose()
    assert after == before


def test_ctrl_c_in_the_cli_is_one_line(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _fail_on_second_table(monkeypatch, KeyboardInterrupt())
    dst = tmp_path / "out.db"
    monkeypatch.setattr(sys, "argv", ["relsynth", "clone", source, f"sqlite:///{dst}"])
    with pytest.raises(SystemExit) as info:
        relsynth.cli.main()
    assert info.value.code == 130
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted (Ctrl-C)"), lines
    assert tables_in(f"sqlite:///{dst}") == {}
