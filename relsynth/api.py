"""The library's front door: inspect, fit, sample, write, clone.

Each function is one stage (or a chain of them) of::

    source ─► schema ─► plan ─► fit ─► model ─► sample ─► write ─► verify

and takes plain values, so an ETL job can enter at any stage: ``fit`` once, ``Model.save``,
then ``load`` and ``Model.sample`` as often as needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from relsynth.config import (
    NEURAL_EPOCHS,
    NEURAL_SECONDS,
    Synthesizer,
    add_foreign_keys,
    check_if_exists,
    check_synthesizer,
    parse_tables,
    pii_overrides,
    require_valid,
    table_synthesizers,
)
from relsynth.errors import ConfigError, SourceError
from relsynth.evaluate.integrity import frame_integrity
from relsynth.evaluate.metrics import TableScores, at_most, fidelity_summary
from relsynth.evaluate.privacy import exact_copies
from relsynth.transform.copies import copy_columns
from relsynth.models.neural import NeuralOptions, require_torch
from relsynth.models.relational import Model, fit_model, load_model
from relsynth.plan import Plan, make_plan
from relsynth.schema import mask_url, read_schema, read_tables, schema_from_dataframes, schema_from_metadata
from relsynth.schema.dataframes import RelationalData
from relsynth.schema.model import Schema
from relsynth.sinks import IfExists, verify_integrity
from relsynth.sinks.files import FileFormat, is_directory, read_files, verify_files, write_files
from relsynth.sinks.integrity import dangling_references, total_violations
from relsynth.sinks.sql import check_target
from relsynth.sinks import write as _write
from relsynth.sampling.relational import SampleStream, check_scale, check_seed, collect
from relsynth.distributed import check_workers
from relsynth.subsample import FIT_ROWS, FitSample, key_columns, plan_sample
from relsynth.transform.pii import DEFAULT_LOCALE, SAMPLE_VALUES, detect_pii, personal_links
from relsynth.transform.rare import RARE_CATEGORY_THRESHOLD
from relsynth.urls import same_database

__all__ = ["Inspection", "CloneResult", "Progress", "inspect", "fit", "load", "write", "verify", "clone"]

log = logging.getLogger("relsynth")

#: What can be learned from: a database URL or engine, a directory of CSV/Parquet files (any
#: path that is not a ``scheme://`` URL), a dict of DataFrames, or a :class:`RelationalData`.
Source = str | Path | sa.Engine | dict[str, pd.DataFrame] | RelationalData
#: A metadata file (relsynth's schema JSON or SDV metadata JSON), its parsed dict, or a schema.
Metadata = Schema | dict[str, Any] | str | Path
#: Synthetic rows per table a clone compares with the source rows for exact copies (as many as
#: the summary scores: the rate is what is reported, and hashing every row costs seconds).
EXACT_COPY_ROWS = 20_000
#: ``progress(stage, table, done, total)``: stage ``read``, ``fit`` (``table`` starts), ``write``
#: (``done`` of ``total`` expected rows of ``table`` drawn and handed to the writer) or ``verify``.
Progress = Callable[[str, str | None, int, int | None], None]


@dataclass
class Inspection:
    """What ``relsynth inspect`` shows: the schema, the plan derived from it, and the source's integrity.

    Attributes:
        schema: Tables, columns, keys and row counts.
        plan: The generation plan (order, driver FKs, cycles).
        dangling: Per table with foreign keys, per FK label, the source rows whose non-NULL FK
            matches no parent row (None when not checked).
        pii: Per table, per column found to hold personal data: ``{"kind", "reason"}``, from
            the first :data:`~relsynth.transform.pii.SAMPLE_VALUES` rows (None when not checked).
        pii_links: Personal columns holding, in a share of their rows, the values of another
            table without an FK path between them (:func:`~relsynth.transform.pii.personal_links`
            on the same rows): ``{"table", "columns", "source_table", "source_columns", "share"}``
            each (None when not checked).
    """

    schema: Schema
    plan: Plan
    dangling: dict[str, dict[str, int]] | None = None
    pii: dict[str, dict[str, dict[str, str]]] | None = None
    pii_links: list[dict[str, Any]] | None = None

    @property
    def dangling_rows(self) -> int:
        """Source rows pointing at no parent row, summed over every FK (0 when not checked)."""
        return sum(n for fks in (self.dangling or {}).values() for n in fks.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (``relsynth inspect --format json``): tables, plan, source integrity, personal data."""
        tables = {}
        for name, t in self.schema.tables.items():
            tables[name] = {
                "rows": t.row_count,
                "columns": [{"name": c.name, "kind": c.kind, "nullable": c.nullable, "sql_type": c.sql_type}
                            for c in t.columns],
                "primary_key": t.primary_key,
                "foreign_keys": [fk.label for fk in t.foreign_keys],
                "unique": [u.columns for u in t.unique],
                "checks": [c.sqltext for c in t.checks],
            }
        integrity: dict[str, Any] = {"checked": self.dangling is not None, "dangling_rows": self.dangling_rows,
                                     "foreign_keys": [
                                         {"table": t, "foreign_key": label, "dangling_rows": n}
                                         for t, fks in (self.dangling or {}).items() for label, n in fks.items()
                                     ]}
        return {"dialect": self.schema.dialect, "tables": tables, "plan": self.plan.to_dict(),
                "source_integrity": integrity, "pii": self.pii, "pii_links": self.pii_links}


