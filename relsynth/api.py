"""The library's front door: inspect, fit, sample, write, clone.

Each function is one stage (or a chain of them) of::

    source ─► schema ─► plan ─► fit ─► model ─► sample ─► write ─► verify

and takes plain values, so an ETL job can enter at any stage: ``fit`` once, ``Model.save``,
then ``load`` and ``Model.sample`` as often as needed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from relsynth.errors import ConfigError, SourceError
from relsynth.evaluate.metrics import TableScores, fidelity_summary
from relsynth.models.relational import Model, fit_model, load_model
from relsynth.plan import Plan, make_plan
from relsynth.sampling.relational import check_scale, check_seed
from relsynth.schema import mask_url, read_schema, read_tables, schema_from_dataframes
from relsynth.schema.model import Schema
from relsynth.sinks import IfExists, verify_integrity
from relsynth.sinks.integrity import dangling_references
from relsynth.sinks.sql import check_target
from relsynth.sinks import write as _write
from relsynth.subsample import FIT_ROWS, FitSample, key_columns, plan_sample
from relsynth.urls import same_database

__all__ = ["Inspection", "CloneResult", "inspect", "fit", "load", "write", "clone"]

log = logging.getLogger("relsynth")

Source = str | sa.Engine | dict[str, pd.DataFrame]


@dataclass
class Inspection:
    """What ``relsynth inspect`` shows: the schema, the plan derived from it, and the source's integrity.

    Attributes:
        schema: Tables, columns, keys and row counts.
        plan: The generation plan (order, driver FKs, cycles).
        dangling: Per table with foreign keys, per FK label, the source rows whose non-NULL FK
            matches no parent row (None when not checked).
    """

    schema: Schema
    plan: Plan
    dangling: dict[str, dict[str, int]] | None = None

    @property
    def dangling_rows(self) -> int:
        """Source rows pointing at no parent row, summed over every FK (0 when not checked)."""
        return sum(n for fks in (self.dangling or {}).values() for n in fks.values())

    def to_dict(self) -> dict[str, Any]:
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
                "source_integrity": integrity}


@dataclass
class CloneResult:
    """The outcome of :func:`clone`: rows written, timings, integrity and fidelity."""

    rows_source: dict[str, int]
    rows_written: dict[str, int]
    seconds: dict[str, float]
    integrity: dict[str, dict[str, int]]
    fidelity: dict[str, TableScores]
    notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        """Total integrity violations found in the target (0 when every constraint holds)."""
        return sum(v for t in self.integrity.values() for k, v in t.items() if k != "rows")


def _load_source(source: Source, schema: Schema | None, include: list[str] | None,
                 exclude: list[str] | None, fit_rows: int = FIT_ROWS,
                 ) -> tuple[Schema, dict[str, pd.DataFrame], FitSample | None]:
    """The schema and the rows to fit on: all of them, or where a table has more than
    ``fit_rows`` (0: no limit) an FK-consistent sample read in chunks (:mod:`relsynth.subsample`)."""
    if fit_rows < 0:
        raise ConfigError(f"fit_rows must be 0 (no limit) or a positive number of rows, got {fit_rows}; "
                          "use e.g. --fit-rows 100000")
    if isinstance(source, dict):
        if schema is None:
            schema = schema_from_dataframes(source)
        schema = schema.select(include, exclude)
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
    source: str | sa.Engine,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    integrity: bool = True,
) -> Inspection:
    """Read a database's schema and make the generation plan (no rows are loaded, only counted).

    Args:
        source: A SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://…``, ``mysql://…``) or engine.
        include: Only these tables.
        exclude: All tables but these.
        integrity: Also count, per foreign key, the rows that point at no parent row (one
            read-only anti-join query per FK; ``False`` skips it on very large sources).
    """
    schema = read_schema(source, include=include, exclude=exclude)
    dangling = dangling_references(source, schema) if integrity else None
    return Inspection(schema, make_plan(schema), dangling)


def fit(
    source: Source,
    *,
    schema: Schema | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    seed: int = 0,
    fit_rows: int = FIT_ROWS,
) -> Model:
    """Learn a model of a database.

    Args:
        source: A database URL or engine, or a dict of DataFrames (then ``schema`` describes keys;
            without it the schema is inferred from dtypes and has no keys).
        schema: The schema to use instead of reading it from the source.
        include: Only these tables (every FK must stay inside the selection).
        exclude: All tables but these.
        seed: Seed of the fit's own randomness.
        fit_rows: A table with more rows is fitted on an FK-consistent sample of about this
            many (children kept with their parent rows; counts and keys from all rows), read
            in chunks so memory stays bounded; 0 fits on every row.

    Returns:
        A :class:`~relsynth.models.relational.Model`; ``model.sample(scale, seed)`` draws data,
        ``model.save(path)`` stores it.
    """
    check_seed(seed)
    schema, frames, sample = _load_source(source, schema, include, exclude, fit_rows)
    if not schema.tables:
        raise SourceError("the source has no tables to learn from; check the URL or the include/exclude lists")
    return fit_model(schema, frames, seed=seed, sample=sample)


def load(path: str | Path) -> Model:
    """Load a model saved with ``Model.save`` (JSON + numpy arrays; no code is ever run)."""
    return load_model(path)


def write(
    tables: dict[str, pd.DataFrame],
    target: str | sa.Engine,
    schema: Schema,
    if_exists: IfExists = "fail",
) -> dict[str, int]:
    """Create the schema's tables in ``target`` (any supported dialect) and bulk-load ``tables``.

    Keys and constraints are enforced by the target; a failed load leaves the target as it was
    (or, on MySQL/MariaDB whose DDL is not transactional, drops what it created).
    """
    return _write(tables, target, schema, if_exists=if_exists, order=make_plan(schema).order)


def clone(
    source: str | sa.Engine,
    target: str | sa.Engine,
    *,
    scale: float = 1.0,
    seed: int | None = None,
    if_exists: IfExists = "fail",
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    fit_rows: int = FIT_ROWS,
) -> CloneResult:
    """Read ``source``, learn it, sample a synthetic copy and write it to ``target``.

    Args:
        source: URL or engine of the real database (only read, never written).
        target: URL or engine of the database to create the copy in.
        scale: Multiplies the number of rows (children follow their parents).
        seed: Same seed, same synthetic data.
        if_exists: What to do when ``target`` already has the tables: ``fail`` (default),
            ``truncate``, ``append`` or ``replace``.
        include: Only these tables.
        exclude: All tables but these.
        fit_rows: Tables with more rows are learned from an FK-consistent sample of about this
            many (see :func:`fit`); 0 learns from every row.

    Returns:
        A :class:`CloneResult` with rows per table, timings, target integrity and fidelity scores.
    """
    if if_exists not in ("fail", "truncate", "append", "replace"):
        raise ConfigError(f"if_exists must be fail, truncate, append or replace, got {if_exists!r}")
    check_scale(scale)
    check_seed(seed)
    if same_database(source, target):
        raise ConfigError(f"target {mask_url(target)} is the source database {mask_url(source)}; "
                          "choose another target")
    check_target(target)  # a wrong password or host fails now, not after the read and fit
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    schema, frames, sample = _load_source(source, None, include, exclude, fit_rows)
    if not schema.tables:
        raise SourceError("the source has no tables to clone; check the URL or the include/exclude lists")
    seconds["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = fit_model(schema, frames, seed=0, sample=sample)
    seconds["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    synthetic = model.sample(scale=scale, seed=seed)
    seconds["sample"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    written = write(synthetic, target, schema, if_exists=if_exists)
    seconds["write"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    integrity = verify_integrity(target, schema)
    seconds["verify"] = time.perf_counter() - t0
    fidelity = fidelity_summary(schema, frames, synthetic, real_keys=sample.keys if sample else None)
    return CloneResult(
        rows_source=sample.rows if sample else {n: len(f) for n, f in frames.items()},
        rows_written=written,
        seconds=seconds,
        integrity=integrity,
        fidelity=fidelity,
        notes=list(model.notes),
    )
