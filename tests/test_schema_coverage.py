"""Every schema shape clones: a generated 36-table schema, keys of every form, sources that break
their own foreign keys, and several FKs between the same tables (issue #3).

The real sample databases' round trips per dialect are in test_clone.py; this module builds its
sources in SQLite with plain ``sqlite3`` so each shape is known exactly.
"""

from __future__ import annotations

import json
import re
import sqlite3
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.transform.encoders import TextGenerator

from conftest import dataset
from test_clone import _assert_clone_ok, assert_forest, assert_target_enforces_keys, timed_clone

runner = CliRunner()
UUID_FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---------------------------------------------------------------------------- source builders
class _Data:
    """Plausible random values, from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def words(self, n: int, lo: int = 4, hi: int = 9, title: bool = True) -> list[str]:
        vowels, consonants = "aeiou", "bcdfghklmnprstvz"
        out = []
        for _ in range(n):
            k = int(self.rng.integers(lo, hi + 1))
            w = "".join(self.rng.choice(list(consonants if i % 2 == 0 else vowels)) for i in range(k))
            out.append(w.title() if title else w)
        return out

    def names(self, n: int) -> list[str]:
        return [f"{a} {b}" for a, b in zip(self.words(n, 3, 7), self.words(n, 5, 9))]

    def codes(self, n: int, pattern: str) -> list[str]:
        """``n`` distinct codes of ``pattern`` (A: upper-case letter, 9: digit, other: itself)."""
        out: set[str] = set()
        while len(out) < n:
            out.add("".join(self.rng.choice(list(string.ascii_uppercase)) if ch == "A" else
                            str(self.rng.integers(0, 10)) if ch == "9" else ch for ch in pattern))
        return sorted(out)

    def uuids(self, n: int) -> list[str]:
        return [str(uuid.UUID(bytes=self.rng.bytes(16), version=4)) for _ in range(n)]

    def dates(self, n: int, start: str = "2015-01-01", days: int = 3000) -> list[str]:
        base = np.datetime64(start)
        return [str(base + int(d)) for d in self.rng.integers(0, days, n)]

    def times(self, n: int) -> list[str]:
        base = np.datetime64("2020-01-01T00:00:00")
        return [str(base + int(s)).replace("T", " ") for s in self.rng.integers(0, 3 * 365 * 86400, n)]

    def amounts(self, n: int, mean: float, sigma: float = 0.6) -> list[float]:
        return [round(float(v), 2) for v in self.rng.lognormal(np.log(mean), sigma, n)]

    def parents(self, n: int, keys: list, skew: float = 1.0, null_rate: float = 0.0) -> list:
        """A parent key per child, Zipf-like (``skew`` 0 = uniform), NULL at ``null_rate``."""
        w = 1.0 / np.arange(1, len(keys) + 1) ** skew
        picks = self.rng.choice(len(keys), size=n, p=w / w.sum())
        return [None if self.rng.random() < null_rate else keys[i] for i in picks]


def _insert(conn: sqlite3.Connection, table: str, rows: dict[str, list]) -> None:
    cols = list(rows)
    n = len(rows[cols[0]])
    conn.executemany(
        f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})',
        [tuple(rows[c][i] for c in cols) for i in range(n)],
    )


WIDE_DDL = """
CREATE TABLE region (region_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE country (country_id INTEGER PRIMARY KEY, region_id INTEGER NOT NULL REFERENCES region,
    name TEXT NOT NULL, population INTEGER);
CREATE TABLE state (state_id INTEGER PRIMARY KEY, country_id INTEGER NOT NULL REFERENCES country, name TEXT);
CREATE TABLE city (city_id INTEGER PRIMARY KEY, state_id INTEGER NOT NULL REFERENCES state, name TEXT NOT NULL,
    founded DATE);
CREATE TABLE district (district_id INTEGER PRIMARY KEY, city_id INTEGER NOT NULL REFERENCES city, name TEXT,
    area_km2 REAL);
CREATE TABLE store (store_id INTEGER PRIMARY KEY, district_id INTEGER NOT NULL REFERENCES district,
    opened DATE NOT NULL, size_m2 REAL);
CREATE TABLE aisle (aisle_id INTEGER PRIMARY KEY, store_id INTEGER NOT NULL REFERENCES store, label TEXT);
CREATE TABLE shelf (shelf_id INTEGER PRIMARY KEY, aisle_id INTEGER NOT NULL REFERENCES aisle, height_cm INTEGER);
CREATE TABLE bin (bin_id INTEGER PRIMARY KEY, shelf_id INTEGER NOT NULL REFERENCES shelf, capacity INTEGER);

CREATE TABLE company (company_id INTEGER PRIMARY KEY, name TEXT NOT NULL, founded DATE);
CREATE TABLE division (division_id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES company,
    name TEXT, budget REAL);
CREATE TABLE site (site_id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES company,
    city_id INTEGER REFERENCES city, name TEXT);
CREATE TABLE team (team_id INTEGER PRIMARY KEY, division_id INTEGER NOT NULL REFERENCES division,
    site_id INTEGER NOT NULL REFERENCES site, name TEXT, headcount INTEGER);
CREATE TABLE task (task_id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL REFERENCES team, title TEXT,
    hours REAL, done BOOLEAN NOT NULL);

CREATE TABLE currency (code VARCHAR(3) PRIMARY KEY, name TEXT NOT NULL, decimals INTEGER NOT NULL);
CREATE TABLE trade (trade_id INTEGER PRIMARY KEY,
    buy_currency VARCHAR(3) NOT NULL REFERENCES currency(code),
    sell_currency VARCHAR(3) NOT NULL REFERENCES currency(code),
    fee_currency VARCHAR(3) REFERENCES currency(code), amount REAL NOT NULL, traded_at DATETIME);

CREATE TABLE address (address_id INTEGER PRIMARY KEY, city_id INTEGER NOT NULL REFERENCES city,
    street TEXT, postal_code TEXT);
CREATE TABLE customer (customer_code VARCHAR(5) PRIMARY KEY, name TEXT NOT NULL, email TEXT, signup DATE);
CREATE TABLE shipment (shipment_id INTEGER PRIMARY KEY,
    customer_code VARCHAR(5) NOT NULL REFERENCES customer,
    ship_to INTEGER NOT NULL REFERENCES address(address_id),
    bill_to INTEGER REFERENCES address(address_id), weight_kg REAL, shipped_at DATETIME);

CREATE TABLE employee (employee_id INTEGER PRIMARY KEY, manager_id INTEGER REFERENCES employee(employee_id),
    name TEXT NOT NULL, salary REAL, hired DATE);
CREATE TABLE category (category_id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES category(category_id),
    name TEXT NOT NULL);

CREATE TABLE department (dept_id INTEGER PRIMARY KEY,
    head_person_id INTEGER NOT NULL REFERENCES person(person_id) DEFERRABLE INITIALLY DEFERRED, name TEXT);
CREATE TABLE person (person_id INTEGER PRIMARY KEY,
    dept_id INTEGER NOT NULL REFERENCES department(dept_id) DEFERRABLE INITIALLY DEFERRED,
    name TEXT, age INTEGER);

CREATE TABLE student (student_id INTEGER PRIMARY KEY, name TEXT, birth DATE);
CREATE TABLE course (course_code VARCHAR(5) PRIMARY KEY, title TEXT, credits INTEGER NOT NULL);
CREATE TABLE enrollment (student_id INTEGER NOT NULL REFERENCES student,
    course_code VARCHAR(5) NOT NULL REFERENCES course, enrolled DATE,
    PRIMARY KEY (student_id, course_code));
CREATE TABLE grade (student_id INTEGER NOT NULL, course_code VARCHAR(5) NOT NULL, attempt INTEGER NOT NULL,
    score REAL, PRIMARY KEY (student_id, course_code, attempt),
    FOREIGN KEY (student_id, course_code) REFERENCES enrollment (student_id, course_code));

CREATE TABLE audit_log (employee_id INTEGER REFERENCES employee, action TEXT NOT NULL, at DATETIME);
CREATE TABLE event_log (kind TEXT NOT NULL, payload TEXT, at DATETIME);

CREATE TABLE product (sku VARCHAR(7) PRIMARY KEY, category_id INTEGER NOT NULL REFERENCES category,
    name TEXT, price REAL NOT NULL);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_code VARCHAR(5) NOT NULL REFERENCES customer,
    store_id INTEGER NOT NULL REFERENCES store, ordered DATE, total REAL);