@dataclass
class CloneResult:
    """The outcome of :func:`clone`: rows written, timings, integrity and fidelity.

    ``pii`` is the model's :attr:`~relsynth.models.relational.Model.pii` (the personal-data
    columns, why, and how they were made); ``rare_categories`` its rewritten rare categories;
    ``exact_copies`` per table the synthetic rows equal to a source row on every non-key column
    (:func:`relsynth.evaluate.privacy.exact_copies`, with ``domain_forced``), counted on at most
    :data:`EXACT_COPY_ROWS` rows of each table's output (of its first partition when the copy
    was drawn in partitions) against the rows the model was fitted on.
    """

    rows_source: dict[str, int]
    rows_written: dict[str, int]
    seconds: dict[str, float]
    integrity: dict[str, dict[str, int]]
    fidelity: dict[str, TableScores]
    notes: list[str] = field(default_factory=list)
    pii: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    rare_categories: dict[str, dict[str, int]] = field(default_factory=dict)
    exact_copies: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def violations(self) -> int:
        """Total integrity violations found in the target (0 when every constraint holds)."""
        return total_violations(self.integrity)


def _schema_of(schema: Schema | None, metadata: Metadata | None) -> Schema | None:
    """The schema given directly or through a metadata file/dict (relsynth or SDV format)."""
    if schema is not None and metadata is not None:
        raise ConfigError("pass either schema or metadata, not both")
    if metadata is None:
        return schema
    return metadata if isinstance(metadata, Schema) else schema_from_metadata(metadata)


def _configured(schema: Schema, tables: Mapping[str, Any] | None, foreign_keys: list[Any] | None,
                include: list[str] | None, exclude: list[str] | None) -> Schema:
    """``schema`` with the virtual ``foreign_keys`` added, once ``tables`` and the keys are
    checked against it (a ConfigError names the first thing that does not fit)."""
    require_valid(schema, tables, foreign_keys, include, exclude)
    return add_foreign_keys(schema, foreign_keys or [], include, exclude)


