"""CHECK constraints: evaluated on frames, guaranteed by the sampler, declared on every target."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
from relsynth.schema.checks import CheckRule, compile_checks
from relsynth.schema.model import CheckConstraint, Column, Schema, Table
from relsynth.sinks.ddl import TargetDDL
from relsynth.urls import normalize_url

TABLE = Table(
    "t",
    [
        Column("id", "integer", nullable=False),
        Column("qty", "integer"),
        Column("price", "decimal"),
        Column("Grade", "string"),
        Column("start", "date"),
        Column("stop", "datetime"),
        Column("active", "boolean"),
    ],
    primary_key=["id"],
)
FRAME = pd.DataFrame({
    "id": pd.array([1, 2, 3, 4], dtype="Int64"),
    "qty": pd.array([5, None, -1, 0], dtype="Int64"),
    "price": [1.5, 2.0, np.nan, 10.0],
    "Grade": pd.Series(["A", "b", None, "Cx"], dtype=object),
    "start": pd.to_datetime(["2020-01-01", "2020-05-01", None, "2021-01-01"]).astype("datetime64[us]"),
    "stop": pd.to_datetime(["2020-02-01", "2020-04-01", "2020-01-01", None]).astype("datetime64[us]"),
    "active": pd.array([True, False, None, True], dtype="boolean"),
})


def holds(sql: str, dialect: str = "sqlite") -> list[bool]:
    table = Table(TABLE.name, TABLE.columns, TABLE.primary_key, checks=[CheckConstraint(sql)])
    (rule,) = compile_checks(table, dialect)
    assert rule.enforceable, rule.problem
    return rule.holds(FRAME).tolist()


@pytest.mark.parametrize(
    ("sql", "dialect", "expected"),
    [
        # NULL passes a CHECK: row 2 has qty NULL.
        ("qty > 0", "sqlite", [True, True, False, False]),
        ("qty >= 0 AND price < 5", "sqlite", [True, True, False, False]),
        ("qty > 0 OR price > 5", "sqlite", [True, True, True, True]),
        ("NOT (qty > 0)", "sqlite", [False, True, True, True]),
        ("qty BETWEEN 0 AND 4", "sqlite", [False, True, False, True]),
        ("qty IS NOT NULL", "sqlite", [True, False, True, True]),
        ("qty + 1 > price * 2", "sqlite", [True, True, True, False]),
        ("grade IN ('A', 'B')", "sqlite", [True, False, True, False]),  # names match case-insensitively
        ("lower(grade) IN ('a', 'b')", "sqlite", [True, True, True, False]),
        ("length(grade) = 1", "sqlite", [True, True, True, False]),
        ("grade LIKE 'C%'", "sqlite", [False, False, True, True]),
        ("grade LIKE 'C!%' ESCAPE '!'", "sqlite", [False, False, True, False]),  # a literal %
        ('"stop" >= "start"', "sqlite", [True, False, True, True]),
        ("start >= '2020-03-01'", "sqlite", [False, True, True, True]),
        ("active = 1 OR price > 5", "sqlite", [True, False, True, True]),
        ("coalesce(qty, 100) < 10", "sqlite", [True, False, True, True]),
        # PostgreSQL's normal form of IN and of casts.
        ("((\"Grade\")::text = ANY ((ARRAY['A'::character varying, 'Cx'::character varying])::text[]))",
         "postgresql", [True, False, True, True]),
        ("(start >= '2020-03-01 00:00:00'::timestamp without time zone)", "postgresql", [False, True, True, True]),
        ("\"Grade\" ~ '^[A-Z]'", "postgresql", [True, False, True, True]),
        # MySQL's charset introducers.
        ("`Grade` in (_utf8mb4'A',_utf8mb4'b')", "mysql", [True, True, True, False]),
    ],
)
def test_checks_evaluate_with_sql_semantics(sql: str, dialect: str, expected: list[bool]) -> None:
    assert holds(sql, dialect) == expected


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("my_function(qty) > 0", "Anonymous"),
        ("nope > 0", "not a column"),
        ("qty > (SELECT 1)", "Subquery"),
    ],
)
def test_checks_outside_the_supported_set_are_not_enforceable(sql: str, why: str) -> None:
    table = Table(TABLE.name, TABLE.columns, TABLE.primary_key, checks=[CheckConstraint(sql, name="ck")])
    (rule,) = compile_checks(table, "sqlite")
    assert not rule.enforceable
    assert why in rule.problem
    assert rule.holds(FRAME).all()  # never used to reject rows


def test_checks_render_for_each_dialect() -> None:
    table = Table(TABLE.name, TABLE.columns, TABLE.primary_key, checks=[
        CheckConstraint("((\"Grade\")::text = ANY ((ARRAY['A'::character varying])::text[]))"),
        CheckConstraint("active IN (0, 1) AND start < '2030-01-01'::date"),
    ])
    grade, active = compile_checks(table, "postgresql")
    assert grade.sql("sqlite") == '("Grade" IN (\'A\'))'
    assert grade.sql("mysql") == "(`Grade` IN ('A'))"
    assert "IN (FALSE, TRUE)" in active.sql("postgresql")  # PostgreSQL has no boolean = integer
    assert "IN (0, 1)" in active.sql("mysql")
    (regex,) = compile_checks(Table("t", TABLE.columns, checks=[CheckConstraint("\"Grade\" ~ '^[A-Z]{2}$'")]), "postgresql")
    assert regex.sql("mysql") == "(`Grade` REGEXP '^[A-Z]{2}$')"  # MariaDB refuses REGEXP_LIKE() in a CHECK


def test_checks_render_in_the_source_dialect_only_until_a_target_asks(monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A rule is rendered in its source's dialect when compiled and in another when a target's
    DDL asks for it; one that cannot be rendered there is not declared, with a warning."""
    table = Table("t", TABLE.columns, TABLE.primary_key, checks=[
        CheckConstraint("qty > 17", name="ck_qty"), CheckConstraint("price >= 17", name="ck_price")])
    renders: list[tuple[str, str | None]] = []
    real = CheckRule._render

    def render(self: CheckRule, target: str | None) -> str:
        renders.append((self.check.name, target))
        if target == "postgres" and self.check.name == "ck_qty":
            raise ValueError("no such node")
        return real(self, target)

    monkeypatch.setattr(CheckRule, "_render", render)
    qty, price = compile_checks(table, "sqlite")
    assert renders == [("ck_qty", "sqlite"), ("ck_price", "sqlite")]
    assert qty.enforceable and price.enforceable
    with caplog.at_level("WARNING", logger="relsynth"):
        declared = TargetDDL(Schema({"t": table}, dialect="sqlite"), "postgresql")._checks(table)
    assert [str(c.sqltext) for c in declared] == ['"price" >= 17']
    assert "t: CHECK ck_qty (qty > 17) is not declared in the postgresql target" in caplog.text
    price.sql("postgresql")
    assert renders.count(("ck_price", "postgres")) == 1  # rendered once per dialect


