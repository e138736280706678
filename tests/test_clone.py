"""End to end: relsynth.clone and the CLI on the demo and real sample databases, per dialect."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.data import write_hospital_sqlite
from relsynth.errors import ConfigError, TargetNotEmptyError

from conftest import dataset, load_pg_dump

runner = CliRunner()


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "hospital.db"
    write_hospital_sqlite(path, n_patients=2000, seed=0)
    return f"sqlite:///{path}"


SAMPLE_DATABASES = ["chinook", "sakila", "northwind", "adventureworkslt"]

#: Per sample database, a child table and one of its FK columns whose enforcement is probed in
#: the target (names are matched ignoring case and underscores: InvoiceLine = invoice_line).
PROBES = {
    "chinook": ("InvoiceLine", "InvoiceId"),
    "sakila": ("payment", "customer_id"),
    "northwind": ("orders", "customer_id"),  # a text-code FK ('ALFKI')
    "adventureworkslt": ("SalesOrderDetail", "ProductID"),  # composite PK, UNIQUE rowguid beside it
}


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        out = {n: conn.execute(sa.select(sa.func.count()).select_from(sa.table(n))).scalar_one() for n in names}
    engine.dispose()
    return out


def _assert_clone_ok(result: relsynth.CloneResult, target: str | None = None, tolerance: float = 0.1) -> None:
    """No violation; per table rows within ``tolerance``; with ``target``, every table there with its rows."""
    assert result.violations == 0, result.integrity
    for name, n in result.rows_source.items():
        got = result.rows_written[name]
        assert abs(got - n) <= max(tolerance * n, 1), f"{name}: {got} rows for {n} in the source"
        if n:
            assert got > 0, f"{name} is empty"
    if target is not None:
        present = _counts(target)
        missing = sorted(set(result.rows_source) - set(present))
        assert not missing, f"tables missing in the target: {missing}"
        for name, n in result.rows_source.items():
            assert present[name] == result.rows_written[name], f"{name}: {present[name]} rows in the target"


def _print_timing(label: str, result: relsynth.CloneResult, seconds: float) -> None:
    steps = ", ".join(f"{k} {v:.2f}s" for k, v in result.seconds.items())
    print(f"{label}: {sum(result.rows_written.values()):,} rows in {seconds:.2f}s ({steps})")


def timed_clone(label: str, source: str, target: str, **kwargs: object) -> relsynth.CloneResult:
    """``relsynth.clone`` with its wall-clock time printed (shown by ``pytest -s``; never asserted)."""
    t0 = time.perf_counter()
    result = relsynth.clone(source, target, **kwargs)  # type: ignore[arg-type]
    _print_timing(label, result, time.perf_counter() - t0)
    return result


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def _fresh_value(conn: sa.Connection, table: sa.TableClause, column: str, example: object) -> object:
    """A value of ``column`` no row has, in the example's format (integer or UUID)."""
    if isinstance(example, int) and not isinstance(example, bool):
        return int(conn.execute(sa.select(sa.func.max(table.c[column]))).scalar_one()) + 1
    if isinstance(example, uuid.UUID):
        return uuid.uuid4()
    if isinstance(example, str) and re.fullmatch(r"[0-9a-fA-F-]{32,36}", example):
        new = str(uuid.uuid4()) if "-" in example else uuid.uuid4().hex
        return new.upper() if example.isupper() else new
    raise AssertionError(f"no fresh value for {column}={example!r}; probe another table")


def _absent_value(conn: sa.Connection, table: str, column: str, example: object) -> object:
    """A value of the parent key ``table.column`` that no parent row has (same type as ``example``)."""
    t = sa.table(table, sa.column(column))
    if isinstance(example, int) and not isinstance(example, bool):
        return int(conn.execute(sa.select(sa.func.max(t.c[column]))).scalar_one()) + 1000
    for ch in "ZQXJ#":
        candidate = ch * len(str(example))
        if not conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c[column] == candidate)).scalar_one():
            return candidate
    raise AssertionError(f"no absent value found for {table}.{column}")