def _load_source(source: Source, schema: Schema | None, include: list[str] | None,
                 exclude: list[str] | None, fit_rows: int = FIT_ROWS,
                 foreign_keys: list[Any] | None = None, tables: Mapping[str, Any] | None = None,
                 ) -> tuple[Schema, dict[str, pd.DataFrame], FitSample | None]:
    """The schema (virtual ``foreign_keys`` added, ``tables`` options checked) and the rows to
    fit on: all of them, or where a table has more than ``fit_rows`` (0: no limit) an
    FK-consistent sample read in chunks (:mod:`relsynth.subsample`)."""
    if fit_rows < 0:
        raise ConfigError(f"fit_rows must be 0 (no limit) or a positive number of rows, got {fit_rows}; "
                          "use e.g. --fit-rows 100000")
    if isinstance(source, RelationalData):
        schema = schema if schema is not None else source.to_schema()
        source = source.frames
    elif is_directory(source):
        schema, source = read_files(source, schema, include, exclude)  # type: ignore[arg-type]
    if isinstance(source, dict):
        if schema is None:
            schema = schema_from_dataframes(source)
        schema = _configured(schema.select(include, exclude), tables, foreign_keys, include, exclude)
        frames = {n: source[n] for n in schema.tables}
        from relsynth.schema import coerce_frame

        frames = {n: coerce_frame(frames[n], schema.tables[n]) for n in schema.tables}
        _check_not_all_empty(frames)
        cols = key_columns(schema)
        sample = plan_sample(schema, {n: frames[n][cols[n]] for n in schema.tables}, fit_rows)
        return schema, sample.apply(frames) if sample else frames, sample
    if schema is None:
        schema = read_schema(source, include=include, exclude=exclude)
    else:
        schema = schema.select(include, exclude)
    schema = _configured(schema, tables, foreign_keys, include, exclude)
    sample = None
    if fit_rows and max((t.row_count or 0 for t in schema.tables.values()), default=0) > fit_rows:
        cols = key_columns(schema)
        keyed = [n for n in schema.tables if cols[n]]
        keys = read_tables(source, schema, tables=keyed, columns=cols)
        sample = plan_sample(schema, keys, fit_rows)
    frames = read_tables(source, schema, filters=sample.filters if sample else None)
    _check_not_all_empty(frames)
    return schema, frames, sample


def _check_not_all_empty(frames: dict[str, pd.DataFrame]) -> None:
    """An empty table is learned (and cloned) as empty, but a source of only empty tables teaches nothing."""
    if frames and not any(len(f) for f in frames.values()):
        raise SourceError(f"every selected table of the source is empty ({', '.join(frames)}); "
                          "fill at least one table or select tables that hold rows")


def inspect(
    source: str | Path | sa.Engine,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    integrity: bool = True,
    *,
    metadata: Metadata | None = None,
    pii: bool = True,
) -> Inspection:
    """Read a source's schema and make the generation plan.

    Args:
        source: A SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://…``, ``mysql://…``) or
            engine (no rows are loaded, only counted), or a directory of CSV/Parquet files
            (read whole, see :func:`relsynth.sinks.files.read_files`).
        include: Only these tables.
        exclude: All tables but these.
        integrity: Also count, per foreign key, the rows that point at no parent row (one
            read-only anti-join query per FK; ``False`` skips it on very large sources).
        metadata: A metadata file or dict (relsynth's schema JSON or SDV metadata) to use
            instead of the database's declared schema (foreign keys it does not declare
            included); for a directory, instead of its ``metadata.json``.
        pii: Also find the columns holding personal data, from the first
            :data:`~relsynth.transform.pii.SAMPLE_VALUES` rows of each table's text columns (a
            ``LIMIT`` in the statement: a large table is not read whole;
            :func:`relsynth.transform.pii.detect_pii`).
    """
    schema = _schema_of(None, metadata)
    if is_directory(source):
        schema, frames = read_files(source, schema, include, exclude)  # type: ignore[arg-type]
        dangling = None
        if integrity:
            dangling = {n: {} for n, t in schema.tables.items() if t.foreign_keys}
            for row in frame_integrity(schema, frames):
                if row["kind"] == "foreign_key":
                    dangling[row["table"]][row["constraint"].removeprefix("FOREIGN KEY ")] = row["violations"]
        return Inspection(schema, make_plan(schema), dangling)
    schema = read_schema(source, include=include, exclude=exclude) if schema is None else schema.select(include, exclude)
    dangling = dangling_references(source, schema) if integrity else None
    plan = make_plan(schema)
    found, links = _detect_pii(source, schema, plan) if pii else (None, None)
    return Inspection(schema, plan, dangling, found, links)


