"""TPC-H source databases for the benchmarks, generated locally with DuckDB's TPC-H extension.

Needs ``pip install duckdb duckdb-extension-tpch`` (the extension comes from PyPI, so nothing
is downloaded from DuckDB's extension server). The schema is TPC-H's, with its primary keys and
foreign keys declared, including lineitem's composite FK to partsupp::

    python benchmarks/tpch.py --sf 0.1 --sqlite /tmp/tpch.db
    python benchmarks/tpch.py --sf 0.1 --postgresql postgresql+psycopg://postgres@127.0.0.1:5432/tpch
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import time
from pathlib import Path

#: TPC-H's tables in load order (parents first), with their DDL (portable to SQLite and PostgreSQL).
TABLES: dict[str, str] = {
    "region": """
        r_regionkey INTEGER NOT NULL PRIMARY KEY,
        r_name      CHAR(25) NOT NULL,
        r_comment   VARCHAR(152)""",
    "nation": """
        n_nationkey INTEGER NOT NULL PRIMARY KEY,
        n_name      CHAR(25) NOT NULL,
        n_regionkey INTEGER NOT NULL REFERENCES region (r_regionkey),
        n_comment   VARCHAR(152)""",
    "part": """
        p_partkey     INTEGER NOT NULL PRIMARY KEY,
        p_name        VARCHAR(55) NOT NULL,
        p_mfgr        CHAR(25) NOT NULL,
        p_brand       CHAR(10) NOT NULL,
        p_type        VARCHAR(25) NOT NULL,
        p_size        INTEGER NOT NULL,
        p_container   CHAR(10) NOT NULL,
        p_retailprice DECIMAL(15, 2) NOT NULL,
        p_comment     VARCHAR(23) NOT NULL""",
    "supplier": """
        s_suppkey   INTEGER NOT NULL PRIMARY KEY,
        s_name      CHAR(25) NOT NULL,
        s_address   VARCHAR(40) NOT NULL,
        s_nationkey INTEGER NOT NULL REFERENCES nation (n_nationkey),
        s_phone     CHAR(15) NOT NULL,
        s_acctbal   DECIMAL(15, 2) NOT NULL,
        s_comment   VARCHAR(101) NOT NULL""",
    "partsupp": """
        ps_partkey    INTEGER NOT NULL REFERENCES part (p_partkey),
        ps_suppkey    INTEGER NOT NULL REFERENCES supplier (s_suppkey),
        ps_availqty   INTEGER NOT NULL,
        ps_supplycost DECIMAL(15, 2) NOT NULL,
        ps_comment    VARCHAR(199) NOT NULL,
        PRIMARY KEY (ps_partkey, ps_suppkey)""",
    "customer": """
        c_custkey    INTEGER NOT NULL PRIMARY KEY,
        c_name       VARCHAR(25) NOT NULL,
        c_address    VARCHAR(40) NOT NULL,
        c_nationkey  INTEGER NOT NULL REFERENCES nation (n_nationkey),
        c_phone      CHAR(15) NOT NULL,
        c_acctbal    DECIMAL(15, 2) NOT NULL,
        c_mktsegment CHAR(10) NOT NULL,
        c_comment    VARCHAR(117) NOT NULL""",
    "orders": """
        o_orderkey      INTEGER NOT NULL PRIMARY KEY,
        o_custkey       INTEGER NOT NULL REFERENCES customer (c_custkey),
        o_orderstatus   CHAR(1) NOT NULL,
        o_totalprice    DECIMAL(15, 2) NOT NULL,
        o_orderdate     DATE NOT NULL,
        o_orderpriority CHAR(15) NOT NULL,
        o_clerk         CHAR(15) NOT NULL,
        o_shippriority  INTEGER NOT NULL,
        o_comment       VARCHAR(79) NOT NULL""",
    "lineitem": """
        l_orderkey      INTEGER NOT NULL REFERENCES orders (o_orderkey),
        l_partkey       INTEGER NOT NULL,
        l_suppkey       INTEGER NOT NULL,
        l_linenumber    INTEGER NOT NULL,
        l_quantity      DECIMAL(15, 2) NOT NULL,
        l_extendedprice DECIMAL(15, 2) NOT NULL,
        l_discount      DECIMAL(15, 2) NOT NULL,
        l_tax           DECIMAL(15, 2) NOT NULL,
        l_returnflag    CHAR(1) NOT NULL,
        l_linestatus    CHAR(1) NOT NULL,
        l_shipdate      DATE NOT NULL,
        l_commitdate    DATE NOT NULL,
        l_receiptdate   DATE NOT NULL,
        l_shipinstruct  CHAR(25) NOT NULL,
        l_shipmode      CHAR(10) NOT NULL,
        l_comment       VARCHAR(44) NOT NULL,
        PRIMARY KEY (l_orderkey, l_linenumber),
        FOREIGN KEY (l_partkey, l_suppkey) REFERENCES partsupp (ps_partkey, ps_suppkey)""",
}


def generate(sf: float):  # noqa: ANN201 - a duckdb connection; duckdb is imported lazily
    """An in-memory DuckDB connection holding TPC-H at scale factor ``sf``."""
    import duckdb

    try:
        import duckdb_extension_tpch
    except ImportError:
        raise SystemExit("TPC-H needs the extension from PyPI: pip install duckdb duckdb-extension-tpch") from None
    ext = next(Path(duckdb_extension_tpch.__file__).parent.glob("extensions/*/tpch.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    con.execute(f"CALL dbgen(sf={sf})")
    return con


def _create(sql_exec, tables: dict[str, str] = TABLES) -> None:  # noqa: ANN001
    for name, body in tables.items():
        sql_exec(f"CREATE TABLE {name} ({body})")


def write_sqlite(sf: float, path: Path) -> dict[str, int]:
    """Write TPC-H at ``sf`` into a new SQLite file (FKs declared); returns rows per table."""
    duck = generate(sf)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    _create(db.execute)
    rows = {}
    for name in TABLES:
        cur = duck.execute(f"SELECT * FROM {name}")
        placeholders = ", ".join("?" * len(cur.description))
        # Dates as ISO text and decimals as floats: what SQLite stores for DATE / DECIMAL columns.
        cols = [f"CAST({d[0]} AS VARCHAR)" if d[1] == "DATE" else
                f"CAST({d[0]} AS DOUBLE)" if str(d[1]).startswith("DECIMAL") else d[0]
                for d in cur.description]
        cur = duck.execute(f"SELECT {', '.join(cols)} FROM {name}")
        n = 0
        while batch := cur.fetchmany(100_000):
            db.executemany(f"INSERT INTO {name} VALUES ({placeholders})", batch)
            n += len(batch)
        rows[name] = n
    db.commit()
    db.close()
    return rows


def write_postgresql(sf: float, url: str) -> dict[str, int]:
    """Write TPC-H at ``sf`` into the (empty) PostgreSQL database at ``url`` via COPY; rows per table."""
    import psycopg
    import sqlalchemy as sa

    duck = generate(sf)
    u = sa.make_url(url)
    rows = {}
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, dbname=u.database,
                         password=u.password) as pg:
        _create(pg.execute)
        for name in TABLES:
            buf = io.StringIO()
            frame = duck.execute(f"SELECT * FROM {name}").df()
            frame.to_csv(buf, index=False, header=False)
            buf.seek(0)
            with pg.cursor().copy(f"COPY {name} FROM STDIN (FORMAT csv)") as copy:
                while chunk := buf.read(1 << 20):
                    copy.write(chunk)
            rows[name] = len(frame)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sf", type=float, default=0.01)
    ap.add_argument("--sqlite", type=Path)
    ap.add_argument("--postgresql")
    args = ap.parse_args()
    t = time.perf_counter()
    if args.sqlite:
        rows = write_sqlite(args.sf, args.sqlite)
        print(f"{args.sqlite}: {sum(rows.values()):,} rows in {time.perf_counter() - t:.1f} s {rows}")
    if args.postgresql:
        t = time.perf_counter()
        rows = write_postgresql(args.sf, args.postgresql)
        print(f"{args.postgresql}: {sum(rows.values()):,} rows in {time.perf_counter() - t:.1f} s {rows}")


if __name__ == "__main__":
    main()