def assert_target_enforces_keys(url: str, table: str, fk_column: str) -> None:
    """The target database itself refuses a row with a dangling FK and one with a duplicate PK.

    The probe rows are copies of a row of ``table`` with fresh values for the primary key and
    the other UNIQUE columns, so the only fault of each is the one tested; the same copy with
    its real FK is inserted (and rolled back) first, to show that the row is otherwise valid.
    """
    schema = relsynth.inspect(url, integrity=False).schema
    t = schema.tables[next(n for n in schema.tables if _norm(n) == _norm(table))]
    fk = next(fk for fk in t.foreign_keys if [_norm(c) for c in fk.columns] == [_norm(fk_column)])
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":  # SQLite checks declared FKs only when asked, per connection
        sa.event.listen(engine, "connect", lambda dbapi_conn, _: dbapi_conn.execute("PRAGMA foreign_keys=ON"))
    table_ = sa.table(t.name, *[sa.column(c) for c in t.column_names])
    try:
        with engine.connect() as conn:
            row = dict(conn.execute(sa.select(table_).limit(1)).mappings().one())

            def refreshed(sets: list[list[str]]) -> dict[str, object]:
                out = dict(row)
                for columns in sets:
                    own = [c for c in columns if c not in t.fk_columns] or list(columns)
                    out[own[-1]] = _fresh_value(conn, table_, own[-1], row[own[-1]])
                return out

            valid = refreshed(t.unique_sets)
            dangling = dict(valid)
            dangling[fk.columns[0]] = _absent_value(conn, fk.ref_table, fk.ref_columns[0], row[fk.columns[0]])
            duplicate_pk = refreshed([u for u in t.unique_sets if list(u) != list(t.primary_key)])
            conn.rollback()
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(sa.insert(table_).values(valid))
            trans.rollback()
        with pytest.raises(sa.exc.IntegrityError, match=r"(?i)foreign key"):
            with engine.begin() as conn:
                conn.execute(sa.insert(table_).values(dangling))
        with pytest.raises(sa.exc.IntegrityError, match=r"(?i)duplicate|unique constraint"):
            with engine.begin() as conn:
                conn.execute(sa.insert(table_).values(duplicate_pk))
    finally:
        engine.dispose()


def test_clone_demo_to_sqlite_keeps_integrity_and_correlations(hospital: str, sqlite_url: str) -> None:
    result = relsynth.clone(hospital, sqlite_url, seed=3)
    _assert_clone_ok(result)
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # No child date before the parent's admission date, in the target itself.
    assert conn.execute(
        "SELECT count(*) FROM lab_results l JOIN patients p USING (patient_id) WHERE l.taken_at < p.admission_date"
    ).fetchone()[0] == 0
    real = pd.read_sql("SELECT p.age, count(l.lab_id) n FROM patients p LEFT JOIN lab_results l USING (patient_id) "
                       "GROUP BY p.patient_id", sqlite3.connect(hospital.removeprefix("sqlite:///")))
    synth = pd.read_sql("SELECT p.age, count(l.lab_id) n FROM patients p LEFT JOIN lab_results l USING (patient_id) "
                        "GROUP BY p.patient_id", conn)
    assert abs(real.corr().iloc[0, 1] - synth.corr().iloc[0, 1]) < 0.1
    assert result.fidelity["lab_results"].shape > 0.9


def test_scale_two_doubles_rows(hospital: str, sqlite_url: str) -> None:
    result = relsynth.clone(hospital, sqlite_url, scale=2.0, seed=1)
    assert result.violations == 0
    for name in ("patients", "lab_results", "treatments"):
        assert abs(result.rows_written[name] / result.rows_source[name] - 2) < 0.2


