"""Sampling on Dask (``workers`` / ``scheduler``): each partition is a task, yet the output is the
same with 1 worker, 2 workers and no Dask at all, and every key and FK holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.data import build_hospital, hospital_schema
from relsynth.errors import ConfigError
from relsynth.models.relational import fit_model
from relsynth.sampling.relational import collect, generate_partition
from relsynth.sinks.files import read_files
from relsynth.sinks.integrity import total_violations
from relsynth.transform.keys import permuted

from conftest import dataset
from test_stream import _orders_schema

distributed = pytest.importorskip("distributed", reason="needs relsynth[dask]")


@pytest.fixture(scope="module")
def hospital():
    return fit_model(hospital_schema(), build_hospital(2000, seed=0), seed=0)


@pytest.fixture(scope="module")
def orders():
    """customers → orders → lines, lines → products as a secondary FK (products materialized)."""
    schema, frames = _orders_schema()
    return fit_model(schema, frames, seed=0)


@pytest.fixture(scope="module")
def threads():
    """A local cluster of two in-process workers (cheap; the process workers are tested below)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        yield client


def _read(directory: Path) -> dict[str, pd.DataFrame]:
    return read_files(directory)[1]


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_permuted_is_a_permutation_of_any_size() -> None:
    keys = np.random.default_rng(0).integers(0, 2**63, size=4, dtype=np.uint64)
    for n in (1, 2, 3, 7, 100, 4097):
        out = permuted(np.arange(n), n, keys)
        assert np.array_equal(np.sort(out), np.arange(n))
    # any slice is evaluated on its own, as the whole would place it
    whole = permuted(np.arange(5000), 5000, keys)
    assert np.array_equal(permuted(np.arange(1200, 1700), 5000, keys), whole[1200:1700])
    assert abs(np.corrcoef(np.arange(5000), whole)[0, 1]) < 0.05  # shuffled, not an identity


def test_a_partition_generated_alone_is_the_same(orders) -> None:
    """Partitions are pure functions of the plan: any one of them, drawn alone (as a Dask task
    is), gives what the whole sequential stream gave; key ranges never overlap."""
    stream = orders.stream(seed=3, partition_rows=1_500)
    assert stream.independent
    pieces = list(stream)
    gen, _ = stream.materialize()
    parts = stream.partition_plan(gen)
    assert len(parts) >= 5
    last = parts[-1]
    alone = generate_partition(gen, last)[0]
    expected = pieces[-len(alone):]
    for (name, frame), (exp_name, exp_frame) in zip(alone, expected):
        assert name == exp_name
        pd.testing.assert_frame_equal(frame, exp_frame)
    ranges = [(p.key_starts["lines"], p) for p in parts]
    for (start, _), (nxt, _) in zip(ranges, ranges[1:]):
        assert nxt > start


def test_parquet_identical_for_one_and_two_workers(orders, tmp_path: Path) -> None:
    """Real worker processes: 1 and 2 of them write the same files' rows as no Dask, intact."""
    out = {}
    for workers in (None, 1, 2):
        target = tmp_path / f"w{workers}"
        written = relsynth.write(orders.stream(seed=5, partition_rows=1_500), target, orders.schema,
                                 file_format="parquet", workers=workers)
        assert total_violations(relsynth.verify(target, orders.schema)) == 0
        out[workers] = _read(target)
        assert {n: len(f) for n, f in out[workers].items()} == written
    _same(out[None], out[1])
    _same(out[None], out[2])
    parts = sorted(p.name for p in (tmp_path / "w2" / "lines").iterdir())
    assert len(parts) >= 5 and parts[0] == "part-000000.parquet"
    assert (tmp_path / "w2" / "products.parquet").is_file()  # materialized: one file
    # The directory is a source again (relsynth fit ./dir).
    model = relsynth.fit(tmp_path / "w2")
    assert set(model.schema.tables) == set(orders.schema.tables)


def test_sqlite_identical_for_one_and_two_workers(hospital, threads, tmp_path: Path) -> None:
    """A SQLite target (one writer): the partitions come back to the client in order."""
    out = {}
    for label, client in (("plain", None), ("dask", threads)):
        path = tmp_path / f"{label}.db"
        relsynth.write(hospital.stream(seed=4, partition_rows=2_000), f"sqlite:///{path}", hospital.schema,
                       scheduler=client)
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        out[label] = {n: pd.read_sql(f'SELECT * FROM "{n}"', conn) for n in hospital.schema.tables}
        conn.close()
        assert total_violations(relsynth.verify(f"sqlite:///{path}", hospital.schema)) == 0
    _same(out["plain"], out["dask"])