def _detect_pii(source: str | sa.Engine, schema: Schema, plan: Plan
                ) -> tuple[dict[str, dict[str, dict[str, str]]], list[dict[str, Any]]]:
    """Personal-data columns per table, and the links between tables' personal columns, from
    the first rows of the text columns."""
    columns = {n: [c.name for c in t.columns if c.kind == "string"] for n, t in schema.tables.items()}
    names = [n for n, cols in columns.items() if cols]
    if not names:
        return {}, []

    frames = read_tables(source, schema, tables=names, columns=columns, limits={n: SAMPLE_VALUES for n in names})
    detected = {n: detect_pii(schema.tables[n], frames[n], set(schema.tables[n].primary_key) | schema.tables[n].fk_columns)
                for n in names}
    out = {n: {c: {"kind": p.kind, "reason": p.reason} for c, p in found.items()} for n, found in detected.items() if found}
    links = personal_links(schema, [n for n in plan.order if n in frames], detected, frames)
    return out, [link.to_state() for link in links]


def fit(
    source: Source,
    *,
    schema: Schema | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    seed: int = 0,
    fit_rows: int = FIT_ROWS,
    foreign_keys: list[Any] | None = None,
    metadata: Metadata | None = None,
    pii: dict[str, str | None] | None = None,
    locale: str = DEFAULT_LOCALE,
    rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
    synthesizer: Synthesizer = "copula",
    tables: Mapping[str, Any] | None = None,
    neural_epochs: int = NEURAL_EPOCHS,
    neural_seconds: float | None = NEURAL_SECONDS,
    progress: Progress | None = None,
) -> Model:
    """Learn a model of a database.

    Args:
        source: A database URL or engine; a directory of CSV/Parquet files with a metadata
            file; a :class:`~relsynth.schema.dataframes.RelationalData`; or a dict of
            DataFrames (then ``schema`` describes keys; without it the schema is inferred
            from dtypes and has no keys).
        schema: The schema to use instead of reading it from the source.
        metadata: Instead of ``schema``: a metadata file or dict, relsynth's schema JSON or
            SDV's metadata (for a directory, default ``DIR/metadata.json``).
        include: Only these tables (every FK must stay inside the selection).
        exclude: All tables but these.
        seed: Seed of the fit's own randomness.
        fit_rows: A table with more rows is fitted on an FK-consistent sample of about this
            many (children kept with their parent rows; counts and keys from all rows), read
            in chunks so memory stays bounded; 0 fits on every row.
        foreign_keys: Foreign keys the database does not declare, learned like declared ones
            and kept in the model's schema (so a write declares them): dicts ``{"table",
            "columns", "ref_table", "ref_columns"}`` or :class:`~relsynth.config.VirtualForeignKey`.
        pii: Overrides of the personal-data detection, ``{"Table.Column": kind}`` (one of
            :data:`relsynth.transform.pii.PII_KINDS`) or ``{"Table.Column": None}`` (not
            personal data). Detected columns are generated with Faker, never learned; what was
            found and why is in ``model.pii``.
        locale: Faker locale of the generated personal data (``en_US``, ``de_DE``, ...).
        rare_category_threshold: Categories fewer source rows hold are not reproduced
            verbatim (0 keeps them all).
        synthesizer: What learns every table: ``copula`` (default), ``neural`` (a conditional
            autoregressive network, :mod:`relsynth.models.neural`; needs ``relsynth[neural]``)
            or ``auto`` (the network where it beats the copula on held-out rows).
        tables: Per-table options; here only a table's own ``synthesizer`` is used
            (``{"lab_results": {"synthesizer": "neural"}}``).
        neural_epochs: Most training epochs of a neural synthesizer.
        neural_seconds: Most training seconds of a neural synthesizer, per table (None: no
            limit; with a limit, how far training gets depends on the machine's speed).
        progress: Called as ``progress(stage, table, 0, None)`` with stage ``read``, then
            ``fit`` as each table's fit starts (see :data:`Progress`).

    Returns:
        A :class:`~relsynth.models.relational.Model`; ``model.sample(scale, seed)`` draws data,
        ``model.save(path)`` stores it.
    """
    check_seed(seed)
    neural = _neural_options(synthesizer, tables, neural_epochs, neural_seconds)
    report = progress or _log_progress
    report("read", None, 0, None)
    schema, frames, sample = _load_source(source, _schema_of(schema, metadata), include, exclude, fit_rows, foreign_keys)
    if not schema.tables:
        raise SourceError("the source has no tables to learn from; check the URL or the include/exclude lists")
    return fit_model(schema, frames, seed=seed, sample=sample, progress=_fit_progress(report), pii=pii, locale=locale,
                     rare_category_threshold=rare_category_threshold,
                     synthesizers=table_synthesizers(synthesizer, tables, list(schema.tables)),
                     neural=neural)