def test_same_seed_same_database(hospital: str, tmp_path: Path) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    relsynth.clone(hospital, a, seed=9)
    relsynth.clone(hospital, b, seed=9)
    for table in ("patients", "lab_results"):
        fa = pd.read_sql(f"SELECT * FROM {table}", sqlite3.connect(tmp_path / "a.db"))
        fb = pd.read_sql(f"SELECT * FROM {table}", sqlite3.connect(tmp_path / "b.db"))
        pd.testing.assert_frame_equal(fa, fb)


def test_non_empty_target_and_target_equal_source_are_refused(hospital: str, sqlite_url: str) -> None:
    relsynth.clone(hospital, sqlite_url, seed=1)
    before = _counts(sqlite_url)
    with pytest.raises(TargetNotEmptyError, match="if-exists"):
        relsynth.clone(hospital, sqlite_url, seed=2)
    assert _counts(sqlite_url) == before
    relsynth.clone(hospital, sqlite_url, seed=2, if_exists="replace")
    with pytest.raises(ConfigError, match="is the source"):
        relsynth.clone(hospital, hospital)


def test_source_is_never_written(hospital: str, sqlite_url: str) -> None:
    path = Path(hospital.removeprefix("sqlite:///"))
    before = path.read_bytes()
    relsynth.clone(hospital, sqlite_url, seed=1)
    assert path.read_bytes() == before


def test_fit_save_load_sample_write(hospital: str, tmp_path: Path) -> None:
    model = relsynth.fit(hospital)
    path = model.save(tmp_path / "hospital.rsm")
    loaded = relsynth.load(path)
    tables = loaded.sample(scale=0.5, seed=4)
    assert abs(len(tables["patients"]) - 1000) <= 100
    counts = relsynth.write(tables, f"sqlite:///{tmp_path / 'out.db'}", loaded.schema)
    assert counts["lab_results"] == len(tables["lab_results"])


def test_model_file_holds_no_real_free_text(tmp_path: Path) -> None:
    import zipfile

    src = dataset("chinook")
    model = relsynth.fit(f"sqlite:///{src}")
    path = model.save(tmp_path / "chinook.rsm")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("model.json").decode()
    conn = sqlite3.connect(src)
    names = set(pd.read_sql('SELECT "Name" FROM "Track"', conn)["Name"])
    # Values that are also categories of other columns (a composer called "Black Sabbath", a city)
    # may be in the model as those columns' categories; no other track name may be.
    elsewhere = set()
    for table, column in (("Track", "Composer"), ("Customer", "City"), ("Invoice", "BillingCity"),
                          ("Artist", "Name"), ("Album", "Title"), ("Genre", "Name"), ("Playlist", "Name")):
        elsewhere |= set(pd.read_sql(f'SELECT "{column}" FROM "{table}"', conn)[column].dropna())
    longer = [n for n in names - elsewhere if len(n) >= 8]
    assert len(longer) > 2000
    assert [n for n in longer if f'"{n}"' in text] == []


@pytest.mark.parametrize("name", SAMPLE_DATABASES)
def test_sample_databases_clone_to_sqlite(name: str, sqlite_url: str) -> None:
    src = f"sqlite:///{dataset(name)}"
    result = timed_clone(f"{name} sqlite->sqlite", src, sqlite_url, seed=1)
    _assert_clone_ok(result, sqlite_url)
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    assert_target_enforces_keys(sqlite_url, *PROBES[name])
    # Nullable FKs keep their NULL share (sakila film.original_language_id: 100 %).
    real, synthetic = _fk_null_rates(src), _fk_null_rates(sqlite_url)
    for fk, rate in real.items():
        n = result.rows_source[fk.split(".")[0]]
        assert abs(synthetic[fk] - rate) <= max(0.03, 1.5 / n), f"{fk}: NULL {rate:.3f} -> {synthetic[fk]:.3f}"


def _fk_null_rates(url: str) -> dict[str, float]:
    """Share of NULLs in each nullable FK column of each non-empty table, keyed ``table.column``."""
    schema = relsynth.inspect(url, integrity=False).schema
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for t in schema.tables.values():
            for c in {c for fk in t.foreign_keys if t.fk_nullable(fk) for c in fk.columns}:
                col = sa.column(c)
                total, nulls = conn.execute(sa.select(sa.func.count(), sa.func.count() - sa.func.count(col))
                                            .select_from(sa.table(t.name, col))).one()
                if total:
                    out[f"{t.name}.{c}"] = nulls / total
    engine.dispose()
    return out


