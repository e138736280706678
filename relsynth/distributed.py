"""Sampling on a Dask cluster: each partition of a :class:`~relsynth.sampling.relational.SampleStream`
is one task.

The client generates the materialized tables (lookups, dimensions, secondary-FK parents) once
and broadcasts them with the model to every worker (``Client.scatter``); each task then draws
one partition with :func:`~relsynth.sampling.relational.generate_partition`, whose key ranges,
secondary-FK slots and seeds were fixed before any task ran. The output is therefore the same
whatever the number of workers, and the same as :func:`relsynth.write` of the stream without
Dask.

Targets:

- a directory: each task writes its own ``<table>/part-NNNNNN.parquet`` (or ``.csv``) files
  into a staging directory inside the target, the client writes the materialized tables and
  ``metadata.json``, and the staged files replace the old ones only once every task is done
  (a failure leaves the target as it was). The workers must see the target path (one machine,
  or a shared file system).
- a PostgreSQL or MariaDB/MySQL database: the client checks the target as
  :func:`relsynth.sinks.write` does, draws the first partition of each entry table (the target's
  types are chosen from each table's first piece, as without Dask) and creates a staging area
  ``relsynth_staging_<8 hex>`` (a schema with bare tables on PostgreSQL; a database on the same
  server on MariaDB, tables with keys but no foreign keys); it loads the materialized tables and
  those first partitions there, then every other task draws its partition and loads it into
  staging over its own connection (COPY, or batched INSERTs; the target's URL, password
  included: the workers must reach the database) and returns only its row counts. At the end
  the client puts it all in place as a write without Dask would leave it
  (:mod:`relsynth.sinks.staged`): on PostgreSQL in one transaction, on MariaDB by checking every
  foreign key, one atomic ``RENAME TABLE`` and ``ADD FOREIGN KEY``. Any failure drops the
  staging area: the target is left as it was. The rows are those of a write without Dask; their
  physical order in a table is not.
- a SQLite database: the tasks' partitions come back to the client, which loads them in
  partition order through :func:`relsynth.sinks.write` (one transaction, all constraints as in a
  write without Dask), while the workers draw the next ones. At most ``2 × workers`` partitions
  are in flight, so memory stays bounded; SQLite has one writer anyway.

Needs ``pip install "relsynth[dask]"`` (``dask[distributed]``).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from relsynth.errors import ConfigError, MissingExtraError, SinkError
from relsynth.sampling.relational import Partition, SampleStream, generate_partition
from relsynth.schema.model import Schema
from relsynth.sinks.files import (FileFormat, METADATA_FILE, part_file, prepare_directory, replace_files,
                                  write_metadata, write_table_file)
from relsynth.sinks.sql import check_frame
from relsynth.sinks.staged import StagingTarget, open_staged_load
from relsynth.urls import normalize_url

__all__ = ["check_workers", "dask_client", "write_distributed"]

log = logging.getLogger("relsynth")

# The former PostgreSQL and MariaDB path (partitions back to the client, one load stream), kept
# reachable for benchmarks/bench_dask.py --client-load.
_CLIENT_LOAD = False

#: ``progress(stage, table, done, total)`` (see :data:`relsynth.api.Progress`).
Progress = Callable[[str, str | None, int, int | None], None]


def check_workers(workers: int | None, scheduler: Any = None) -> int | None:
    """Return ``workers`` as an int (None stays None), or raise ConfigError unless it is a
    positive whole number given without ``scheduler``."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive number of local Dask workers, got {workers!r}; use e.g. --workers 2")
    if scheduler is not None:
        raise ConfigError("give either workers (a local Dask cluster) or scheduler (an existing one), not both")
    return workers


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: Any = None) -> Iterator[Any]:
    """A ``dask.distributed`` client: of ``scheduler`` (an address such as ``tcp://host:8786``,
    or a ``Client`` the caller owns, left open), or of a local cluster of ``workers`` worker
    processes with one thread each, closed on exit."""
    check_workers(workers, scheduler)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MissingExtraError("dask[distributed]", "dask", "sampling on Dask (workers / scheduler)") from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise ConfigError(f"scheduler must be a Dask scheduler address such as tcp://host:8786, got {scheduler!r}")
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address "
                              "(tcp://HOST:8786) and that `dask scheduler` runs there") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