# ---------------------------------------------------------------------- end to end
def _source(path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE dept (id INTEGER PRIMARY KEY, name TEXT NOT NULL, budget REAL CHECK (budget > 0));
        CREATE TABLE emp (
            id INTEGER PRIMARY KEY,
            dept_id INTEGER NOT NULL REFERENCES dept(id),
            salary REAL NOT NULL,
            bonus REAL,
            hired DATE NOT NULL,
            left_on DATE,
            grade TEXT CHECK (grade IN ('A', 'B', 'C')),
            code TEXT CHECK (typeof(code) = 'text'),
            CONSTRAINT bonus_below_salary CHECK (bonus IS NULL OR bonus < salary),
            CHECK (left_on IS NULL OR left_on >= hired),
            CHECK (salary BETWEEN 1000 AND 9000)
        );
    """)
    rng = np.random.default_rng(0)
    con.executemany("INSERT INTO dept VALUES (?, ?, ?)", [(i, f"d{i}", float(rng.uniform(1, 100))) for i in range(1, 21)])
    rows = []
    for i in range(1, 2001):
        salary = float(rng.uniform(1000, 9000))
        # Bonuses up to 99% of the salary: an unconstrained copula puts ~10% of them above it.
        bonus = float(salary * rng.uniform(0, 0.99)) if rng.random() < 0.7 else None
        hired = pd.Timestamp("2010-01-01") + pd.Timedelta(days=int(rng.integers(0, 3000)))
        left = (hired + pd.Timedelta(days=int(rng.integers(0, 900)))).date().isoformat() if rng.random() < 0.3 else None
        rows.append((i, int(rng.integers(1, 21)), salary, bonus, hired.date().isoformat(), left,
                     str(rng.choice(list("ABC"))), f"c{i % 7}"))
    con.executemany("INSERT INTO emp VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def _target_checks(url: str) -> list[str]:
    engine = sa.create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return [r[0] for r in conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table'")]
            if engine.dialect.name == "postgresql":
                return [r[0] for r in conn.exec_driver_sql(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid::regclass::text IN ('emp', 'dept')")]
            return [r[0] for r in conn.exec_driver_sql(
                "SELECT check_clause FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()")]
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_target(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "pg_url", "mariadb": "mysql_url"}[request.param])


def test_clone_keeps_every_check_and_the_target_enforces_them(tmp_path: Path, any_target: str) -> None:
    src = _source(tmp_path / "src.db")
    result = relsynth.clone(src, any_target, seed=3)
    assert result.violations == 0
    assert result.rows_written == result.rows_source  # redrawn, not dropped
    out = pd.read_sql("SELECT * FROM emp", sa.create_engine(normalize_url(any_target)))
    assert ((out["bonus"] < out["salary"]) | out["bonus"].isna()).all()
    assert out["salary"].between(1000, 9000).all()
    assert set(out["grade"].dropna()) <= {"A", "B", "C"}
    # Redrawing keeps the bonus share: rejection, not clipping to one value.
    assert abs(out["bonus"].notna().mean() - 0.7) < 0.05

    declared = " ".join(_target_checks(any_target)).lower().replace("`", "").replace('"', "")
    for fragment in ("bonus < salary", "left_on >= hired", "budget >", "1000", "'a'"):
        assert fragment in declared, (fragment, declared)
    assert "typeof" not in declared  # not enforceable: neither guaranteed nor declared …
    assert any("typeof" in note for note in result.notes)  # … and said so

    # The target itself refuses a row that breaks one.
    engine = sa.create_engine(normalize_url(any_target))
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO emp (id, dept_id, salary, bonus, hired) VALUES (999999, :d, 2000, 5000, '2020-01-01')"
        ), {"d": int(out["dept_id"].iloc[0])})
    engine.dispose()


def test_a_check_every_learned_category_satisfies_is_not_evaluated_on_the_rows() -> None:
    """The sampler skips a CHECK on one learned category whose every category (and NULL) holds
    it: no row can break it. It still enforces one that some category breaks (a DataFrame
    source need not have held it), and one on a column the user's options rewrite."""
    from relsynth.config import ColumnOptions, TableOptions
    from relsynth.sampling.relational import _always_held
    from relsynth.schema import schema_from_dataframes

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(400), "grade": rng.choice(["A", "B", "C"], 400).astype(object),
                          "score": rng.normal(50, 10, 400)})
    schema = schema_from_dataframes({"t": frame}, primary_keys={"t": "id"})
    table = schema.tables["t"]
    table.checks = [CheckConstraint("grade IN ('A', 'B', 'C')", "all"), CheckConstraint("grade IN ('A', 'B')", "some"),
                    CheckConstraint("score > 0", "number")]
    model = relsynth.fit({"t": frame}, schema=schema)
    rules = {r.check.name: r for r in compile_checks(table, None)}
    tm = model.tables["t"]
    assert _always_held(rules["all"], table, tm, None)
    assert not _always_held(rules["some"], table, tm, None)
    assert not _always_held(rules["number"], table, tm, None)  # a number's decode is not a list of values
    assert not _always_held(rules["all"], table, tm, TableOptions(columns={"grade": ColumnOptions(values=["A", "D"])}))
    out = model.sample(seed=1)["t"]
    assert set(out["grade"]) == {"A", "B"}  # the one some category breaks: enforced