def assert_forest(ids: pd.Series, parents: pd.Series) -> None:
    """A self-reference forms a forest: roots (NULL parents) exist and no row is its own ancestor."""
    assert parents.isna().any()
    boss = dict(zip(ids, parents))
    for start in boss:
        seen, node = set(), start
        while node is not None and not pd.isna(node):
            assert node not in seen, f"cycle in the synthetic tree through {node}"
            seen.add(node)
            node = boss.get(node)


def test_self_reference_is_a_forest(sqlite_url: str) -> None:
    relsynth.clone(f"sqlite:///{dataset('chinook')}", sqlite_url, seed=2)
    emp = pd.read_sql('SELECT "EmployeeId", "ReportsTo" FROM "Employee"', sqlite3.connect(sqlite_url.removeprefix("sqlite:///")))
    assert_forest(emp["EmployeeId"], emp["ReportsTo"])


@pytest.mark.parametrize("name", SAMPLE_DATABASES)
def test_sample_databases_clone_to_postgres(name: str, pg_url: str) -> None:
    result = timed_clone(f"{name} sqlite->postgresql", f"sqlite:///{dataset(name)}", pg_url, seed=1)
    _assert_clone_ok(result, pg_url)
    assert_target_enforces_keys(pg_url, *PROBES[name])
    if name not in ("chinook", "sakila"):  # scale 2 on two of them keeps the suite's time down
        return
    double = timed_clone(f"{name} sqlite->postgresql x2", f"sqlite:///{dataset(name)}", pg_url, seed=1,
                         scale=2.0, if_exists="replace")
    assert double.violations == 0
    total = sum(double.rows_written.values()) / sum(double.rows_source.values())
    assert 1.6 < total < 2.4


def test_demo_clone_postgres_to_postgres(hospital: str, pg_url: str, pg_url2: str) -> None:
    relsynth.write(relsynth.fit(hospital).sample(seed=0), pg_url, relsynth.inspect(hospital).schema)
    result = relsynth.clone(pg_url, pg_url2, seed=5)
    _assert_clone_ok(result)
    engine = sa.create_engine(pg_url2.replace("postgresql+psycopg", "postgresql+psycopg"))
    with engine.connect() as conn:
        fks = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated"
        ).scalar_one()
    engine.dispose()
    assert fks == 3  # the target enforces every FK (patients, lab_results, treatments)


@pytest.mark.parametrize("name", SAMPLE_DATABASES)
def test_postgres_dump_source(name: str, pg_url: str, pg_url2: str) -> None:
    load_pg_dump(pg_url, name)
    result = timed_clone(f"{name} postgresql->postgresql", pg_url, pg_url2, seed=1)
    _assert_clone_ok(result, pg_url2)
    # The dump's tables (lower-case names in chinook's and northwind's dumps) all arrive.
    source_tables = set(relsynth.inspect(pg_url, integrity=False).schema.tables)
    assert source_tables == set(result.rows_source) and source_tables <= set(_counts(pg_url2))
    assert_target_enforces_keys(pg_url2, *PROBES[name])


@pytest.mark.parametrize("name", SAMPLE_DATABASES)
def test_sample_databases_clone_to_mariadb(name: str, mysql_url: str) -> None:
    result = timed_clone(f"{name} sqlite->mariadb", f"sqlite:///{dataset(name)}", mysql_url, seed=1)
    _assert_clone_ok(result, mysql_url)
    assert_target_enforces_keys(mysql_url, *PROBES[name])