@pytest.mark.postgres
def test_postgres_on_dask_equals_sqlite_without(orders, threads, pg_url: str, tmp_path: Path) -> None:
    relsynth.write(orders.stream(seed=8, partition_rows=1_500), pg_url, orders.schema, scheduler=threads)
    assert total_violations(relsynth.verify(pg_url, orders.schema)) == 0
    relsynth.write(orders.stream(seed=8, partition_rows=1_500), f"sqlite:///{tmp_path / 'x.db'}", orders.schema)
    engine = sa.create_engine(pg_url)
    lite = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    for name, table in orders.schema.tables.items():
        order = ", ".join(f'"{c}"' for c in table.primary_key)
        a = pd.read_sql(f'SELECT * FROM "{name}" ORDER BY {order}', engine)
        b = pd.read_sql(f'SELECT * FROM "{name}" ORDER BY {order}', lite)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
    engine.dispose()
    lite.dispose()


def test_clone_of_a_sample_database_on_dask(threads, tmp_path: Path) -> None:
    source = f"sqlite:///{dataset('chinook')}"
    plain = relsynth.clone(source, tmp_path / "plain", seed=1, partition_rows=500, file_format="parquet")
    on_dask = relsynth.clone(source, tmp_path / "dask", seed=1, partition_rows=500, file_format="parquet",
                             scheduler=threads)
    assert on_dask.violations == 0
    assert on_dask.rows_written == plain.rows_written
    _same(_read(tmp_path / "plain"), _read(tmp_path / "dask"))
    assert on_dask.fidelity.keys() == plain.fidelity.keys()


def test_failed_task_leaves_the_directory_unchanged(orders, threads, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out"
    relsynth.write(orders.sample(seed=1), target, orders.schema, file_format="parquet")
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    import relsynth.distributed as dist

    real_write = dist.write_table_file

    def failing(frame, table, path, file_format):  # noqa: ANN001
        if "part-000003" in path.name:
            raise OSError(28, "No space left on device")
        real_write(frame, table, path, file_format)

    monkeypatch.setattr(dist, "write_table_file", failing)
    with pytest.raises(relsynth.SinkError, match="nothing was changed"):
        relsynth.write(orders.stream(seed=2, partition_rows=1_500), target, orders.schema, file_format="parquet",
                       if_exists="replace", scheduler=threads)
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before


def test_cli_sample_with_workers(orders, tmp_path: Path) -> None:
    path = orders.save(tmp_path / "m.rsm")
    run = CliRunner().invoke(app, ["sample", str(path), "--to", str(tmp_path / "out"), "--seed", "3",
                                   "--partition-rows", "1500", "--workers", "2", "--file-format", "parquet"])
    assert run.exit_code == 0, run.output
    assert "0 violations" in run.output
    same = collect(orders.stream(seed=3, partition_rows=1_500), list(orders.schema.tables))
    back = _read(tmp_path / "out")
    assert {n: len(f) for n, f in back.items()} == {n: len(f) for n, f in same.items()}


def test_bad_worker_options_are_one_line_errors(orders, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="positive number"):
        relsynth.write(orders.stream(seed=1), tmp_path / "a", orders.schema, workers=0)
    with pytest.raises(ConfigError, match="not both"):
        relsynth.write(orders.stream(seed=1), tmp_path / "a", orders.schema, workers=2, scheduler="tcp://x:8786")
    with pytest.raises(ConfigError, match="model.stream"):
        relsynth.write(orders.sample(seed=1), tmp_path / "a", orders.schema, workers=2)
    path = orders.save(tmp_path / "m.rsm")
    run = CliRunner().invoke(app, ["sample", str(path), "--to", str(tmp_path / "b"), "--workers", "-1"])
    assert run.exit_code != 0 and "workers must be a positive number" in run.output


def test_conditioned_children_that_follow_stay_sequential(hospital, threads, tmp_path: Path) -> None:
    """Children of conditioned rows have no row bound to reserve keys by: such a stream is drawn
    one partition after the other (keys still unique), and refused on Dask with the reason."""
    stream = hospital.stream(seed=5, partition_rows=3000, conditions={"patients": {"age": (70, None)}},
                             size={"patients": 3000})
    assert not stream.independent
    out = collect(stream, list(hospital.schema.tables))
    assert stream.partitions > 1
    assert not out["lab_results"].duplicated(hospital.schema.tables["lab_results"].primary_key).any()
    with pytest.raises(ConfigError, match="one partition after the other"):
        relsynth.write(hospital.stream(seed=5, partition_rows=3000, conditions={"patients": {"age": (70, None)}},
                                       size={"patients": 3000}), tmp_path / "c", hospital.schema, scheduler=threads)