def write_distributed(stream: SampleStream, target: str | Path | Any, schema: Schema, *, client: Any,
                      if_exists: str = "fail", file_format: FileFormat | None = None,
                      progress: Progress | None = None, directory: bool,
                      int_bounds: dict[tuple[str, str], int] | None = None,
                      order: list[str] | None = None) -> dict[str, int]:
    """Draw ``stream`` on the Dask cluster of ``client`` and write it to ``target`` (a directory
    when ``directory``, else a database URL or engine); rows written per table.

    Raises:
        ConfigError: The stream's partitions depend on one another (targeted generation whose
            children follow a conditioned parent, see :attr:`SampleStream.independent`).
    """
    if not stream.independent:
        raise ConfigError("conditioned rows whose child tables follow them are drawn one partition after the "
                          "other (their row counts are not known in advance); run without workers/scheduler, or give "
                          "those child tables a size")
    prepared = None
    if directory:
        if if_exists == "append":
            raise ConfigError("append is not possible when writing files on Dask (tables are written in parts); "
                              "use --if-exists replace, or write without workers/scheduler")
        prepared = prepare_directory(target, schema, file_format or "csv", if_exists)
    gen, materialized = stream.materialize()
    for name, frame in materialized:
        stream.summary[name] = frame
    parts = stream.partition_plan(gen)
    shared = client.scatter(gen, broadcast=True, hash=False)
    expected = stream.expected_rows()
    done: dict[str, int] = {}

    def report(name: str, rows: int) -> None:
        done[name] = done.get(name, 0) + rows
        if progress is not None:
            progress("write", name, done[name], expected.get(name))

    window = 2 * max(len(client.scheduler_info().get("workers", {})), 1)
    if prepared is not None:
        return _write_directory(stream, *prepared, schema, client, shared, parts, materialized,
                                file_format or "csv", window, report)
    if _dialect(target) in ("postgresql", "mysql", "mariadb") and not _CLIENT_LOAD:
        return _write_staged(stream, target, schema, client, shared, parts, materialized, window, report,
                             if_exists=if_exists, order=order, int_bounds=int_bounds)
    from relsynth.sinks import write as write_database

    def pieces() -> Iterator[tuple[str, pd.DataFrame]]:
        for name, frame in materialized:
            report(name, len(frame))
            yield name, frame
        for part, result in _in_order(client, _draw, shared, parts, window):
            stream.record(part, result)
            for name, frame in result:
                report(name, len(frame))
                yield name, frame

    return write_database(pieces(), target, schema, if_exists=if_exists, order=order,  # type: ignore[arg-type]
                          int_bounds=int_bounds)


def _dialect(target: str | Any) -> str:
    """The SQLAlchemy dialect name of a database URL or engine."""
    if isinstance(target, sa.Engine):
        return target.dialect.name
    return normalize_url(str(target)).get_backend_name()


def _write_staged(stream: SampleStream, target: str | sa.Engine, schema: Schema, client: Any, shared: Any,
                  parts: list[Partition], materialized: list[tuple[str, pd.DataFrame]], window: int,
                  report: Callable[[str, int], None], *, if_exists: str, order: list[str] | None,
                  int_bounds: dict[tuple[str, str], int] | None) -> dict[str, int]:
    """The PostgreSQL and MariaDB/MySQL targets of :func:`write_distributed`: every task loads its
    partition into a staging area, the client puts it all in place (:mod:`relsynth.sinks.staged`)."""
    # The target's types are chosen from each table's first piece, as a write without Dask does:
    # the materialized tables and the first partition of every entry table, drawn first.
    started = time.perf_counter()
    heads = [part for part in parts if part.index == 0]
    first = list(materialized)
    for part, pieces in _in_order(client, _draw, shared, heads, window):
        stream.record(part, pieces)
        first += pieces
    log.info("drew the first partition of %d entry table(s) in %.2fs", len(heads), time.perf_counter() - started)
    load = open_staged_load(target, schema, first, if_exists=if_exists, order=order,  # type: ignore[arg-type]
                            int_bounds=int_bounds)
    try:
        # The client stages what it holds before the tasks start: measured on 2 cores, doing it in
        # a thread beside 2 workers was slower (TPC-H SF 0.1 at scale 10, one run each: 47.5 s vs 41.6 s).
        started = time.perf_counter()
        for name, rows in load.copy(first).items():
            report(name, rows)
        log.info("staged %d rows from the client in %.2fs", sum(len(f) for _, f in first), time.perf_counter() - started)
        started = time.perf_counter()
        staging = client.scatter(load.target, broadcast=True, hash=False)
        rest = [part for part in parts if part.index != 0]
        with contextlib.closing(_in_order(client, _draw_to_staging, shared, rest, window, staging)) as results:
            for part, rows in results:
                stream.record(part, [(name, None) for name in rows])
                load.add(rows)
                for name, n in rows.items():
                    report(name, n)
        log.info("%d tasks drew and staged their partitions in %.2fs", len(rest), time.perf_counter() - started)
        written = load.finish()
    except BaseException as exc:
        raised = load.fail(exc)
        if raised is exc:
            raise
        raise raised from None
    finally:
        load.close()
    log.info("wrote %d rows to %d tables of %s (%d partitions on Dask, loaded by the workers)", sum(written.values()),
             len(written), load.label, len(parts))
    return written