def test_cli_demo_clone_inspect(tmp_path: Path) -> None:
    src = f"sqlite:///{tmp_path / 'h.db'}"
    r = runner.invoke(app, ["demo", "--out", src, "--patients", "500"])
    assert r.exit_code == 0, r.output
    assert "patients 500 rows" in r.output
    r = runner.invoke(app, ["demo", "--out", src, "--patients", "500"])
    assert r.exit_code != 0
    r = runner.invoke(app, ["inspect", src, "--format", "json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["plan"]["order"][0] == "departments"
    assert info["tables"]["patients"]["rows"] == 500
    r = runner.invoke(app, ["inspect", f"sqlite:///{dataset('sakila')}"])
    assert r.exit_code == 0 and "cycle" in r.output
    dst = f"sqlite:///{tmp_path / 's.db'}"
    r = runner.invoke(app, ["clone", src, dst, "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "0 violations" in r.output and "lab_results" in r.output
    r = runner.invoke(app, ["clone", src, dst, "--scale", "2", "--if-exists", "replace", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rows_written"]["patients"] == 1000


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "relsynth", *args], capture_output=True, text=True)

    r = run("inspect", f"sqlite:///{tmp_path / 'missing.db'}")
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    src = f"sqlite:///{dataset('chinook')}"
    r = run("clone", src, f"sqlite:///{tmp_path / 'x.db'}", "--scale", "-1")
    assert r.returncode == 2 and "scale" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.db").exists() or _counts(f"sqlite:///{tmp_path / 'x.db'}") == {}
    r = run("clone", src, f"sqlite:///{tmp_path / 'x.db'}", "--if-exists", "merge")
    assert r.returncode == 2 and "if_exists" in r.stderr


def test_import_leaves_the_collector_as_it_found_it() -> None:
    """Importing relsynth runs its dependencies' imports without the cyclic collector and
    freezes what they built (relsynth._startup); the collector is then on again, or still off
    for a caller who had turned it off."""
    import subprocess
    import sys

    code = ("import gc, sys; off = sys.argv[1] == 'off'; off and gc.disable(); import relsynth; "
            "print(gc.isenabled(), gc.get_freeze_count() > 10_000)")
    for state, expected in (("on", "True True"), ("off", "False True")):
        out = subprocess.run([sys.executable, "-c", code, state], capture_output=True, text=True, check=True)
        assert out.stdout.split() == expected.split(), out


def test_the_command_line_imports_what_only_some_commands_need_when_they_run() -> None:
    """Every CLI start imports relsynth.cli; YAML (a configuration file, `relsynth init`) and
    sqlglot (the source's CHECKs) wait until a command needs them."""
    import subprocess
    import sys

    code = "import sys, relsynth.cli; print(sorted(m for m in ('yaml', 'sqlglot') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


def test_fit_from_dataframes_and_metadata(tmp_path: Path) -> None:
    from relsynth.data import build_hospital, hospital_schema
    from relsynth.schema import schema_from_dataframes, schema_from_metadata

    frames = build_hospital(800, seed=2)
    # Metadata description (the same JSON-able form the model file stores).
    meta = tmp_path / "hospital.json"
    meta.write_text(json.dumps(hospital_schema().to_dict()))
    model = relsynth.fit(frames, schema=schema_from_metadata(meta))
    out = model.sample(seed=1)
    assert abs(len(out["patients"]) - 800) <= 80
    assert out["lab_results"]["patient_id"].isin(out["patients"]["patient_id"]).all()
    # Keys declared by hand on plain DataFrames.
    schema = schema_from_dataframes(
        {k: frames[k] for k in ("patients", "lab_results")},
        primary_keys={"patients": "patient_id", "lab_results": "lab_id"},
        foreign_keys=[{"child": "lab_results", "columns": "patient_id", "parent": "patients", "parent_columns": "patient_id"}],
    )
    out = relsynth.fit({k: frames[k] for k in ("patients", "lab_results")}, schema=schema).sample(seed=2)
    assert out["lab_results"]["patient_id"].isin(out["patients"]["patient_id"]).all()
    assert relsynth.write(out, f"sqlite:///{tmp_path / 'df.db'}", schema)["lab_results"] == len(out["lab_results"])