CREATE TABLE order_item (order_id INTEGER NOT NULL REFERENCES orders, line_no INTEGER NOT NULL,
    sku VARCHAR(7) NOT NULL REFERENCES product, qty INTEGER NOT NULL, PRIMARY KEY (order_id, line_no));

CREATE TABLE device (device_uuid CHAR(36) PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site,
    model TEXT, installed DATE);
CREATE TABLE reading (reading_id INTEGER PRIMARY KEY, device_uuid CHAR(36) NOT NULL REFERENCES device,
    value REAL, taken_at DATETIME);

CREATE TABLE tag (tag_id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
CREATE TABLE product_tag (sku VARCHAR(7) NOT NULL REFERENCES product, tag_id INTEGER NOT NULL REFERENCES tag,
    PRIMARY KEY (sku, tag_id));
"""


def build_wide_db(path: Path, seed: int = 0) -> None:
    """A 36-table SQLite database (depth 8) with every FK shape, filled with ~6,000 valid rows.

    Chains (region → … → bin), a diamond (company → division/site → team), three FKs to one
    parent (trade → currency) and two to another (shipment → address), nullable
    self-references (employee, category), a NOT NULL two-table cycle (department ↔ person), a
    composite-PK junction with a composite FK child (enrollment, grade), tables without a
    primary key (audit_log, event_log), text-code keys (customer 'ALFKI', course 'CS101',
    product 'AB-1234', currency 'USD') and UUID-string keys (device).
    """
    d = _Data(seed)
    r = d.rng
    conn = sqlite3.connect(path)
    conn.executescript(WIDE_DDL)
    conn.execute("PRAGMA foreign_keys=ON")  # the source itself is valid
    ids = lambda n: list(range(1, n + 1))  # noqa: E731

    # The chain region → country → state → city → district → store → aisle → shelf → bin (depth 8).
    _insert(conn, "region", {"region_id": ids(4), "name": d.words(4)})
    _insert(conn, "country", {"country_id": ids(12), "region_id": d.parents(12, ids(4), 0.5), "name": d.words(12),
                              "population": [int(v) for v in r.lognormal(15, 1.2, 12)]})
    _insert(conn, "state", {"state_id": ids(30), "country_id": d.parents(30, ids(12)), "name": d.words(30)})
    _insert(conn, "city", {"city_id": ids(60), "state_id": d.parents(60, ids(30)), "name": d.words(60),
                           "founded": d.dates(60, "1700-01-01", 100000)})
    _insert(conn, "district", {"district_id": ids(90), "city_id": d.parents(90, ids(60)), "name": d.words(90),
                               "area_km2": d.amounts(90, 12.0)})
    _insert(conn, "store", {"store_id": ids(120), "district_id": d.parents(120, ids(90)),
                            "opened": d.dates(120), "size_m2": d.amounts(120, 800.0)})
    _insert(conn, "aisle", {"aisle_id": ids(200), "store_id": d.parents(200, ids(120), 0.3),
                            "label": [f"{c}{n}" for c, n in zip(r.choice(list("ABCDEF"), 200), r.integers(1, 30, 200))]})
    _insert(conn, "shelf", {"shelf_id": ids(260), "aisle_id": d.parents(260, ids(200), 0.3),
                            "height_cm": r.integers(20, 220, 260).tolist()})
    _insert(conn, "bin", {"bin_id": ids(320), "shelf_id": d.parents(320, ids(260), 0.3),
                          "capacity": r.integers(1, 50, 320).tolist()})

    _insert(conn, "company", {"company_id": ids(10), "name": d.words(10), "founded": d.dates(10, "1950-01-01", 20000)})
    _insert(conn, "division", {"division_id": ids(30), "company_id": d.parents(30, ids(10)), "name": d.words(30),
                               "budget": d.amounts(30, 1e6)})
    _insert(conn, "site", {"site_id": ids(25), "company_id": d.parents(25, ids(10)),
                           "city_id": d.parents(25, ids(60), 0.0, null_rate=0.2), "name": d.words(25)})
    _insert(conn, "team", {"team_id": ids(60), "division_id": d.parents(60, ids(30)), "site_id": d.parents(60, ids(25)),
                           "name": d.words(60), "headcount": r.integers(2, 40, 60).tolist()})
    _insert(conn, "task", {"task_id": ids(200), "team_id": d.parents(200, ids(60)), "title": d.names(200),
                           "hours": d.amounts(200, 6.0), "done": r.integers(0, 2, 200).tolist()})

    currencies = d.codes(12, "AAA")
    _insert(conn, "currency", {"code": currencies, "name": d.words(12), "decimals": r.choice([0, 2, 2, 2, 3], 12).tolist()})
    _insert(conn, "trade", {"trade_id": ids(300), "buy_currency": d.parents(300, currencies, 1.2),
                            "sell_currency": d.parents(300, currencies[::-1], 0.4),
                            "fee_currency": d.parents(300, currencies, 2.0, null_rate=0.35),
                            "amount": d.amounts(300, 5000.0, 1.0), "traded_at": d.times(300)})

    customers = d.codes(80, "AAAAA")
    _insert(conn, "address", {"address_id": ids(150), "city_id": d.parents(150, ids(60)),
                              "street": [f"{n} {w} Street" for n, w in zip(r.integers(1, 999, 150), d.words(150))],
                              "postal_code": d.codes(150, "99999")})
    _insert(conn, "customer", {"customer_code": customers, "name": d.names(80),
                               "email": [f"{w}@example.com" for w in d.words(80, title=False)], "signup": d.dates(80)})
    _insert(conn, "shipment", {"shipment_id": ids(250), "customer_code": d.parents(250, customers, 0.7),
                               "ship_to": d.parents(250, ids(150), 0.5),
                               "bill_to": d.parents(250, ids(150), 1.0, null_rate=0.25),
                               "weight_kg": d.amounts(250, 3.0), "shipped_at": d.times(250)})

    managers = [None] + [int(r.integers(1, i)) if r.random() > 0.1 else None for i in range(2, 61)]
    _insert(conn, "employee", {"employee_id": ids(60), "manager_id": managers, "name": d.names(60),
                               "salary": d.amounts(60, 50000.0, 0.3), "hired": d.dates(60)})
    parents = [None] + [int(r.integers(1, i)) if r.random() > 0.3 else None for i in range(2, 26)]
    _insert(conn, "category", {"category_id": ids(25), "parent_id": parents, "name": d.words(25)})

    # The NOT NULL cycle: both sides inside one transaction, checked at COMMIT.
    _insert(conn, "department", {"dept_id": ids(8), "head_person_id": [int(v) for v in r.choice(ids(50), 8, replace=False)],
                                 "name": d.words(8)})
    _insert(conn, "person", {"person_id": ids(50), "dept_id": d.parents(50, ids(8), 0.5), "name": d.names(50),
                             "age": r.integers(20, 65, 50).tolist()})
    conn.commit()

    courses = d.codes(30, "AA999")
    _insert(conn, "student", {"student_id": ids(120), "name": d.names(120), "birth": d.dates(120, "1995-01-01", 3000)})
    _insert(conn, "course", {"course_code": courses, "title": d.names(30), "credits": r.choice([3, 4, 5, 6], 30).tolist()})
    pairs = sorted({(int(s), courses[int(c)]) for s, c in zip(r.integers(1, 121, 400), r.integers(0, 30, 400))})[:300]
    _insert(conn, "enrollment", {"student_id": [p[0] for p in pairs], "course_code": [p[1] for p in pairs],
                                 "enrolled": d.dates(len(pairs), "2019-01-01", 1500)})
    grades = [(s, c, a) for s, c in pairs for a in range(1, int(r.choice([1, 1, 1, 2, 3])) + 1)]
    _insert(conn, "grade", {"student_id": [g[0] for g in grades], "course_code": [g[1] for g in grades],
                            "attempt": [g[2] for g in grades], "score": [round(float(v), 1) for v in r.uniform(30, 100, len(grades))]})

    _insert(conn, "audit_log", {"employee_id": d.parents(150, ids(60), 1.0, null_rate=0.1),
                                "action": r.choice(["login", "logout", "update", "delete"], 150).tolist(), "at": d.times(150)})
    _insert(conn, "event_log", {"kind": r.choice(["info", "warn", "error"], 100, p=[0.7, 0.2, 0.1]).tolist(),
                                "payload": d.names(100), "at": d.times(100)})

    skus = d.codes(100, "AA-9999")
    _insert(conn, "product", {"sku": skus, "category_id": d.parents(100, ids(25)), "name": d.names(100),
                              "price": d.amounts(100, 25.0)})
    _insert(conn, "orders", {"order_id": ids(300), "customer_code": d.parents(300, customers, 0.8),
                             "store_id": d.parents(300, ids(120)), "ordered": d.dates(300), "total": d.amounts(300, 120.0)})
    lines = [(o, k) for o in ids(300) for k in range(1, int(r.integers(1, 5)) + 1)]
    _insert(conn, "order_item", {"order_id": [x[0] for x in lines], "line_no": [x[1] for x in lines],
                                 "sku": d.parents(len(lines), skus, 0.9), "qty": r.integers(1, 10, len(lines)).tolist()})

    devices = d.uuids(80)
    _insert(conn, "device", {"device_uuid": devices, "site_id": d.parents(80, ids(25)), "model": d.codes(80, "AA-99"),
                             "installed": d.dates(80)})
    _insert(conn, "reading", {"reading_id": ids(400), "device_uuid": d.parents(400, devices, 0.6),
                              "value": [round(float(v), 3) for v in r.normal(20, 5, 400)], "taken_at": d.times(400)})

    _insert(conn, "tag", {"tag_id": ids(20), "label": sorted(set(d.words(40)))[:20]})
    tagged = sorted({(skus[int(p)], int(t)) for p, t in zip(r.integers(0, 100, 260), r.integers(1, 21, 260))})[:200]
    _insert(conn, "product_tag", {"sku": [t[0] for t in tagged], "tag_id": [t[1] for t in tagged]})
    conn.commit()
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


@pytest.fixture(scope="module")
def wide_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("wide") / "wide.db"
    build_wide_db(path)
    return f"sqlite:///{path}"


def _read(url: str, sql: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = pd.read_sql(sa.text(sql), conn)
    engine.dispose()
    return out


# ---------------------------------------------------------------------------- 2. a generated wide schema
def test_wide_schema_has_every_shape(wide_db: str) -> None:
    info = relsynth.inspect(wide_db)
    plan = info.plan
    assert len(info.schema.tables) >= 30
    assert max(tp.depth for tp in plan.tables.values()) == 8 and plan.tables["bin"].depth == 8
    assert sorted(map(sorted, plan.cycles)) == [["department", "person"]]
    assert {t for t, _ in plan.broken} <= {"department", "person"}
    assert [fk.columns for fk in plan.tables["employee"].self_refs] == [["manager_id"]]
    assert not info.schema.tables["audit_log"].primary_key and not info.schema.tables["event_log"].primary_key
    assert info.dangling_rows == 0
    assert sum(t.row_count or 0 for t in info.schema.tables.values()) > 4000


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_wide_schema_clones(dialect: str, wide_db: str, request: pytest.FixtureRequest) -> None:
    target = request.getfixturevalue("sqlite_url" if dialect == "sqlite" else "pg_url")
    result = timed_clone(f"wide 36-table schema sqlite->{dialect}", wide_db, target, seed=4)
    _assert_clone_ok(result, target)
    # The target enforces keys: a text-code FK, and a composite FK under a composite PK.
    assert_target_enforces_keys(target, "shipment", "customer_code")
    grades = _read(target, "SELECT g.student_id FROM grade g LEFT JOIN enrollment e "
                           "ON e.student_id = g.student_id AND e.course_code = g.course_code WHERE e.student_id IS NULL")
    assert grades.empty
    # The NOT NULL cycle is closed on both sides, and the self-reference is a forest with roots.
    assert _read(target, "SELECT count(*) AS n FROM person WHERE dept_id IS NULL")["n"][0] == 0
    assert _read(target, "SELECT count(*) AS n FROM department WHERE head_person_id IS NULL")["n"][0] == 0
    emp = _read(target, "SELECT employee_id, manager_id FROM employee")
    assert_forest(emp["employee_id"], emp["manager_id"])


# ---------------------------------------------------------------------------- 3. keys of every form
def _shape(value: str) -> str:
    return value.translate(str.maketrans({**{c: "A" for c in string.ascii_uppercase},
                                          **{c: "a" for c in string.ascii_lowercase},
                                          **{c: "9" for c in string.digits}}))


def _assert_new_keys(source: pd.Series, synthetic: pd.Series, form: Callable[[str], object] = _shape) -> None:
    """Synthetic keys: unique, none of the source's, in the source's formats (by ``form``)."""
    real, new = set(source.dropna().astype(str)), synthetic.dropna().astype(str)
    assert len(new) > 0 and new.is_unique
    assert real.isdisjoint(new), f"source keys reproduced: {sorted(real & set(new))[:5]}"
    assert {form(v) for v in new} <= {form(v) for v in real}


def test_keys_of_every_form_are_new_and_in_format(wide_db: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'keys.db'}"
    relsynth.clone(wide_db, target, seed=11)
    for table, key in [("customer", "customer_code"), ("course", "course_code"), ("product", "sku"),
                       ("currency", "code")]:
        _assert_new_keys(_read(wide_db, f"SELECT {key} FROM {table}")[key], _read(target, f"SELECT {key} FROM {table}")[key])
    real = _read(wide_db, "SELECT device_uuid FROM device")["device_uuid"]
    new = _read(target, "SELECT device_uuid FROM device")["device_uuid"]
    _assert_new_keys(real, new, form=lambda v: bool(UUID_FORMAT.match(v)))
    # Integer keys are a new sequence above the source's largest key: none equals a real one.
    ids = _read(target, "SELECT order_id FROM orders")["order_id"]
    assert ids.is_unique and pd.api.types.is_integer_dtype(ids)
    assert ids.min() > _read(wide_db, "SELECT max(order_id) AS m FROM orders")["m"][0]
    # Children point at the new keys.
    assert _read(target, "SELECT count(*) AS n FROM reading r JOIN device d USING (device_uuid)")["n"][0] == \
        _read(target, "SELECT count(*) AS n FROM reading")["n"][0]
    # Tables without a primary key clone with their rows.
    for table in ("audit_log", "event_log"):
        n_real = _read(wide_db, f"SELECT count(*) AS n FROM {table}")["n"][0]
        assert abs(_read(target, f"SELECT count(*) AS n FROM {table}")["n"][0] - n_real) <= 0.1 * n_real


def test_real_text_and_uuid_keys_are_never_reproduced() -> None:
    """northwind customers.customer_id ('ALFKI') and adventureworkslt rowguid (UNIQUE UUID text)."""
    nw, aw = f"sqlite:///{dataset('northwind')}", f"sqlite:///{dataset('adventureworkslt')}"
    real = _read(nw, "SELECT customer_id FROM customers")["customer_id"]
    model = relsynth.fit(nw)
    for seed in range(3):
        tables = model.sample(seed=seed)
        new = tables["customers"]["customer_id"]
        _assert_new_keys(real, new)
        assert {_shape(v) for v in new} == {"AAAAA"}
        assert tables["orders"]["customer_id"].dropna().isin(set(new)).all()  # orders follow the new codes
    tables = relsynth.fit(aw).sample(seed=0)
    for table in ("Customer", "Product", "SalesOrderHeader"):
        _assert_new_keys(_read(aw, f'SELECT rowguid FROM "{table}"')["rowguid"], tables[table]["rowguid"].astype(str),
                         form=lambda v: (len(v), bool(re.fullmatch(r"[0-9A-Fa-f-]+", v)), v.isupper(), v.count("-")))


def test_text_key_generator_never_returns_a_source_value() -> None:
    """Short codes: the pattern space is small enough for chance hits, which must be redrawn."""
    ids = pd.read_sql("SELECT customer_id FROM customers", sqlite3.connect(dataset("northwind")))["customer_id"].tolist()
    gen = TextGenerator.fit(ids, unique=True)
    for seed in range(300):
        out = gen.generate(len(ids), np.random.default_rng(seed))
        assert len(set(out)) == len(ids) and set(out).isdisjoint(ids)
        assert all(len(v) == 5 and v.isalpha() and v.isupper() for v in out)
    # A space the source fills to 77 %: the rest is found, then a counter takes over (no repeats).
    codes = [a + b for a in string.ascii_uppercase for b in string.digits][:200]
    gen = TextGenerator.fit(codes, unique=True)
    out = gen.generate(50, np.random.default_rng(0))
    assert len(set(out)) == 50 and set(out).isdisjoint(codes) and {_shape(v) for v in out} == {"A9"}
    out = gen.generate(100, np.random.default_rng(0))
    assert len(set(out)) == 100 and set(out).isdisjoint(codes)
    # The model stores fingerprints, never the values; a saved and loaded generator keeps them.
    state = gen.to_state()
    text = json.dumps(state, default=lambda a: a.tolist())
    assert not any(f'"{c}"' in text for c in codes if c not in state["patterns"])  # "A9" is also a shape
    assert len(state["exclude"]) <= len(codes)
    again = TextGenerator.from_state(state).generate(50, np.random.default_rng(0))
    assert list(again) == list(gen.generate(50, np.random.default_rng(0)))


# ---------------------------------------------------------------------------- 4. sources that break their FKs
def _broken_source(path: Path) -> dict[str, int]:
    """A SQLite source written with FK checks off: orphans and 'none' sentinels (0, '0', '').

    Returns the dangling rows per FK label, as ``relsynth inspect`` must report them.
    """
    d = _Data(5)
    r = d.rng
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.executescript("""
        CREATE TABLE vendor (vendor_code VARCHAR(5) PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL,
            referred_by INTEGER REFERENCES customer(customer_id));
        CREATE TABLE invoice (invoice_id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customer(customer_id),
            vendor_code VARCHAR(5) NOT NULL REFERENCES vendor(vendor_code),
            amount REAL NOT NULL);
        CREATE TABLE line (line_id INTEGER PRIMARY KEY, invoice_id INTEGER REFERENCES invoice(invoice_id),
            qty INTEGER NOT NULL);
    """)
    vendors = d.codes(15, "AAAAA")
    _insert(conn, "vendor", {"vendor_code": vendors, "name": d.words(15)})
    referred = d.parents(200, list(range(1, 201)), 0.5, null_rate=0.6)
    referred[:7] = [0, 0, 0, 0, 0, 999, 998]  # 0 = "nobody" in a nullable self-reference, plus orphans
    _insert(conn, "customer", {"customer_id": list(range(1, 201)), "name": d.names(200), "referred_by": referred})
    cust = d.parents(600, list(range(1, 201)), 0.6)
    cust[:25] = [0] * 20 + [5000, 5001, 5002, 5003, 5004]  # NOT NULL sentinel 0 and deleted customers
    vend = d.parents(600, vendors, 1.0)
    vend[:12] = ["0"] * 10 + ["ZZZZZ", ""]  # text sentinels
    _insert(conn, "invoice", {"invoice_id": list(range(1, 601)), "customer_id": cust, "vendor_code": vend,
                              "amount": d.amounts(600, 80.0)})
    inv = d.parents(1500, list(range(1, 601)), 0.3, null_rate=0.05)
    inv[:30] = [9999] * 30  # lines of a deleted invoice
    _insert(conn, "line", {"line_id": list(range(1, 1501)), "invoice_id": inv, "qty": r.integers(1, 9, 1500).tolist()})
    conn.commit()
    conn.close()
    return {"customer.(referred_by) -> customer(customer_id)": 7,
            "invoice.(customer_id) -> customer(customer_id)": 25,
            "invoice.(vendor_code) -> vendor(vendor_code)": 12,
            "line.(invoice_id) -> invoice(invoice_id)": 30}


def test_source_with_broken_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    expected = _broken_source(path)
    src = f"sqlite:///{path}"
    before = path.read_bytes()

    # inspect: the library, the CLI's text and its JSON all count dangling rows per FK.
    info = relsynth.inspect(src)
    found = {f"{t}.{label}": n for t, fks in info.dangling.items() for label, n in fks.items() if n}
    assert found == expected
    r = runner.invoke(app, ["inspect", src])
    assert r.exit_code == 0, r.output
    assert "source integrity: 74 row(s) in 4 foreign key(s)" in r.output
    for label, n in expected.items():
        assert f"{label}: {n} row(s)" in r.output
    r = runner.invoke(app, ["inspect", src, "--format", "json"])
    assert r.exit_code == 0, r.output
    part = json.loads(r.output)["source_integrity"]
    assert part["checked"] and part["dangling_rows"] == 74
    assert {f"{x['table']}.{x['foreign_key']}": x["dangling_rows"] for x in part["foreign_keys"] if x["dangling_rows"]} == expected
    r = runner.invoke(app, ["inspect", src, "--no-integrity", "--format", "json"])
    assert json.loads(r.output)["source_integrity"]["checked"] is False

    # clone: no crash, no dangling reference in the output, and the notes name each FK's count.
    target = f"sqlite:///{tmp_path / 'out.db'}"
    result = timed_clone("broken-FK source sqlite->sqlite", src, target, seed=2)
    _assert_clone_ok(result, target)
    for label, n in expected.items():
        assert any(note.startswith(f"{label}: {n} row(s) point at no") for note in result.notes), (label, result.notes)
    assert relsynth.inspect(target).dangling_rows == 0
    assert not _read(target, "SELECT vendor_code FROM invoice")["vendor_code"].isin(["0", ""]).any()
    assert not _read(target, "SELECT customer_id FROM invoice")["customer_id"].eq(0).any()
    # Nothing was written to the source, not even a journal.
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("broken")) == ["broken.db"]


# ---------------------------------------------------------------------------- 5. several FKs, several parents
def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS distance of two degree samples (integers)."""
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def _multi_fk_source(path: Path) -> None:
    """Known degree shapes: flights with two FKs to airport, payments under three parents.

    - flight.origin: Zipf-like (hubs); flight.destination: near uniform; flight.diverted_to:
      nullable, 80 % NULL, concentrated on few airports;
    - payment → customer (Poisson-like, 15 % of customers without payments), staff (4 rows,
      shares 55/25/15/5), rental (nullable, 30 % NULL, each rental at most twice).
    """
    d = _Data(9)
    r = d.rng
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE airport (airport_id INTEGER PRIMARY KEY, code VARCHAR(3) NOT NULL UNIQUE, runways INTEGER);
        CREATE TABLE flight (flight_id INTEGER PRIMARY KEY,
            origin INTEGER NOT NULL REFERENCES airport(airport_id),
            destination INTEGER NOT NULL REFERENCES airport(airport_id),
            diverted_to INTEGER REFERENCES airport(airport_id),
            minutes INTEGER NOT NULL);
        CREATE TABLE customer (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, since DATE);
        CREATE TABLE staff (staff_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE rental (rental_id INTEGER PRIMARY KEY, rented DATE NOT NULL);
        CREATE TABLE payment (payment_id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customer(customer_id),
            staff_id INTEGER NOT NULL REFERENCES staff(staff_id),
            rental_id INTEGER REFERENCES rental(rental_id),
            amount REAL NOT NULL);
    """)
    airports = list(range(1, 301))
    _insert(conn, "airport", {"airport_id": airports, "code": d.codes(300, "AAA"), "runways": r.integers(1, 5, 300).tolist()})
    n = 6000
    _insert(conn, "flight", {"flight_id": list(range(1, n + 1)), "origin": d.parents(n, airports, 1.1),
                             "destination": d.parents(n, airports, 0.1),
                             "diverted_to": d.parents(n, airports[:40], 1.5, null_rate=0.8),
                             "minutes": r.integers(40, 600, n).tolist()})
    customers = list(range(1, 601))
    _insert(conn, "customer", {"customer_id": customers, "name": d.names(600), "since": d.dates(600)})
    _insert(conn, "staff", {"staff_id": [1, 2, 3, 4], "name": d.names(4)})
    _insert(conn, "rental", {"rental_id": list(range(1, 3001)), "rented": d.dates(3000)})
    active = [c for c in customers if r.random() > 0.15]
    per_customer = r.poisson(9, len(active)) + 1
    pay_customer = np.repeat(active, per_customer)
    m = pay_customer.size
    rentals = np.concatenate([np.arange(1, 3001), np.arange(1, 3001)])[r.permutation(6000)][:m]
    rental_ids = [None if r.random() < 0.3 else int(x) for x in rentals]
    _insert(conn, "payment", {"payment_id": list(range(1, m + 1)), "customer_id": [int(c) for c in r.permutation(pay_customer)],
                              "staff_id": r.choice([1, 2, 3, 4], m, p=[0.55, 0.25, 0.15, 0.05]).tolist(),
                              "rental_id": rental_ids, "amount": d.amounts(m, 4.5, 0.5)})
    conn.commit()
    conn.close()


def _ks_tolerance(n_parents: int) -> float:
    """KS distance allowed between source and synthetic degrees of ``n_parents`` parents.

    The two-sample KS critical value at the 1 % level, 1.63·sqrt(2/n): what two independent
    samples of the source's degree distribution may differ by. Measured over seeds 0-9 (issue
    #3 report): flight.origin (Zipf-like, 300 parents) ≤ 0.08 against 0.133 allowed,
    flight.diverted_to ≤ 0.04 (0.133), payment.customer_id ≤ 0.042 (0.094), payment.rental_id
    ≤ 0.02 (0.042); assigning the same children uniformly gives 0.74, 0.85, 0.158 and 0.124, all
    above, so the test sees a matcher that ignores degrees. Before assign_parents put shortfalls
    on the largest degrees, flight.origin reached 0.28 (seeds 2, 3, 5, 6 above 0.133).
    """
    return 1.63 * np.sqrt(2 / n_parents)


#: NULL rates of nullable FKs are kept within this many points (measured: at most 0.013 off).
NULL_TOLERANCE = 0.03


def _degrees(frame: pd.DataFrame, column: str, parent_keys: pd.Series) -> np.ndarray:
    counts = frame[column].dropna().astype("int64").value_counts()
    return counts.reindex(parent_keys.astype("int64"), fill_value=0).to_numpy()


def test_several_fks_keep_degree_distributions_and_null_rates(tmp_path: Path) -> None:
    path = tmp_path / "multi.db"
    _multi_fk_source(path)
    src = f"sqlite:///{path}"
    model = relsynth.fit(src)
    plan = model.plan
    real = {t: _read(src, f"SELECT * FROM {t}") for t in ("airport", "flight", "customer", "staff", "rental", "payment")}
    # One driver per child; two FKs to airport and two of payment's three parents are matched.
    assert plan.tables["flight"].driver.columns == ["destination"]
    assert sorted(fk.columns[0] for fk in plan.tables["flight"].secondary) == ["diverted_to", "origin"]
    assert plan.tables["payment"].driver.columns == ["staff_id"]
    assert sorted(fk.columns[0] for fk in plan.tables["payment"].secondary) == ["customer_id", "rental_id"]
    for seed in range(5):
        tables = model.sample(seed=seed)
        for child in ("flight", "payment"):
            tp = plan.tables[child]
            for fk in tp.secondary:
                col, parent, key = fk.columns[0], fk.ref_table, fk.ref_columns[0]
                a = _degrees(real[child], col, real[parent][key])
                b = _degrees(tables[child], col, tables[parent][key])
                uniform = np.bincount(np.random.default_rng(seed).integers(0, len(tables[parent]), int(b.sum())),
                                      minlength=len(tables[parent]))
                ks, ks_uniform, tol = _ks(a, b), _ks(a, uniform), _ks_tolerance(len(real[parent]))
                print(f"seed {seed} {child}.{col} -> {parent}: KS {ks:.3f} (allowed {tol:.3f}; "
                      f"uniform assignment {ks_uniform:.3f})")
                assert ks <= tol < ks_uniform, f"{child}.{col}: KS {ks:.3f}"
            for fk in tp.secondary + [tp.driver]:
                col = fk.columns[0]
                rate_real, rate_new = real[child][col].isna().mean(), tables[child][col].isna().mean()
                assert abs(rate_real - rate_new) <= NULL_TOLERANCE, f"{child}.{col}: NULL {rate_real:.3f} -> {rate_new:.3f}"
                if rate_real:
                    print(f"seed {seed} {child}.{col}: NULL {rate_real:.3f} -> {rate_new:.3f}")
    dst = f"sqlite:///{tmp_path / 'out.db'}"
    relsynth.write(tables, dst, model.schema)
    assert relsynth.inspect(dst).dangling_rows == 0
