"""Reading schemas and rows from SQLite, PostgreSQL and MariaDB sources."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import dataset, load_pg_dump
from relsynth.errors import ConfigError, SchemaError, SourceError
from relsynth.schema import (
    DTYPES,
    Schema,
    connect,
    mask_url,
    read_schema,
    read_tables,
    sqlite_check_constraints,
)
from relsynth.schema import reader

# Counted in the files themselves (sqlite_master, COUNT(*)), not taken from the README alone.
SQLITE_FACTS = {
    "chinook": {"tables": 11, "rows": 15_607, "unique": 0, "checks": 0},
    "sakila": {"tables": 15, "rows": 46_273, "unique": 2, "checks": 2},
    "northwind": {"tables": 14, "rows": 3_362, "unique": 0, "checks": 0},
    "adventureworkslt": {"tables": 10, "rows": 4_276, "unique": 15, "checks": 13},
}


def sqlite_url(path: Path) -> str:
    # "?" would start the URL's query; SQLAlchemy decodes %3F in the database path.
    return f"sqlite:///{str(path).replace('?', '%3F')}"


def fk_set(schema: Schema, table: str) -> set[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    return {(tuple(fk.columns), fk.ref_table, tuple(fk.ref_columns)) for fk in schema.table(table).foreign_keys}


def assert_convention(frames: dict[str, pd.DataFrame], schema: Schema) -> None:
    """Every frame has the schema's columns in order, the convention's dtypes and its row count."""
    assert list(frames) == [n for n in schema.tables if n in frames]
    for name, df in frames.items():
        table = schema.table(name)
        assert list(df.columns) == table.column_names, name
        assert isinstance(df.index, pd.RangeIndex)
        for col in table.columns:
            assert str(df[col.name].dtype) == DTYPES[col.kind], (name, col.name, df[col.name].dtype)
            values = df[col.name].dropna()
            if col.kind in ("string", "uuid", "json"):
                assert all(type(v) is str for v in values), (name, col.name)
            elif col.kind == "binary":
                assert all(type(v) is bytes for v in values), (name, col.name)
            elif col.kind == "time":
                assert all(type(v) is dt.time for v in values), (name, col.name)
            elif col.kind == "date":
                assert (values == values.dt.normalize()).all(), (name, col.name)
            if not col.nullable:
                assert not df[col.name].isna().any(), (name, col.name)
        if table.row_count is not None:
            assert len(df) == table.row_count, name
        if table.primary_key:
            assert not df.duplicated(table.primary_key).any(), name


def _read_both_ways(url: str | sa.Engine, monkeypatch: pytest.MonkeyPatch,
                    **kwargs: Any) -> tuple[dict, dict, dict[str, bool]]:
    """``read_tables`` through ADBC and the usual way (SQLite's ``sqlite3``, PostgreSQL's COPY
    text), and which tables went through ADBC (False: it gave up on the table)."""
    from conftest import _no_adbc, _no_adbc_pg, require_adbc_driver

    sqlite = sa.make_url(url).get_backend_name() == "sqlite" if isinstance(url, str) else url.dialect.name == "sqlite"
    require_adbc_driver("adbc_driver_sqlite" if sqlite else "adbc_driver_postgresql")
    through: dict[str, bool] = {}
    real = reader._ArrowReads.frame

    def spy(self: Any, i: int, table: Any, *args: Any) -> Any:
        raw = real(self, i, table, *args)
        through[table.name] = raw is not None
        return raw

    with monkeypatch.context() as patch:
        patch.setattr(reader._ArrowReads, "frame", spy)
        arrow = read_tables(url, read_schema(url), **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(reader, *(("_adbc_sqlite", _no_adbc) if sqlite else ("_adbc_postgresql", _no_adbc_pg)))
        usual = read_tables(url, read_schema(url), **kwargs)
    return arrow, usual, through


@pytest.mark.parametrize("name", list(SQLITE_FACTS))
def test_sqlite_samples_read_the_same_through_adbc_and_sqlite3(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = dataset(name)
    before = file_state(path)
    arrow, rows, through = _read_both_ways(sqlite_url(path), monkeypatch)
    assert through == dict.fromkeys(rows, True)
    for table in rows:
        pd.testing.assert_frame_equal(arrow[table], rows[table], obj=table)
    assert file_state(path) == before


def test_a_column_adbc_cannot_type_is_read_through_sqlite3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ADBC types a column from its first rows; SQLite lets a later row hold anything.
    path = tmp_path / "loose db?#.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL, d BLOB)")
    con.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)")
    n = reader._ARROW_BATCH_ROWS + 10  # the odd row in a later batch than the first
    rows = [(i, i, f"x{i}", i / 2, b"\x00\x01") for i in range(n)] + [(n, "n/a", 5, 2, "text")]
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    con.executemany("INSERT INTO u VALUES (?, ?)", [(i, None if i % 3 else f"v{i}") for i in range(50)])
    con.commit()
    con.close()
    arrow, by_rows, through = _read_both_ways(sqlite_url(path), monkeypatch)
    assert through == {"t": False, "u": True}
    for table in by_rows:
        pd.testing.assert_frame_equal(arrow[table], by_rows[table], obj=table)
    assert arrow["t"]["a"].iloc[-1] == "n/a"


def file_state(path: Path) -> tuple[str, int, list[str]]:
    siblings = sorted(p.name for p in path.parent.iterdir())
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, siblings


# --------------------------------------------------------------------------------------------
# SQLite sample databases


@pytest.mark.parametrize("name", list(SQLITE_FACTS))
def test_sqlite_samples_structure_and_counts(name: str) -> None:
    path = dataset(name)
    facts = SQLITE_FACTS[name]
    schema = read_schema(sqlite_url(path))
    assert schema.dialect == "sqlite"
    assert len(schema.tables) == facts["tables"]
    assert sum(len(t.unique) for t in schema.tables.values()) == facts["unique"]
    assert sum(len(t.checks) for t in schema.tables.values()) == facts["checks"]
    con = sqlite3.connect(path)
    try:
        for table in schema.tables.values():
            quoted = '"' + table.name.replace('"', '""') + '"'
            assert table.row_count == con.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0]
            assert table.primary_key, f"{name}.{table.name} has a primary key"
    finally:
        con.close()
    assert sum(t.row_count for t in schema.tables.values()) == facts["rows"]


@pytest.mark.parametrize("name", list(SQLITE_FACTS))
def test_sqlite_samples_read_tables_follow_the_convention(name: str) -> None:
    path = dataset(name)
    before = file_state(path)
    schema = read_schema(sqlite_url(path))
    frames = read_tables(sqlite_url(path), schema)
    assert_convention(frames, schema)
    assert sum(len(df) for df in frames.values()) == SQLITE_FACTS[name]["rows"]
    # Reading never touches the source: same bytes, same mtime, no -journal/-wal files left.
    assert file_state(path) == before


def test_chinook_sqlite_keys() -> None:
    schema = read_schema(sqlite_url(dataset("chinook")))
    assert set(schema.tables) == {"Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine",
                                  "MediaType", "Playlist", "PlaylistTrack", "Track"}
    assert schema.table("PlaylistTrack").primary_key == ["PlaylistId", "TrackId"]
    assert fk_set(schema, "PlaylistTrack") == {(("PlaylistId",), "Playlist", ("PlaylistId",)),
                                              (("TrackId",), "Track", ("TrackId",))}
    assert fk_set(schema, "Employee") == {(("ReportsTo",), "Employee", ("EmployeeId",))}
    assert schema.table("Employee").column("ReportsTo").nullable
    total = schema.table("Invoice").column("Total")
    assert (total.kind, total.precision, total.scale, total.sql_type) == ("decimal", 10, 2, "NUMERIC(10,2)")
    assert schema.table("Invoice").column("InvoiceDate").kind == "datetime"
    name = schema.table("Track").column("Name")
    assert (name.kind, name.length, name.nullable) == ("string", 200, False)
    # Declared "INTEGER NOT NULL" primary keys are rowid aliases, not AUTOINCREMENT columns.
    assert not any(c.autoincrement for t in schema.tables.values() for c in t.columns)


def test_sakila_sqlite_cycle_checks_and_uniques() -> None:
    schema = read_schema(sqlite_url(dataset("sakila")))
    assert (("manager_staff_id",), "staff", ("staff_id",)) in fk_set(schema, "store")
    assert (("store_id",), "store", ("store_id",)) in fk_set(schema, "staff")
    assert not schema.table("store").column("manager_staff_id").nullable
    assert not schema.table("staff").column("store_id").nullable
    assert fk_set(schema, "film") == {(("language_id",), "language", ("language_id",)),
                                      (("original_language_id",), "language", ("language_id",))}
    checks = sorted(c.sqltext for c in schema.table("film").checks)
    assert checks == ['"rating" IN (\'G\', \'PG\', \'PG-13\', \'R\', \'NC-17\')',
                      '((("release_year" >= 1901) AND ("release_year" <= 2155)))']
    assert [u.columns for u in schema.table("rental").unique] == [["rental_date", "inventory_id", "customer_id"]]
    assert [u.columns for u in schema.table("store").unique] == [["manager_staff_id"]]
    assert schema.table("film_actor").primary_key == ["actor_id", "film_id"]
    assert schema.table("customer").column("activebool").kind == "boolean"
    assert schema.table("customer").column("create_date").kind == "date"
    frames = read_tables(sqlite_url(dataset("sakila")), schema, tables=["film", "payment"])
    assert list(frames) == ["film", "payment"]
    assert frames["film"]["original_language_id"].isna().all()
    assert frames["payment"]["amount"].dtype == "float64"  # NUMERIC(5,2) stored as REAL and INTEGER


def test_northwind_sqlite_text_keys_empty_tables_and_empty_blobs() -> None:
    schema = read_schema(sqlite_url(dataset("northwind")))
    assert schema.table("customers").column("customer_id").kind == "string"
    junctions = {n: schema.table(n).primary_key for n in ("customer_customer_demo", "employee_territories",
                                                          "order_details")}
    assert all(len(pk) == 2 for pk in junctions.values())
    assert schema.table("customer_customer_demo").row_count == 0
    assert schema.table("customer_demographics").row_count == 0
    assert fk_set(schema, "employees") == {(("reports_to",), "employees", ("employee_id",))}
    frames = read_tables(sqlite_url(dataset("northwind")), schema)
    assert len(frames["customer_customer_demo"]) == 0
    assert list(frames["customer_customer_demo"].columns) == ["customer_id", "customer_type_id"]
    assert set(frames["categories"]["picture"]) == {b""}


def test_adventureworks_sqlite_constraints() -> None:
    schema = read_schema(sqlite_url(dataset("adventureworkslt")))
    assert schema.table("ProductModelProductDescription").primary_key == [
        "ProductModelID", "ProductDescriptionID", "Culture"]
    assert fk_set(schema, "SalesOrderHeader") >= {(("ShipToAddressID",), "Address", ("AddressID",)),
                                                  (("BillToAddressID",), "Address", ("AddressID",))}
    assert fk_set(schema, "ProductCategory") == {(("ParentProductCategoryID",), "ProductCategory",
                                                  ("ProductCategoryID",))}
    product = schema.table("Product")
    assert sorted(u.columns[0] for u in product.unique) == ["Name", "ProductNumber", "rowguid"]
    assert {c.name for c in product.checks} == {"CK_Product_ListPrice", "CK_Product_SellEndDate",
                                                "CK_Product_StandardCost", "CK_Product_Weight"}
    assert product.column("ThumbNailPhoto").kind == "binary"
    assert product.column("rowguid").kind == "string"  # VARCHAR(36) in the SQLite file, uuid in PostgreSQL
    frames = read_tables(sqlite_url(dataset("adventureworkslt")), schema, tables=["Product"])
    photos = frames["Product"]["ThumbNailPhoto"]
    assert photos.map(lambda b: b[:6]).eq(b"GIF89a").all()


def test_include_exclude_and_selection_errors() -> None:
    url = sqlite_url(dataset("sakila"))
    schema = read_schema(url, include=["language", "film"])
    assert list(schema.tables) == ["film", "language"]
    schema = read_schema(url, exclude=["payment", "rental"])
    assert len(schema.tables) == 13
    with pytest.raises(SchemaError, match=r"include 'language' or exclude 'film'"):
        read_schema(url, exclude=["language"])
    with pytest.raises(SchemaError, match=r"no table 'actr'.*did you mean 'actor'"):
        read_schema(url, include=["actr"])
    with pytest.raises(SchemaError, match="leaves no tables"):
        read_schema(url, include=[])
    with pytest.raises(SchemaError, match="did you mean 'film'"):
        read_tables(url, schema, tables=["flim"])


# --------------------------------------------------------------------------------------------
# SQLite edge cases in a file of our own

ODD_SQLITE = r'''
CREATE TABLE "Parent Table" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "naïve ""quoted"" name" TEXT UNIQUE,
    "select" VARCHAR(20) CHECK ("select" IN ('a', 'b)', 'CHECK (x)')),  -- a CHECK ( in a comment
    [code] TEXT NOT NULL,
    untyped,
    guid UUID,
    doc JSON,
    price MONEY,
    CONSTRAINT "ck both" CHECK (length([code]) > 0 AND (
        "select" IS NULL OR "select" <> 'z')),
    UNIQUE ([code], "select"),
    UNIQUE ("select", [code])
);
CREATE TABLE child (
    pid INTEGER REFERENCES "Parent Table",
    a INT, b INT, c TEXT,
    PRIMARY KEY (a, b)
);
CREATE UNIQUE INDEX child_pk_again ON child (b, a);
CREATE UNIQUE INDEX child_partial ON child (c) WHERE c IS NOT NULL;
CREATE UNIQUE INDEX child_c_lower ON child (lower(c));
CREATE VIEW v AS SELECT * FROM child;
INSERT INTO "Parent Table" ("naïve ""quoted"" name", "select", code, untyped, guid, doc, price)
    VALUES ('x', 'a', 'c1', 42, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"k": 1}', 1.5),
           (NULL, NULL, 'c2', 'text', NULL, NULL, NULL);
INSERT INTO child VALUES (1, 1, 2, 'q'), (NULL, 2, 2, NULL);
'''


@pytest.fixture
def odd_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "odd db?#ü.sqlite"  # URI-special characters in the path
    con = sqlite3.connect(path)
    con.executescript(ODD_SQLITE)
    con.commit()
    con.close()
    return path


def test_sqlite_odd_identifiers_and_constraints(odd_sqlite: Path) -> None:
    before = file_state(odd_sqlite)
    schema = read_schema(sqlite_url(odd_sqlite))
    assert list(schema.tables) == ["Parent Table", "child"]  # no view, no sqlite_sequence
    parent = schema.table("Parent Table")
    assert parent.column("id").autoincrement
    assert parent.column("untyped").kind == "string" and parent.column("untyped").sql_type is None
    assert parent.column("guid").kind == "uuid"
    assert parent.column("doc").kind == "json"
    assert parent.column("price").kind == "decimal"
    assert {(c.name, c.sqltext) for c in parent.checks} == {
        (None, "\"select\" IN ('a', 'b)', 'CHECK (x)')"),
        ("ck both", 'length([code]) > 0 AND (\n        "select" IS NULL OR "select" <> \'z\')'),
    }
    assert sorted(map(sorted, (u.columns for u in parent.unique))) == [["code", "select"],
                                                                       ['naïve "quoted" name']]
    child = schema.table("child")
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in child.foreign_keys] == [
        (["pid"], "Parent Table", ["id"])]
    assert child.unique == []  # PK duplicate, partial and expression indexes are not column uniques
    assert not child.column("a").nullable  # part of the primary key
    frames = read_tables(sqlite_url(odd_sqlite), schema)
    assert_convention(frames, schema)
    p = frames["Parent Table"]
    assert p['naïve "quoted" name'].tolist() == ["x", None]
    assert p["untyped"].tolist() == ["42", "text"]
    assert p["guid"].tolist() == ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None]
    assert p["doc"].tolist() == ['{"k": 1}', None]
    assert file_state(odd_sqlite) == before


def test_sqlite_check_scanner() -> None:
    sql = """CREATE TABLE t (
      a INT CHECK (a > (1 + 2)), -- CHECK (in comment)
      "check me" TEXT DEFAULT 'CHECK (no)' CHECK ("check me" <> ')'),
      /* CHECK (block comment) */ b INT CONSTRAINT [b pos] CHECK(b>0),
      CONSTRAINT `two` CHECK (a < b)
    )"""
    checks = sqlite_check_constraints(sql)
    assert [(c.name, c.sqltext) for c in checks] == [
        (None, "a > (1 + 2)"), (None, "\"check me\" <> ')'"), ("b pos", "b>0"), ("two", "a < b")]


def test_sqlite_empty_database_and_missing_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with pytest.raises(SchemaError, match="has no tables"):
        read_schema(sqlite_url(empty))
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(SourceError) as info:
        read_schema(sqlite_url(missing))
    assert str(info.value) == f"source database file '{missing}' does not exist; check the path"
    assert not missing.exists()  # SQLAlchemy would have created it
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not a database file at all" * 10)
    with pytest.raises(SourceError, match="is not a database"):
        connect(sqlite_url(not_db))


def test_sqlite_engine_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    engine = connect(sqlite_url(path))
    with pytest.raises(sa.exc.OperationalError, match="readonly"), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()
    writable = connect(sqlite_url(tmp_path / "new.sqlite"), read_only=False)  # targets may be created
    with writable.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    writable.dispose()


# --------------------------------------------------------------------------------------------
# URLs and connection errors


def test_mask_url() -> None:
    assert mask_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("mysql://root@h/db") == "mysql://root@h/db"
    assert "s3cret" not in mask_url(sa.create_engine("postgresql+psycopg://u:s3cret@h/db"))


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        ("postgresql://postgres:s3cret@127.0.0.1:1/x",
         r"^cannot connect to postgresql\+psycopg://postgres:\*\*\*@127\.0\.0\.1:1/x: .*check host, port"),
        ("mysql://root:s3cret@127.0.0.1:1/x",
         r"^cannot connect to mysql\+pymysql://root:\*\*\*@127\.0\.0\.1:1/x: .*check host, port"),
    ],
)
def test_unreachable_server_is_a_one_line_source_error(url: str, pattern: str) -> None:
    with pytest.raises(SourceError, match=pattern) as info:
        connect(url)
    assert "\n" not in str(info.value) and "s3cret" not in str(info.value)


@pytest.mark.parametrize("url", ["foo://a/b", "no url at all"])
def test_unknown_dialect_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"use sqlite:///PATH, postgresql://") as info:
        connect(url)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.mark.postgres
def test_pg_chinook(pg_url: str) -> None:
    load_pg_dump(pg_url, "chinook")
    schema = read_schema(pg_url)
    assert schema.dialect == "postgresql"
    assert len(schema.tables) == 11
    assert schema.table("playlist_track").primary_key == ["playlist_id", "track_id"]
    assert fk_set(schema, "employee") == {(("reports_to",), "employee", ("employee_id",))}
    assert sum(t.row_count for t in schema.tables.values()) == SQLITE_FACTS["chinook"]["rows"]
    total = schema.table("invoice").column("total")
    assert (total.kind, total.precision, total.scale) == ("decimal", 10, 2)
    frames = read_tables(pg_url, schema)
    assert_convention(frames, schema)
    lite = read_tables(sqlite_url(dataset("chinook")), read_schema(sqlite_url(dataset("chinook"))),
                       tables=["Invoice"])["Invoice"]
    pg_invoice = frames["invoice"].sort_values("invoice_id", ignore_index=True)
    assert pg_invoice["total"].round(2).tolist() == lite.sort_values("InvoiceId")["Total"].round(2).tolist()
    assert pg_invoice["invoice_date"].tolist() == lite.sort_values("InvoiceId")["InvoiceDate"].tolist()


@pytest.mark.postgres
def test_pg_sakila(pg_url: str) -> None:
    load_pg_dump(pg_url, "sakila")
    schema = read_schema(pg_url)
    # 15 tables plus six empty legacy inheritance children payment_p2007_01..06; no views.
    children = {f"payment_p2007_0{i}" for i in range(1, 7)}
    assert set(schema.tables) == set(read_schema(sqlite_url(dataset("sakila"))).tables) | children
    assert all(schema.table(n).row_count == 0 for n in children)
    assert sum(t.row_count for t in schema.tables.values()) == SQLITE_FACTS["sakila"]["rows"]
    assert (("manager_staff_id",), "staff", ("staff_id",)) in fk_set(schema, "store")
    assert (("store_id",), "store", ("store_id",)) in fk_set(schema, "staff")
    assert len(fk_set(schema, "film")) == 2
    film = schema.table("film")
    assert film.column("rating").enum_values == ["G", "PG", "PG-13", "R", "NC-17"]
    assert film.column("release_year").kind == "integer"  # domain "year" over integer
    assert film.column("release_year").sql_type == "year"
    assert [c.sqltext for c in film.checks] == ["release_year >= 1901 AND release_year <= 2155"]
    assert film.column("special_features").kind == "string"  # text[]
    assert film.column("film_id").autoincrement and not film.column("title").autoincrement
    assert [u.columns for u in schema.table("rental").unique] == [["rental_date", "inventory_id", "customer_id"]]
    frames = read_tables(pg_url, schema)
    assert_convention(frames, schema)
    assert frames["film"]["special_features"].dropna().iloc[0].startswith("{")
    assert frames["film"]["original_language_id"].isna().all()
    assert len(frames["payment"]) == 16_049


PG_TYPES = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE "odd ""name"" tbl" (
    id serial PRIMARY KEY, "select" text, "naïve col" varchar(10), "100%" int, "Mixed Case" int UNIQUE);
INSERT INTO "odd ""name"" tbl" ("select", "naïve col", "100%", "Mixed Case")
    VALUES ('', NULL, 1, 1), (NULL, '', NULL, 2), (E'tab\there\nnew\\line \\N', 'ü', 3, 3), ('\N', 'x', 4, 4);
CREATE TABLE types (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, b bytea, j jsonb, js json, tz timestamptz,
    t time, ttz timetz, m money, iv interval, arr int[], x xml, u uuid, bo boolean, f real,
    d double precision, n numeric, dt date, big bigint, md mood, lbl char(3),
    CONSTRAINT u_pair UNIQUE (bo, lbl));
CREATE UNIQUE INDEX types_partial ON types (f) WHERE f > 0;
INSERT INTO types (b, j, js, tz, t, ttz, m, iv, arr, x, u, bo, f, d, n, dt, big, md, lbl) VALUES
 (E'\\x00015c0a'::bytea, '{"a": "b\\c"}', '"str"', '2020-01-01 10:00:00+02', '23:59:59.5', '10:00:00+02', 12.34,
  '1 day 2 hours', '{1,2}', '<a>x</a>', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', true, 1.5, 'Infinity', 123.456,
  '2020-02-29', 9223372036854775807, 'happy', 'ab'),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('', 'null', '[]', '1999-12-31 23:00:00-05', '00:00', '00:00+00', -1, '0', '{}', '',
  '00000000-0000-0000-0000-000000000000', false, 'NaN', -0.0, 'NaN', '0001-01-01', -9223372036854775808, 'sad', 'xyz');
CREATE TABLE measure (id int, at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE measure_2020 PARTITION OF measure FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE measure_2021 PARTITION OF measure FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
INSERT INTO measure VALUES (1, '2020-05-01', 1), (2, '2021-05-01', 2);
CREATE VIEW a_view AS SELECT 1 AS one;
"""


