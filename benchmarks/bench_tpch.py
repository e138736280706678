"""Benchmark: `relsynth clone` on TPC-H (SF 0.01 / 0.1 / 1), SQLite → SQLite and PostgreSQL → PostgreSQL.

Figures, not assertions. For each scale factor and dialect it generates the TPC-H source
(DuckDB's TPC-H extension, keys and FKs declared; see ``tpch.py``), then measures in the same
run:

- the **raw bulk load**: the source's own rows, already in memory, loaded by the database
  driver's bulk path into an empty copy of the schema with every key (SQLite: ``executemany``
  in one transaction with FKs on; PostgreSQL: ``COPY`` into bare tables, keys and FKs added
  after) — the physical bound of writing that many rows;
- the whole ``relsynth clone`` process as a user runs it (imports, read, fit, sample, write,
  verify, fidelity summary), its stage times and its peak RSS; relsynth's modules are compiled
  to bytecode first, as ``pip install`` leaves them (see ``installed.py``);
- the ratios: clone time / raw load time, and relsynth's write rate / the raw load rate.

    python benchmarks/bench_tpch.py                    # SF 0.01 and 0.1, SQLite and PostgreSQL
    python benchmarks/bench_tpch.py --sf 0.01 0.1 1 --json benchmarks/results/tpch.json
    python benchmarks/bench_tpch.py --sf 0.1 --dialects sqlite --repeat 3   # fastest of 3 pairs

Needs ``pip install duckdb duckdb-extension-tpch`` and, for the PostgreSQL rows, a server at
127.0.0.1:5432 (user postgres).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import tpch  # noqa: E402 - the generator next to this script
from installed import compile_relsynth  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def split_ddl(body: str) -> tuple[str, list[str]]:
    """A TPC-H table body without its keys, and the keys as ``ADD`` clauses (PK first)."""
    columns, keys = [], []
    for line in (s.strip().rstrip(",") for s in body.strip().splitlines()):
        if line.startswith(("PRIMARY KEY", "FOREIGN KEY")):
            keys.append(line)
            continue
        name = line.split()[0]
        if " PRIMARY KEY" in line:
            keys.append(f"PRIMARY KEY ({name})")
            line = line.replace(" PRIMARY KEY", "")
        ref = re.search(r" REFERENCES (\w+) \((\w+)\)", line)
        if ref:
            keys.append(f"FOREIGN KEY ({name}) REFERENCES {ref.group(1)} ({ref.group(2)})")
            line = line[: ref.start()] + line[ref.end():]
        columns.append(line)
    keys.sort(key=lambda k: not k.startswith("PRIMARY"))
    return ",\n".join(columns), keys


def raw_load_sqlite(src: Path, dst: Path) -> float:
    """Seconds to bulk-load ``src``'s rows (read beforehand, untimed) into a new file with every key."""
    rows = {}
    with sqlite3.connect(src) as con:
        for name in tpch.TABLES:
            rows[name] = con.execute(f"SELECT * FROM {name}").fetchall()
    dst.unlink(missing_ok=True)
    t = time.perf_counter()
    db = sqlite3.connect(dst)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("BEGIN")
    for name, body in tpch.TABLES.items():
        db.execute(f"CREATE TABLE {name} ({body})")
    for name, data in rows.items():
        db.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(data[0]))})", data)
    db.commit()
    db.close()
    return time.perf_counter() - t


def raw_load_postgresql(src_db: str, dst_db: str) -> float:
    """Seconds to COPY ``src_db``'s rows (COPY text held in memory, untimed) into bare tables of
    ``dst_db`` and add every key after."""
    import psycopg

    texts = {}
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=src_db) as con:
        for name in tpch.TABLES:
            buf = io.BytesIO()
            with con.cursor().copy(f"COPY {name} TO STDOUT") as copy:
                for block in copy:
                    buf.write(block)
            texts[name] = buf.getvalue()
    t = time.perf_counter()
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=dst_db) as con:
        keys = []
        for name, body in tpch.TABLES.items():
            bare, table_keys = split_ddl(body)
            con.execute(f"CREATE TABLE {name} ({bare})")
            keys += [(name, k) for k in table_keys]
        for name, text in texts.items():
            with con.cursor().copy(f"COPY {name} FROM STDIN") as copy:
                for start in range(0, len(text), 1 << 20):
                    copy.write(text[start : start + (1 << 20)])
        for name, key in sorted(keys, key=lambda k: not k[1].startswith("PRIMARY")):
            con.execute(f"ALTER TABLE {name} ADD {key}")
    return time.perf_counter() - t


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as con:
        con.execute(sql)


def run_clone(src: str, dst: str, extra: list[str]) -> dict:
    """The whole CLI process; its JSON result plus wall seconds and peak RSS (MB)."""
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "relsynth", "clone", src, dst,
           "--seed", "1", "--format", "json", *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"clone failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout)
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_mb": rss_kb / 1024, "seconds": result["seconds"],
            "rows_written": sum(result["rows_written"].values()), "violations": result["violations"],
            "notes": [n for n in result["notes"] if "sample" in n]}