def _neural_options(synthesizer: Any, tables: Mapping[str, Any] | None, epochs: int,
                    seconds: float | None) -> NeuralOptions:
    """The neural training settings, checked before the source is read, as is torch where a
    table may be learned by the network (the one-line ``pip install`` error, not after the read)."""
    options = NeuralOptions(epochs=epochs, seconds=seconds)
    chosen = {check_synthesizer(synthesizer, "synthesizer")}
    chosen |= {o.synthesizer for o in parse_tables(tables).values() if o.synthesizer is not None}
    if chosen - {"copula"}:
        require_torch()
    return options


def _fit_progress(report: Progress) -> Callable[[str], None]:
    """``fit_model``'s per-table callback, as stage ``fit`` of a :data:`Progress`."""
    return lambda name: report("fit", name, 0, None)


def load(path: str | Path) -> Model:
    """Load a model saved with ``Model.save`` (JSON + numpy arrays; no code is ever run)."""
    return load_model(path)


def write(
    tables: dict[str, pd.DataFrame] | SampleStream,
    target: str | Path | sa.Engine,
    schema: Schema,
    if_exists: IfExists = "fail",
    file_format: FileFormat | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    scheduler: str | Any = None,
) -> dict[str, int]:
    """Write ``tables`` into a database or a directory of files, whichever ``target`` names:
    one frame per table, or a :meth:`Model.stream`, loaded piece by piece as it is drawn (a
    directory target collects the stream's pieces first).

    A database URL or engine: the schema's tables are created in the target's dialect and
    bulk-loaded, keys and constraints enforced by the target; a failed load leaves the target
    as it was (or, on MySQL/MariaDB whose DDL is not transactional, drops what it created).
    Any other path is a directory: one ``.csv`` (default) or ``.parquet`` file per table plus
    ``metadata.json`` (see :func:`relsynth.sinks.files.write_files`).

    Args:
        tables: One DataFrame per schema table.
        target: Database URL or engine, or a directory path.
        schema: Tables, keys and constraints.
        if_exists: ``fail``, ``truncate``, ``append`` or ``replace`` (for a directory,
            ``fail`` refuses any non-empty directory).
        file_format: ``csv`` or ``parquet``, for directory targets only.
        progress: For a stream: called as ``progress("write", table, done, total)`` as each
            piece is drawn (see :data:`Progress`).
        workers: For a stream: draw its partitions on a local Dask cluster of this many worker
            processes (:mod:`relsynth.distributed`; needs ``relsynth[dask]``). Same data as
            without Dask, whatever the number.
        scheduler: For a stream: draw its partitions on an existing Dask cluster, given by its
            scheduler's address (``tcp://host:8786``) or a ``dask.distributed.Client``. A
            directory target must then be a path every worker can write to.

    Returns:
        Rows written per table.
    """
    if workers is not None or scheduler is not None:
        from relsynth.distributed import dask_client, write_distributed

        check_workers(workers, scheduler)
        if not isinstance(tables, SampleStream):
            raise ConfigError("workers/scheduler draw a sample stream on Dask (model.stream(...)); frames already "
                              "drawn are written without them")
        directory = is_directory(target)
        if not directory and file_format is not None:
            raise ConfigError(f"a file format ({file_format}) applies to directory targets, and "
                              f"{mask_url(str(target))} is a database URL; drop the file format or give a directory")
        if not directory:
            check_target(target)
        with dask_client(workers, scheduler) as client:
            return write_distributed(tables, target, schema, client=client, if_exists=if_exists,
                                     file_format=file_format, progress=progress, directory=directory,
                                     int_bounds=tables.key_bounds(), order=make_plan(schema).order)
    if progress is not None and isinstance(tables, SampleStream):
        tables = _Timed(tables, progress)  # type: ignore[assignment]
    if is_directory(target):
        if not isinstance(tables, dict):
            frames = collect(tables, list(schema.tables))
            tables = {name: frames.get(name, pd.DataFrame(columns=t.column_names)) for name, t in schema.tables.items()}
        return write_files(tables, target, schema, file_format=file_format or "csv", if_exists=if_exists)  # type: ignore[arg-type]
    if file_format is not None:
        raise ConfigError(f"a file format ({file_format}) applies to directory targets, and {mask_url(str(target))} "
                          "is a database URL; drop the file format or give a directory")
    stream = tables.stream if isinstance(tables, _Timed) else tables
    bounds, expected = None, None
    if isinstance(stream, SampleStream):
        bounds, expected = stream.key_bounds(), sum(stream.expected_rows().values())
    return _write(tables, target, schema, if_exists=if_exists, order=make_plan(schema).order, int_bounds=bounds,
                  expected_rows=expected)