def _draw_to_staging(gen: Any, part: Partition, number: int, staging: StagingTarget) -> dict[str, int]:
    """Task: draw one partition and load it into the staging tables (own connection, own COMMIT); its rows per table."""
    pieces = generate_partition(gen, part)[0]
    try:
        return staging.copy(pieces)
    except SinkError as exc:
        raise SinkError(f"partition {part.index} of {part.entry!r}: {exc}") from None


def _draw(gen: Any, part: Partition, number: int) -> list[tuple[str, pd.DataFrame]]:
    """Task: one partition's pieces."""
    return generate_partition(gen, part)[0]


def _draw_to_files(gen: Any, part: Partition, number: int, staging: str, file_format: FileFormat
                   ) -> tuple[dict[str, int], list[tuple[str, pd.DataFrame]] | None]:
    """Task: draw one partition and write each of its tables as part file ``number`` under
    ``staging``; its rows per table, and its pieces when it is an entry table's first (for the
    fidelity summary)."""
    pieces = generate_partition(gen, part)[0]
    for name, frame in pieces:
        path = part_file(Path(staging), name, number, file_format)
        # Not parents=True: a task still running after another failed (a cancel does not stop it)
        # must not make the staging directory again once the client has removed it.
        path.parent.mkdir(exist_ok=True)
        write_table_file(frame, gen.schema.tables[name], path, file_format)
    return {name: len(frame) for name, frame in pieces}, pieces if part.index == 0 else None


def _in_order(client: Any, task: Callable[..., Any], shared: Any, parts: list[Partition], window: int,
              *args: Any) -> Iterator[tuple[Partition, Any]]:
    """Run ``task(gen, part, number, *args)`` for every partition on the cluster, at most
    ``window`` at a time, and yield the results in partition order."""
    pending: deque = deque()
    todo = iter(enumerate(parts))
    run = uuid.uuid4().hex[:8]

    def submit() -> None:
        for number, part in todo:
            pending.append((part, client.submit(task, shared, part, number, *args, key=f"relsynth-{run}-{number}",
                                                pure=False)))
            return

    try:
        for _ in range(window):
            submit()
        while pending:
            part, future = pending.popleft()
            result = future.result()
            future.release()
            submit()
            yield part, result
    finally:
        # A failed task, an error while handling a result, Ctrl-C: the tasks not started yet are
        # dropped (running ones finish; a failure's cleanup waits for their COMMIT).
        if pending:
            client.cancel([future for _, future in pending])


def _remove_staging(staging: Path, patience: float = 30.0) -> None:
    """Remove a failed write's staging directory, again while tasks still running add files to it
    (``rmtree`` then fails on the directory it emptied); once it is gone no task can make it again."""
    deadline = time.monotonic() + patience
    while True:
        shutil.rmtree(staging, ignore_errors=True)
        if not staging.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _write_directory(stream: SampleStream, directory: Path, existing: dict[str, list[Path]], schema: Schema,
                     client: Any, shared: Any, parts: list[Partition], materialized: list[tuple[str, pd.DataFrame]],
                     file_format: FileFormat, window: int, report: Callable[[str, int], None]) -> dict[str, int]:
    """The directory target of :func:`write_distributed` (checked by ``prepare_directory``):
    staged, then moved into place."""
    staging = directory / f".relsynth-staging-{uuid.uuid4().hex[:8]}"
    written = {name: 0 for name in schema.tables}
    try:
        staging.mkdir()
        for name, frame in materialized:
            write_table_file(frame, schema.tables[name], staging / f"{name}.{file_format}", file_format)
            written[name] += len(frame)
            report(name, len(frame))
        for part, (rows, first) in _in_order(client, _draw_to_files, shared, parts, window, str(staging), file_format):
            stream.record(part, first or [(name, None) for name in rows])
            for name, n in rows.items():
                written[name] += n
                report(name, n)
        for name, table in schema.tables.items():  # tables without any row still get their (empty) file
            if not (staging / f"{name}.{file_format}").exists() and not (staging / name).is_dir():
                empty = check_frame(name, pd.DataFrame(columns=table.column_names), schema)
                write_table_file(empty, table, staging / f"{name}.{file_format}", file_format)
        write_metadata(staging / METADATA_FILE, schema, written)
    except OSError as exc:
        _remove_staging(staging)
        raise SinkError(f"writing to directory {directory} failed: {exc}; nothing was changed") from None
    except BaseException:
        _remove_staging(staging)
        raise
    staged = [(staging / name, directory / name) if (staging / name).is_dir()
              else (staging / f"{name}.{file_format}", directory / f"{name}.{file_format}") for name in schema.tables]
    replace_files(staged + [(staging / METADATA_FILE, directory / METADATA_FILE)], existing)
    staging.rmdir()
    log.info("wrote %d rows to %d tables in %s (%d partitions on Dask)", sum(written.values()), len(written),
             directory, len(parts))
    return written