def bench(sf: float, dialect: str, tmp: Path, extra: list[str], repeat: int = 1) -> dict:
    """One scale factor into one dialect: ``repeat`` pairs of a raw load and a clone, one after
    the other; the figures are the fastest clone's, over the fastest raw load (every run is
    listed in ``raw_runs_s`` / ``clone_runs_s``: on a machine whose speed wanders, one pair can
    be off either way)."""
    tag = f"sf{str(sf).replace('.', '_')}"
    raws, clones = [], []
    if dialect == "sqlite":
        src_path = tmp / f"{tag}.db"
        if not src_path.exists():
            tpch.write_sqlite(sf, src_path)
        with sqlite3.connect(src_path) as con:
            n = sum(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tpch.TABLES)
        for _ in range(repeat):
            raws.append(raw_load_sqlite(src_path, tmp / f"{tag}_raw.db"))
            dst = tmp / f"{tag}_clone.db"
            dst.unlink(missing_ok=True)
            clones.append(run_clone(f"sqlite:///{src_path}", f"sqlite:///{dst}", extra))
    else:
        src_db = f"rs_tpch_{tag}_{uuid.uuid4().hex[:6]}_src"
        pg_admin(f"CREATE DATABASE {src_db}")
        try:
            n = sum(tpch.write_postgresql(sf, f"{PG_SERVER}/{src_db}").values())
            for _ in range(repeat):
                raw_db, dst_db = (f"rs_tpch_{tag}_{uuid.uuid4().hex[:6]}_{k}" for k in ("raw", "dst"))
                for db in (raw_db, dst_db):
                    pg_admin(f"CREATE DATABASE {db}")
                try:
                    raws.append(raw_load_postgresql(src_db, raw_db))
                    clones.append(run_clone(f"{PG_SERVER}/{src_db}", f"{PG_SERVER}/{dst_db}", extra))
                finally:
                    for db in (raw_db, dst_db):
                        pg_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        finally:
            pg_admin(f"DROP DATABASE IF EXISTS {src_db} WITH (FORCE)")
    raw = min(raws)
    clone = min(clones, key=lambda c: c["wall_s"])
    write_s = clone["seconds"]["write"]
    return {
        "sf": sf, "dialect": dialect, "rows": n, "raw_load_s": raw, "raw_rows_per_s": n / raw,
        **clone,
        "raw_runs_s": raws, "clone_runs_s": [c["wall_s"] for c in clones],
        "clone_rows_per_s": n / clone["wall_s"],
        "us_per_row": clone["wall_s"] / n * 1e6,
        "write_rows_per_s": clone["rows_written"] / write_s,
        "clone_vs_raw": clone["wall_s"] / raw,
        "write_rate_vs_raw": (clone["rows_written"] / write_s) / (n / raw),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sf", type=float, nargs="+", default=[0.01, 0.1])
    ap.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--fit-rows", type=int, default=None, help="passed to relsynth clone (default: its own)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="pairs of raw load and clone per row of the table; the fastest of each is shown")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "tpch.json")
    args = ap.parse_args()
    extra = ["--fit-rows", str(args.fit_rows)] if args.fit_rows is not None else []
    tmp = Path(tempfile.mkdtemp(prefix="relsynth-tpch-"))
    compile_relsynth()  # the clone processes start as an installed copy's do
    results = []
    head = (f"{'SF':>5} {'dialect':10} {'rows':>10} {'raw load s':>10} {'clone s':>8} {'×raw':>6} "
            f"{'read':>6} {'fit':>6} {'sample':>6} {'write':>6} {'verify':>6} {'rows/s':>9} {'µs/row':>7} "
            f"{'write/raw':>9} {'RSS MB':>7}")
    print(head, flush=True)
    for sf in args.sf:
        for dialect in args.dialects:
            r = bench(sf, dialect, tmp, extra, args.repeat)
            results.append(r)
            s = r["seconds"]
            print(f"{sf:>5} {dialect:10} {r['rows']:>10,} {r['raw_load_s']:>10.2f} {r['wall_s']:>8.2f} "
                  f"{r['clone_vs_raw']:>6.2f} {s['read']:>6.2f} {s['fit']:>6.2f} {s['sample']:>6.2f} "
                  f"{s['write']:>6.2f} {s['verify']:>6.2f} {r['clone_rows_per_s']:>9,.0f} {r['us_per_row']:>7.1f} "
                  f"{r['write_rate_vs_raw']:>8.0%} {r['peak_rss_mb']:>7.0f}", flush=True)
            if args.repeat > 1:
                print(f"      runs: raw {', '.join(f'{x:.2f}' for x in r['raw_runs_s'])} s; "
                      f"clone {', '.join(f'{x:.2f}' for x in r['clone_runs_s'])} s; ×raw pair by pair "
                      f"{', '.join(f'{c / x:.2f}' for x, c in zip(r['raw_runs_s'], r['clone_runs_s']))}", flush=True)
            if r["violations"]:
                print(f"      {r['violations']} integrity violations in the target", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
