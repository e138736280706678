"""Identifiers with spaces, quotes, unicode and SQL keywords simply work, on every dialect.

The source has a table ``order`` whose primary key is ``select``, a table ``weird "name"``
with a CHECK on a column ``group`` (one allowed value holds a quote), a column ``Ünïcödé ✓``
under UNIQUE, a self-referencing ``naïve table``, and a composite key ``user(a, b)`` that a
table named ``table`` references. Text values hold quotes, semicolons and unicode.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

import relsynth

NAMES = {
    "order": ["select", "from", "naïve", "with space"],
    'weird "name"': ["id", "order ref", "group", "Ünïcödé ✓"],
    "naïve table": ["k1", "k 2", "parent"],
    "user": ["a", "b", "x"],
    "table": ["id", "ua", "ub"],
}
TEXTS = ["it's", 'say "hi"', "naïve — ünïcode ✓", "x; DROP TABLE y; --", "back\\slash", "tab\there"]


def build_source(path: Path) -> str:
    """Write the awkward-names source (see the module docstring) and return its URL."""
    rng = np.random.default_rng(0)
    con = sqlite3.connect(path)
    con.executescript('''
        CREATE TABLE "order" ("select" INTEGER PRIMARY KEY, "from" TEXT NOT NULL, "naïve" REAL, "with space" DATE);
        CREATE TABLE "weird ""name""" ("id" INTEGER PRIMARY KEY,
            "order ref" INTEGER NOT NULL REFERENCES "order"("select"),
            "group" TEXT CHECK ("group" IN ('a', 'b''c')), "Ünïcödé ✓" INTEGER UNIQUE);
        CREATE TABLE "naïve table" ("k1" INTEGER PRIMARY KEY, "k 2" TEXT, "parent" INTEGER REFERENCES "naïve table"("k1"));
        CREATE TABLE "user" ("a" INTEGER, "b" TEXT, "x" INTEGER, PRIMARY KEY ("a", "b"));
        CREATE TABLE "table" ("id" INTEGER PRIMARY KEY, "ua" INTEGER, "ub" TEXT,
            FOREIGN KEY ("ua", "ub") REFERENCES "user"("a", "b"));
    ''')
    con.executemany('INSERT INTO "order" VALUES (?, ?, ?, ?)',
                    [(i, TEXTS[i % len(TEXTS)], float(rng.random()), f"2020-01-{i % 28 + 1:02d}") for i in range(1, 61)])
    con.executemany('INSERT INTO "weird ""name""" VALUES (?, ?, ?, ?)',
                    [(i, int(rng.integers(1, 61)), ["a", "b'c", None][i % 3], i * 3) for i in range(1, 121)])
    con.executemany('INSERT INTO "naïve table" VALUES (?, ?, ?)',
                    [(i, f"k{i}", None if i < 4 else int(rng.integers(1, i))) for i in range(1, 41)])
    con.executemany('INSERT INTO "user" VALUES (?, ?, ?)', [(i % 5, f"b{i}", i) for i in range(1, 26)])
    con.executemany('INSERT INTO "table" VALUES (?, ?, ?)',
                    [(i, j % 5, f"b{j}") for i, j in enumerate(rng.integers(1, 26, 60).tolist(), 1)])
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_source(tmp_path_factory.mktemp("identifiers") / "names.db")


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")


def assert_copy(source: str, target: str) -> None:
    """Every table and column of the source is in the target under its exact name, keys hold."""
    result = relsynth.clone(source, target, seed=3)
    assert result.violations == 0, result.integrity
    engine = sa.create_engine(target)
    try:
        insp = sa.inspect(engine)
        assert sorted(insp.get_table_names()) == sorted(NAMES)
        for table, columns in NAMES.items():
            assert [c["name"] for c in insp.get_columns(table)] == columns
        md = sa.MetaData()
        md.reflect(engine)
        with engine.connect() as conn:
            order = md.tables["order"]
            weird = md.tables['weird "name"']
            counts = {n: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for n, t in md.tables.items()}
            groups = set(conn.execute(sa.select(weird.c.group).distinct()).scalars())
            orphans = conn.execute(sa.select(sa.func.count()).select_from(weird).where(
                ~weird.c["order ref"].in_(sa.select(order.c.select)))).scalar_one()
        assert counts == result.rows_written and all(n > 0 for n in counts.values()), counts
        assert groups <= {"a", "b'c", None} and "b'c" in groups
        assert orphans == 0
    finally:
        engine.dispose()


def test_awkward_identifiers_clone_into_every_dialect(source: str, target: str) -> None:
    assert_copy(source, target)


@pytest.mark.parametrize("server", ["pg_url", "mysql_url"])
def test_awkward_identifiers_are_read_back_from_servers(request: pytest.FixtureRequest, source: str,
                                                        server: str, tmp_path: Path) -> None:
    """The same names, read from PostgreSQL / MariaDB as a source, and cloned to the same dialect."""
    first = request.getfixturevalue(server)
    second = request.getfixturevalue("pg_url2") if server == "pg_url" else _second_mysql(request)
    relsynth.clone(source, first, seed=1)
    assert_copy(first, second)
    info = relsynth.inspect(first)
    assert info.dangling_rows == 0
    assert {fk.ref_table for fk in info.schema.tables["table"].foreign_keys} == {"user"}


def _second_mysql(request: pytest.FixtureRequest) -> str:
    """A second MariaDB database (conftest has one mysql_url per test)."""
    from conftest import MYSQL_SERVER, _fresh_database

    gen = _fresh_database(MYSQL_SERVER, "MariaDB at " + MYSQL_SERVER)
    url = next(gen)
    request.addfinalizer(lambda: next(gen, None))
    return url
