"""Sampling on Dask: TPC-H sampled at a large scale to Parquet with 1 and 2 local workers.

Fits the TPC-H database once (from its bounded FK-consistent sample, ``fit_rows``; the model is
saved and reused), then samples it at ``--scale`` into a Parquet directory with ``relsynth.write
(model.stream(...), workers=N)`` for each ``--workers`` count, and prints per run: seconds,
rows, rows/s, peak RSS of the client and of each worker process (polled every 0.2 s), and the
speed-up over the first count. The part files of the runs are hashed: the same model and seed
must give byte-identical files whatever the number of workers::

    pip install duckdb duckdb-extension-tpch "relsynth[dask,parquet]"
    python benchmarks/tpch.py --sf 1 --sqlite /tmp/tp/sf1.db
    python benchmarks/bench_dask.py --source /tmp/tp/sf1.db --scale 10 --workers 1 2

With ``--postgresql postgresql+psycopg://user@host:5432`` (a server URL, no database) the target
is a fresh database on that server per run instead (the workers COPY into a staging schema,
:mod:`relsynth.sinks.staged`); ``0`` among the worker counts is a write without Dask, and
``--client-load`` runs the former path (partitions back to the client, one COPY stream). The
tables' checksums (a sum of row hashes per table, order-free) must be equal across runs. The
load average before and after each run is printed: the machine may be shared::

    python benchmarks/bench_dask.py --source /tmp/tp/sf01.db --scale 10 --workers 0 1 2 \\
        --postgresql postgresql+psycopg://postgres@127.0.0.1:5432

``--mysql mysql+pymysql://root@127.0.0.1:3306`` does the same into MariaDB/MySQL (the workers
INSERT into a staging database; ``--client-load``: partitions loaded by the client).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

import psutil

import relsynth


class PeakRSS:
    """Peak resident memory of this process and of each of its child processes (the workers)."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self.client = 0
        self.children: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                self.client = max(self.client, me.memory_info().rss)
                for child in me.children(recursive=True):
                    try:
                        self.children[child.pid] = max(self.children.get(child.pid, 0), child.memory_info().rss)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self._stop.wait(self.every)