@pytest.mark.postgres
def test_pg_types_escapes_and_partitions(pg_url: str, pg_reader: str) -> None:
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        # psycopg itself, without parameters: the script's "%" must not be read as a placeholder.
        conn.connection.driver_connection.execute(PG_TYPES)
    admin.dispose()
    schema = read_schema(pg_url)
    assert list(schema.tables) == ["measure", "odd \"name\" tbl", "types"]  # no partitions, no view
    assert schema.table("measure").row_count == 2
    types = schema.table("types")
    kinds = {c.name: c.kind for c in types.columns}
    assert kinds == {"id": "integer", "b": "binary", "j": "json", "js": "json", "tz": "datetime", "t": "time",
                     "ttz": "time", "m": "decimal", "iv": "string", "arr": "string", "x": "string", "u": "uuid",
                     "bo": "boolean", "f": "float", "d": "float", "n": "decimal", "dt": "date", "big": "integer",
                     "md": "string", "lbl": "string"}
    assert types.column("tz").timezone and not types.column("dt").timezone
    assert types.column("id").autoincrement and types.column("id").precision == 64
    assert types.column("md").enum_values == ["sad", "ok", "happy"]
    assert types.column("x").sql_type == "xml"
    assert [u.columns for u in types.unique] == [["bo", "lbl"]]  # the partial index is not a constraint
    frames = read_tables(pg_url, schema)
    assert_convention(frames, schema)
    odd = frames['odd "name" tbl'].sort_values("id", ignore_index=True)
    assert odd["select"].tolist() == ["", None, "tab\there\nnew\\line \\N", "\\N"]
    assert odd["naïve col"].tolist() == [None, "", "ü", "x"]
    assert odd["100%"].tolist() == [1, pd.NA, 3, 4]
    r = frames["types"].sort_values("id", ignore_index=True).to_dict("records")
    assert r[0]["b"] == b"\x00\x01\\\n" and r[2]["b"] == b"" and r[1]["b"] is None
    assert r[0]["j"] == '{"a": "b\\\\c"}' and r[0]["js"] == '"str"' and r[2]["j"] == "null"
    assert r[0]["tz"] == pd.Timestamp("2020-01-01 08:00") and r[2]["tz"] == pd.Timestamp("2000-01-01 04:00")
    assert r[0]["t"] == dt.time(23, 59, 59, 500000) and r[0]["ttz"] == dt.time(10)
    assert r[0]["m"] == 12.34 and r[2]["m"] == -1.0
    assert r[0]["iv"] == "1 day 02:00:00" and r[0]["arr"] == "{1,2}" and r[0]["x"] == "<a>x</a>" and r[2]["x"] == ""
    assert r[0]["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert bool(r[0]["bo"]) is True and bool(r[2]["bo"]) is False
    assert r[0]["d"] == float("inf") and pd.isna(r[2]["n"])
    assert r[2]["dt"] == pd.Timestamp("0001-01-01")
    assert r[0]["big"] == 2**63 - 1 and r[2]["big"] == -(2**63)
    assert r[0]["md"] == "happy" and r[0]["lbl"] == "ab " and r[1]["md"] is None
    assert sorted(frames["measure"]["id"].tolist()) == [1, 2]


@pytest.mark.postgres
@pytest.mark.parametrize("name", ["chinook", "sakila", "northwind", "adventureworkslt"])
def test_pg_samples_read_the_same_through_adbc_and_copy(pg_url: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    load_pg_dump(pg_url, name)
    arrow, copied, through = _read_both_ways(pg_url, monkeypatch)
    assert through == dict.fromkeys(copied, True)
    assert list(arrow) == list(copied)
    for table in copied:
        pd.testing.assert_frame_equal(arrow[table], copied[table], obj=table)
    limited, copied, _ = _read_both_ways(pg_url, monkeypatch, limits={t: 3 for t in copied})
    for table in copied:
        pd.testing.assert_frame_equal(limited[table], copied[table], obj=table)


@pytest.mark.postgres
def test_pg_adbc_reads_the_snapshot_of_the_read(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ADBC's connection reads what the read's own transaction sees: a row committed after
    the snapshot was taken (while the read is under way) is in neither."""
    from conftest import require_adbc_driver

    require_adbc_driver("adbc_driver_postgresql")
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, "
                             "p_id int REFERENCES p (id)); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1)")
    schema = read_schema(pg_url)
    real = reader._adbc_postgresql
    shared = []

    @contextlib.contextmanager
    def then_commit_more(engine: sa.Engine, conn: sa.Connection) -> Any:
        with real(engine, conn) as arrow:
            shared.append(arrow is not None)
            with admin.begin() as other:  # after the snapshot, before any table is read
                other.exec_driver_sql("INSERT INTO p VALUES (2); INSERT INTO c VALUES (2, 2)")
            yield arrow

    monkeypatch.setattr(reader, "_adbc_postgresql", then_commit_more)
    frames = read_tables(pg_url, schema)
    admin.dispose()
    assert shared == [True]
    assert frames["p"]["id"].tolist() == [1] and frames["c"]["id"].tolist() == [1]


@pytest.mark.postgres
def test_pg_adbc_is_not_used_where_it_would_see_other_tables(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine whose search path (or role) comes from ``connect_args``, which ADBC's URL cannot
    carry: its connection would read another schema's table of the same name, so COPY reads."""
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE SCHEMA other; "
                             "CREATE TABLE other.t (id int PRIMARY KEY); INSERT INTO other.t VALUES (7), (8)")
    admin.dispose()
    engine = sa.create_engine(pg_url, connect_args={"options": "-c search_path=other"})
    try:
        arrow, copied, through = _read_both_ways(engine, monkeypatch)
    finally:
        engine.dispose()
    assert through == {}  # ADBC was not used
    assert arrow["t"]["id"].tolist() == copied["t"]["id"].tolist() == [7, 8]


@pytest.mark.postgres
def test_pg_source_is_read_only(pg_url: str) -> None:
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')")
    engine = connect(pg_url)
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2, 'b')")
    # An engine handed in by the caller (not read-only itself) is still read inside a read-only transaction.
    schema = read_schema(admin)
    assert read_tables(admin, schema)["t"]["v"].tolist() == ["a"]
    engine.dispose()
    with admin.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    admin.dispose()


@pytest.mark.postgres
def test_pg_wrong_password_or_database_is_a_source_error(pg_url: str) -> None:
    with pytest.raises(SourceError, match=r"does not exist; check host, port"):
        connect(pg_url + "_missing")


@pytest.mark.postgres
def test_pg_empty_database(pg_url: str) -> None:
    with pytest.raises(SchemaError, match="has no tables"):
        read_schema(pg_url)


# --------------------------------------------------------------------------------------------
# MariaDB / MySQL

MYSQL_DDL = [
    """CREATE TABLE `customer list` (
        region VARCHAR(10) NOT NULL, id INT NOT NULL AUTO_INCREMENT, email VARCHAR(100),
        kind ENUM('a','b','c d') NOT NULL DEFAULT 'a', flag TINYINT(1), bits BIT(3), j JSON,
        created DATETIME(6), t TIME, y YEAR, balance DECIMAL(12,2),
        PRIMARY KEY (region, id), UNIQUE INDEX ux_email (email), KEY k_id (id),
        CONSTRAINT ck_y CHECK (y > 1900))""",
    """CREATE TABLE orders (
        oid INT PRIMARY KEY, region VARCHAR(10), cust INT, `order` INT, amount DECIMAL(10,2),
        placed DATETIME, bin VARBINARY(16), blb BLOB, `pct%%` INT CHECK (`pct%%` BETWEEN 0 AND 100),
        CONSTRAINT fk_c FOREIGN KEY (region, cust) REFERENCES `customer list`(region, id))""",
    """INSERT INTO `customer list` (region, email, kind, flag, bits, j, created, t, y, balance) VALUES
        ('eu', 'a@x', 'c d', 1, b'101', '{"a": [1, 2]}', '2020-01-02 03:04:05.123456', '10:00:00', 2021, 12.5),
        ('us', NULL, 'a', 0, NULL, NULL, NULL, NULL, NULL, NULL)""",
    """INSERT INTO orders VALUES (1, 'eu', 1, 7, 12.34, '2021-05-06 07:08:09', x'00ff', NULL, 50),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, x'', NULL)""",
]


@pytest.mark.mysql
def test_mariadb_schema_and_rows(mysql_url: str) -> None:
    admin = sa.create_engine(mysql_url)
    with admin.begin() as conn:
        for stmt in MYSQL_DDL:
            conn.exec_driver_sql(stmt)
    admin.dispose()
    url = mysql_url.replace("mysql+pymysql://", "mariadb://")  # plain scheme → PyMySQL
    schema = read_schema(url)
    assert schema.dialect == "mysql"
    assert list(schema.tables) == ["customer list", "orders"]
    cust = schema.table("customer list")
    assert cust.primary_key == ["region", "id"]
    assert cust.column("id").autoincrement and not cust.column("region").autoincrement
    assert cust.column("kind").enum_values == ["a", "b", "c d"]
    assert cust.column("flag").kind == "boolean"
    assert cust.column("bits").kind == "integer"
    assert cust.column("j").kind == "json"  # MariaDB JSON is LONGTEXT CHECK (json_valid(j))
    assert cust.column("created").kind == "datetime" and cust.column("t").kind == "time"
    bal = cust.column("balance")
    assert (bal.kind, bal.precision, bal.scale) == ("decimal", 12, 2)
    assert [u.columns for u in cust.unique] == [["email"]]
    assert [(c.name, c.sqltext) for c in cust.checks] == [("ck_y", "`y` > 1900")]
    orders = schema.table("orders")
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in orders.foreign_keys] == [
        (["region", "cust"], "customer list", ["region", "id"])]
    assert orders.column("order").kind == "integer"
    assert orders.column("bin").kind == "binary" and orders.column("blb").kind == "binary"
    assert [c.sqltext for c in orders.checks] == ["`pct%` between 0 and 100"]
    assert (cust.row_count, orders.row_count) == (2, 2)
    frames = read_tables(url, schema)
    assert_convention(frames, schema)
    c = frames["customer list"].sort_values("region", ignore_index=True).to_dict("records")
    assert c[0]["kind"] == "c d" and c[0]["flag"] == True and c[1]["flag"] == False  # noqa: E712
    assert c[0]["bits"] == 5 and c[0]["j"] == '{"a": [1, 2]}' and c[0]["t"] == dt.time(10)
    assert c[0]["created"] == pd.Timestamp("2020-01-02 03:04:05.123456") and c[0]["y"] == 2021
    assert c[0]["balance"] == 12.5 and pd.isna(c[1]["balance"])
    o = frames["orders"].sort_values("oid", ignore_index=True).to_dict("records")
    assert o[0]["order"] == 7 and o[0]["amount"] == 12.34 and o[0]["bin"] == b"\x00\xff" and o[0]["pct%"] == 50
    assert o[1]["blb"] == b"" and o[1]["bin"] is None


@pytest.mark.mysql
def test_mariadb_source_is_read_only(mysql_url: str) -> None:
    admin = sa.create_engine(mysql_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INT PRIMARY KEY)")
    admin.dispose()
    engine = connect(mysql_url)
    with pytest.raises(sa.exc.DBAPIError, match="READ ONLY"), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    engine.dispose()


@pytest.mark.skipif(os.name == "nt", reason="file modes differ on Windows")
def test_sqlite_read_only_file_permissions(tmp_path: Path) -> None:
    # A source the user cannot write to at all is still readable.
    path = tmp_path / "ro.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)")
    con.execute("INSERT INTO t VALUES (1, 'a')")
    con.commit()
    con.close()
    path.chmod(0o444)
    try:
        schema = read_schema(sqlite_url(path))
        assert read_tables(sqlite_url(path), schema)["t"]["y"].tolist() == ["a"]
    finally:
        path.chmod(0o644)
