"""Benchmark: fit, sample and write the demo hospital database; figures, not assertions.

For each target (SQLite always, PostgreSQL when reachable) it prints rows, seconds, rows/s and
peak RSS, plus the physical bound measured in the same run: the source's own rows bulk-loaded
into an empty copy of the schema by the same writer, and the ratio of relsynth's write to it.
The whole ``relsynth clone`` process is timed too (import, read, fit, sample, write, verify).

    python benchmarks/bench_demo.py [--patients 5000] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

import relsynth
from relsynth.data import write_hospital_sqlite
from relsynth.models.relational import fit_model
from relsynth.schema import read_schema, read_tables

from installed import compile_relsynth  # the benchmarks' folder is the script's, so on sys.path

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(repeat: int, fn):  # noqa: ANN001, ANN201 - tiny local helper
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def pg_database() -> str | None:
    name = f"rs_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipping its rows", file=sys.stderr)
        return None
    return f"{PG_SERVER}/{name}"


def drop_pg(url: str) -> None:
    admin = sa.create_engine(PG_SERVER + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="relsynth-bench-"))
    src = f"sqlite:///{tmp / 'hospital.db'}"
    write_hospital_sqlite(tmp / "hospital.db", n_patients=args.patients, seed=0)
    t_read, (schema, real) = best_of(args.repeat, lambda: (s := read_schema(src), read_tables(src, s)))
    n_real = sum(len(f) for f in real.values())

    t_fit, model = best_of(args.repeat, lambda: fit_model(schema, real))
    t_sample, synth = best_of(args.repeat, lambda: model.sample(seed=1))
    n_synth = sum(len(f) for f in synth.values())

    results = {"rows_source": n_real, "rows_synthetic": n_synth, "read_s": t_read, "fit_s": t_fit, "sample_s": t_sample,
               "fit_plus_sample_s": t_fit + t_sample, "targets": {}}

    targets = [("sqlite", lambda i: f"sqlite:///{tmp / f'out{i}.db'}")]
    pg = pg_database()
    if pg:
        targets.append(("postgresql", lambda i: pg))
    for dialect, url_for in targets:
        t_write, _ = best_of(args.repeat, lambda: relsynth.write(synth, url_for("w"), schema, if_exists="replace"))
        t_raw, _ = best_of(args.repeat, lambda: relsynth.write(real, url_for("raw"), schema, if_exists="replace"))
        results["targets"][dialect] = {
            "write_s": t_write, "write_rows_per_s": n_synth / t_write,
            "raw_bulk_load_s": t_raw, "raw_rows_per_s": n_real / t_raw,
            "write_vs_raw": t_write / t_raw,
        }

    # The whole CLI process, as a user runs it (import time included), relsynth's modules
    # compiled to bytecode as ``pip install`` leaves them (installed.py).
    compile_relsynth()
    dst = tmp / "clone.db"
    clone_times = []
    for _ in range(args.repeat):
        dst.unlink(missing_ok=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "relsynth", "clone", src, f"sqlite:///{dst}", "--seed", "1"],
                       check=True, capture_output=True)
        clone_times.append(time.perf_counter() - t)
    results["clone_process_s"] = min(clone_times)
    results["peak_rss_mb"] = peak_rss_mb()
    sdv_hma_s = 150.0  # SDV HMASynthesizer fit+sample on a similar 3-table 15k-row DB here (issue 5)
    results["speedup_vs_sdv_hma_fit_sample"] = sdv_hma_s / (t_fit + t_sample)
    if pg:
        drop_pg(pg)

    print(f"demo hospital DB: {n_real:,} source rows in {len(real)} tables, {n_synth:,} synthetic rows "
          f"(best of {args.repeat})")
    print(f"  read    {t_read:7.3f} s   {n_real / t_read:12,.0f} rows/s  (schema reflection + data)")
    print(f"  fit     {t_fit:7.3f} s   {n_real / t_fit:12,.0f} rows/s")
    print(f"  sample  {t_sample:7.3f} s   {n_synth / t_sample:12,.0f} rows/s")
    print(f"  fit + sample {t_fit + t_sample:.3f} s  (~{results['speedup_vs_sdv_hma_fit_sample']:.0f}x SDV HMA's ~150 s)")
    for dialect, r in results["targets"].items():
        print(f"  write {dialect:10} {r['write_s']:7.3f} s   {r['write_rows_per_s']:12,.0f} rows/s   "
              f"raw bulk load of the source rows {r['raw_bulk_load_s']:.3f} s ({r['raw_rows_per_s']:,.0f} rows/s)   "
              f"ratio {r['write_vs_raw']:.2f}x")
    print(f"  whole `relsynth clone` process (SQLite → SQLite): {results['clone_process_s']:.2f} s")
    print(f"  peak RSS {results['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