def _digest(directory: Path) -> str:
    """One hash over every table file's bytes (part files in order; not metadata.json)."""
    h = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*.parquet")):
        h.update(str(path.relative_to(directory)).encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def _database(server: str, name: str) -> str:
    """A fresh, empty database ``name`` on the PostgreSQL or MariaDB/MySQL ``server``; its URL."""
    import sqlalchemy as sa

    postgres = server.startswith("postgres")
    admin = sa.create_engine(f"{server}/postgres" if postgres else f"{server}/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if postgres else ""))
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return f"{server}/{name}"


def _db_digest(url: str, schema: relsynth.Schema) -> str:
    """Rows per table and an order-free checksum of their text (sum of row hashes), hashed."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    quote = engine.dialect.identifier_preparer.quote
    h = hashlib.sha256()
    with engine.connect() as conn:
        for name, table in schema.tables.items():
            if engine.dialect.name == "postgresql":
                query = f"SELECT count(*), sum(hashtext(t::text)::numeric) FROM {quote(name)} t"
            else:
                cols = ", ".join(map(quote, table.column_names))
                query = f"SELECT count(*), sum(crc32(concat_ws(0x1f, {cols}))) FROM {quote(name)}"
            row = conn.exec_driver_sql(query).one()
            h.update(f"{name}:{row[0]}:{row[1]}".encode())
    engine.dispose()
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=Path("/tmp/tp/sf1.db"), help="TPC-H SQLite file (benchmarks/tpch.py)")
    ap.add_argument("--model", type=Path, default=None, help="model file (default: SOURCE.rsm; fitted if absent)")
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--partition-rows", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("/tmp/relsynth-bench-dask"))
    ap.add_argument("--keep", action="store_true", help="keep the output directories")
    ap.add_argument("--json", type=Path, default=None, help="results file (default: results/dask.json, "
                    "or results/dask_postgresql.json / dask_mysql.json with --postgresql / --mysql)")
    ap.add_argument("--postgresql", default=None, metavar="SERVER_URL",
                    help="write into a fresh database on this PostgreSQL server per run (no database in the URL)")
    ap.add_argument("--mysql", default=None, metavar="SERVER_URL",
                    help="write into a fresh database on this MariaDB/MySQL server per run (no database in the URL)")
    ap.add_argument("--client-load", action="store_true",
                    help="PostgreSQL/MariaDB: the former path, partitions loaded by the client in one stream")
    args = ap.parse_args()
    server = args.postgresql or args.mysql
    kind = "postgresql" if args.postgresql else "mysql" if args.mysql else None
    results = Path(__file__).parent / "results"
    args.json = args.json or results / (f"dask_{kind}.json" if kind else "dask.json")
    if args.client_load:
        from relsynth import distributed

        distributed._CLIENT_LOAD = True

    model_path = args.model or args.source.with_suffix(".rsm")
    if model_path.exists():
        model = relsynth.load(model_path)
        print(f"model: {model_path} (reused)")
    else:
        started = time.perf_counter()
        model = relsynth.fit(f"sqlite:///{args.source}")
        model.save(model_path)
        print(f"model: fitted in {time.perf_counter() - started:.1f}s, saved to {model_path}")
    rows = []
    digests = {}
    for workers in args.workers:
        stream = model.stream(scale=args.scale, seed=1, partition_rows=args.partition_rows)
        load_before = os.getloadavg()
        if server:
            target = _database(server, f"relsynth_bench_w{workers}")
            options = {"workers": workers or None}
        else:
            target = args.out / f"w{workers}"
            shutil.rmtree(target, ignore_errors=True)
            options = {"workers": workers or None, "file_format": "parquet"}
        started = time.perf_counter()
        with PeakRSS() as rss:
            written = relsynth.write(stream, target, model.schema, **options)
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()
        total = sum(written.values())
        worker_peaks = sorted(rss.children.values(), reverse=True)[:workers]
        digests[workers] = _db_digest(target, model.schema) if server else _digest(target)
        row = {"workers": workers, "scale": args.scale, "rows": total, "seconds": round(seconds, 1),
               "rows_per_s": round(total / seconds), "partitions": stream.partitions,
               "client_peak_rss_mb": round(rss.client / 2**20), "worker_peak_rss_mb": [round(p / 2**20) for p in worker_peaks],
               "sha256": digests[workers][:16], "load_before": [round(x, 2) for x in load_before],
               "load_after": [round(x, 2) for x in load_after], "rows_per_table": written}
        if server:
            row["target"] = f"{kind}, " + ("loaded by the client" if args.client_load or not workers
                                          else "loaded by the workers")
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "rows_per_table"}), flush=True)
        if not args.keep and not server:
            shutil.rmtree(target, ignore_errors=True)
        if not args.keep and server:
            _database(server, f"relsynth_bench_w{workers}")  # emptied again (dropped and recreated)
    base = rows[0]["seconds"]
    print()
    print("| workers | rows | seconds | rows/s | speed-up | peak RSS per worker MB | client peak RSS MB | load avg 1 min before → after |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['workers']} | {row['rows']:,} | {row['seconds']:.1f} | {row['rows_per_s']:,} | "
              f"{base / row['seconds']:.2f}× | {', '.join(f'{p:,}' for p in row['worker_peak_rss_mb'])} | "
              f"{row['client_peak_rss_mb']:,} | {row['load_before'][0]:.2f} → {row['load_after'][0]:.2f} |")
    same = len(set(digests.values())) == 1
    what = "tables" if server else "files"
    print(f"\nsame {what} for every worker count: {same} ({', '.join(f'{w}: {d[:16]}' for w, d in digests.items())})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"source": str(args.source), "cpus": os.cpu_count(), "runs": rows,
                                     "identical": same}, indent=1))


if __name__ == "__main__":
    main()