class _Timed:
    """A sample stream that keeps the time spent drawing its pieces (the rest of a streamed
    write is loading), reports each table's progress as its pieces go to the writer and calls
    ``drawn`` once the last piece is drawn."""

    def __init__(self, stream: SampleStream, progress: Progress, drawn: Callable[[], None] | None = None) -> None:
        self.stream, self.progress, self.drawn = stream, progress, drawn
        self.expected = stream.expected_rows()
        self.seconds = 0.0
        self.done: dict[str, int] = {}

    def __iter__(self) -> Iterator[tuple[str, pd.DataFrame]]:
        pieces = iter(self.stream)
        while True:
            started = time.perf_counter()
            try:
                name, frame = next(pieces)
            except StopIteration:
                if self.drawn is not None:
                    self.drawn()
                return
            finally:
                self.seconds += time.perf_counter() - started
            self.done[name] = self.done.get(name, 0) + len(frame)
            self.progress("write", name, self.done[name], self.expected.get(name))
            yield name, frame


class _Beside:
    """``work`` run in a thread from :meth:`start` on, beside what the caller does meanwhile.

    A clone scores its output (pandas, holding the GIL) while the SQLite writer process loads
    the last rows and while the target's checks run (in the database's C code, without the
    GIL): 1-2 s of TPC-H SF 0.1's 18 s. Used as a context manager around those steps: a
    failure there first waits for the thread, so none runs on behind an error.
    """

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.thread: threading.Thread | None = None
        self.outcome: tuple[bool, Any] | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="relsynth-scores", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            self.outcome = (True, self.work())
        except BaseException as exc:  # noqa: BLE001 - raised in the caller by result()
            self.outcome = (False, exc)

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, kind: type | None, *_: Any) -> None:
        if kind is not None and self.thread is not None:
            self.thread.join()

    def result(self) -> Any:
        """What ``work`` returned (run here if it never started), or its exception raised here."""
        if self.thread is None:
            return self.work()
        self.thread.join()
        ok, value = self.outcome  # type: ignore[misc]
        if not ok:
            raise value
        return value


def verify(target: str | Path | sa.Engine, schema: Schema) -> dict[str, dict[str, int]]:
    """Count the integrity violations of ``schema``'s keys and constraints in ``target``: a
    database (:func:`relsynth.sinks.verify_integrity`, queries in the target) or a directory
    of files (:func:`relsynth.sinks.files.verify_files`, read back and checked in memory).

    Returns:
        Per table its counters (``rows`` and zeros when it is clean); their sum without the
        rows is :func:`relsynth.sinks.total_violations`.
    """
    return verify_files(target, schema) if is_directory(target) else verify_integrity(target, schema)  # type: ignore[arg-type]


def _same_target(source: Source, target: str | Path | sa.Engine) -> bool:
    """Whether writing to ``target`` would write to ``source`` (a directory, or a database
    however its URL is spelled: :func:`relsynth.urls.same_database`)."""
    if is_directory(source) or is_directory(target):
        return (is_directory(source) and is_directory(target)
                and Path(source).expanduser().resolve() == Path(target).expanduser().resolve())  # type: ignore[arg-type]
    if not isinstance(source, (str, sa.Engine)):
        return False  # frames in memory
    return same_database(source, target)  # type: ignore[arg-type]


def clone(
    source: Source,
    target: str | Path | sa.Engine,
    *,
    scale: float = 1.0,
    seed: int | None = None,
    if_exists: IfExists = "fail",
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    fit_rows: int = FIT_ROWS,
    partition_rows: int | None = None,
    workers: int | None = None,
    scheduler: str | Any = None,
    progress: Progress | None = None,
    tables: Mapping[str, Any] | None = None,
    foreign_keys: list[Any] | None = None,
    metadata: Metadata | None = None,
    file_format: FileFormat | None = None,
    pii: dict[str, str | None] | None = None,
    locale: str = DEFAULT_LOCALE,
    rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
    synthesizer: Synthesizer = "copula",
    neural_epochs: int = NEURAL_EPOCHS,
    neural_seconds: float | None = NEURAL_SECONDS,
) -> CloneResult:
    """Read ``source``, learn it, sample a synthetic copy and write it to ``target``.

    The copy is drawn and loaded in partitions (see :meth:`Model.stream`), so memory follows
    ``partition_rows``, not the output's size.

    Args:
        source: URL or engine of the real database (only read, never written), or any other
            source :func:`fit` takes (a directory of CSV/Parquet files, DataFrames, ...).
        target: URL or engine of the database to create the copy in, or a directory to write
            one file per table into (checked by reading the files back).
        scale: Multiplies the number of rows (children follow their parents).
        seed: Same seed, same synthetic data.
        if_exists: What to do when ``target`` already has the tables: ``fail`` (default),
            ``truncate``, ``append`` or ``replace``.
        include: Only these tables.
        exclude: All tables but these.
        fit_rows: Tables with more rows are learned from an FK-consistent sample of about this
            many (see :func:`fit`); 0 learns from every row.
        partition_rows: Output rows drawn and loaded at a time (whole families; None:
            :data:`~relsynth.sampling.relational.PARTITION_ROWS`).
        workers: Draw the partitions on a local Dask cluster of this many worker processes
            (see :func:`write`; needs ``relsynth[dask]``).
        scheduler: Draw the partitions on an existing Dask cluster (its scheduler's address or
            a ``dask.distributed.Client``; see :func:`write`).
        progress: Called as ``progress(stage, table, done, total)`` at every stage (see
            :data:`Progress`).
        tables: Per-table options: ``{"patients": {"scale": 2, "columns": {"age": {"min": 18}}}}``
            (a table's own scale, column overrides; see :meth:`Model.sample`).
        foreign_keys: Foreign keys the database does not declare (see :func:`fit`); they are
            learned, kept and declared in the target like declared ones.
        metadata: A metadata file or dict (relsynth or SDV format) describing the source
            instead of its declared schema (see :func:`fit`).
        file_format: ``csv`` (default) or ``parquet`` for a directory target.
        pii: Overrides of the personal-data detection (see :func:`fit`); a column's ``faker``
            option in ``tables`` adds one.
        locale: Faker locale of the generated personal data.
        rare_category_threshold: Categories fewer source rows hold are not reproduced (see :func:`fit`).
        synthesizer: What learns every table (see :func:`fit`); a table's ``synthesizer`` in
            ``tables`` wins.
        neural_epochs: Most training epochs of a neural synthesizer.
        neural_seconds: Most training seconds of a neural synthesizer, per table.

    All of these are keyword arguments a configuration file's keys map to;
    ``relsynth.load_config(path).clone()`` runs one.

    Returns:
        A :class:`CloneResult` with rows per table, timings, target integrity and fidelity scores.
    """
    check_if_exists(if_exists)
    check_scale(scale)
    check_seed(seed)
    check_workers(workers, scheduler)
    if _same_target(source, target):
        raise ConfigError(f"target {mask_url(str(target))} is the source database {mask_url(str(source))}; "
                          "choose another target")
    if not is_directory(target):
        check_target(target)  # a wrong password or host fails now, not after the read and fit
    tables = parse_tables(tables)
    pii = pii_overrides(pii, tables)
    neural = _neural_options(synthesizer, tables, neural_epochs, neural_seconds)
    report = progress or _log_progress
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    report("read", None, 0, None)
    schema, frames, sample = _load_source(source, _schema_of(None, metadata), include, exclude, fit_rows,
                                          foreign_keys, tables)
    if not schema.tables:
        raise SourceError("the source has no tables to clone; check the URL or the include/exclude lists")
    seconds["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = fit_model(schema, frames, seed=0, sample=sample, progress=_fit_progress(report),
                      pii=pii, locale=locale, rare_category_threshold=rare_category_threshold,
                      synthesizers=table_synthesizers(synthesizer, tables, list(schema.tables)), neural=neural)
    seconds["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stream = model.stream(scale=scale, seed=seed, partition_rows=partition_rows, tables=tables)

    def scores() -> tuple[dict[str, TableScores], dict[str, dict[str, Any]]]:
        return (fidelity_summary(schema, frames, stream.summary, real_keys=sample.keys if sample else None,
                                 partial=stream.partial),
                _exact_copies(model, frames, stream.summary))

    # Scored beside the writer's last rows and the target's checks once every piece is drawn.
    scoring = _Beside(scores)
    if workers is not None or scheduler is not None:  # drawn and written at once on the workers
        written = write(stream, target, schema, if_exists=if_exists, file_format=file_format, progress=report,
                        workers=workers, scheduler=scheduler)
        seconds["sample"], seconds["write"] = time.perf_counter() - t0, 0.0
    else:
        timed = _Timed(stream, report, drawn=scoring.start)
        with scoring:
            written = write(timed, target, schema, if_exists=if_exists, file_format=file_format)
        seconds["sample"] = timed.seconds
        seconds["write"] = time.perf_counter() - t0 - timed.seconds
    t0 = time.perf_counter()
    report("verify", None, 0, None)
    with scoring:
        integrity = verify(target, schema)
    seconds["verify"] = time.perf_counter() - t0
    fidelity, copies = scoring.result()
    notes = list(model.notes)
    if stream.partitions > 1:
        notes.append(f"drawn and written in {stream.partitions} partitions of about {stream.partition_rows:,} rows"
                     + (f"; the summary scores the first partitions of {', '.join(sorted(stream.partial))}"
                        if stream.partial else ""))
    return CloneResult(
        rows_source=sample.rows if sample else {n: len(f) for n, f in frames.items()},
        rows_written=written,
        seconds=seconds,
        integrity=integrity,
        fidelity=fidelity,
        notes=notes,
        pii=model.pii,
        rare_categories=model.rare_categories,
        exact_copies=copies,
    )


def _exact_copies(model: Model, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """:func:`~relsynth.evaluate.privacy.exact_copies` per table, on at most :data:`EXACT_COPY_ROWS`
    synthetic rows. A table where every row, real and synthetic, holds a personal value (made
    anew, never a source value) cannot hold a copy, and is not compared row by row."""
    out = {}
    for name, table in model.schema.tables.items():
        if name not in synth:
            continue
        rows = at_most(synth[name], EXACT_COPY_ROWS)
        made_anew = [c for c in model.pii.get(name, {}) if c in rows and c in real[name]]
        if any(rows[c].notna().all() and real[name][c].notna().all() for c in made_anew):
            out[name] = {"columns": len(copy_columns(table, real[name], rows)), "copies": 0, "rate": 0.0,
                         "domain_forced": False}
        else:
            out[name] = exact_copies(table, real[name], rows)
    return out


def _log_progress(stage: str, table: str | None, done: int, total: int | None) -> None:
    """Progress as plain log lines (INFO), where no progress display was given."""
    if stage == "write":
        log.info("%s: %s of about %s rows drawn", table, f"{done:,}", f"{total or done:,}")
    else:
        log.info("%s%s", {"read": "reading the source", "fit": "fitting", "verify": "verifying the target"}.get(stage, stage),
                 f" {table}" if table else "")
