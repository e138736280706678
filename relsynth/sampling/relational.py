"""The relational sampler: parent-first generation where every FK points at a synthetic parent.

For each table in plan order:

1. rows: tables without a driver FK get ``scale × source rows``; a child gets, for each synthetic
   parent row, the children-per-row count decoded from the parent's own copula draw, plus rows
   without a parent at the source's rate; a table with its own ``scale`` (per-table options)
   gets ``its scale × source rows`` either way, shared out over its parents by those counts;
2. values: the child's copula is drawn conditioned on its parent's normal scores; per-column
   overrides (:mod:`relsynth.sampling.overrides`) are applied to the decoded values;
3. keys: new primary keys; the driver FK copies the parent's key; secondary FKs are assigned to
   existing parents following each parent's degree distribution; self-references form a forest;
4. CHECK constraints are enforced, and rows equal to a source row avoided (``Model.row_fingerprints``):
   rows that break one or fall on a source row's fingerprint get fresh values under the same parent;
5. personal columns linked to an earlier table's (``Model.pii_links``: the same person's email in
   two tables without an FK between them) take that share of their rows from the earlier
   table's synthetic rows, every linked column from the same row (after the copy redraws of
   step 4, before keys are set);
6. UNIQUE sets (the primary key included) are enforced: colliding learned names get unused
   ones, colliding FK draws are redrawn, and the rows so changed are checked against step 4's
   rules again; rows that still collide are dropped before any child is generated under them
   (and, for all steps, before the table's self-references are drawn, so no row points at a
   dropped one).

FKs cut to break a cycle are filled after every table exists.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from relsynth.blas import one_blas_thread
from relsynth.config import TableOptions, parse_tables, require_valid
from relsynth.errors import ConfigError
from relsynth.models.conditioning import LatentBounds, TableTarget, known_row_bounds, rows_of
from relsynth.models.copula import TableModel, from_number
from relsynth.models.relational import FKStats, Model, fk_key
from relsynth.sampling.overrides import apply_overrides
from relsynth.schema.checks import CheckRule, compile_checks
from relsynth.schema.frames import coerce_frame, numeric_values
from relsynth.schema.model import Column, ForeignKey, Schema, Table
from relsynth.transform.copies import NotACopy
from relsynth.transform.encoders import CategoricalEncoder, TextGenerator, UuidGenerator
from relsynth.transform.keys import (
    adjust_total,
    assign_parents,
    match_rows,
    null_any,
    pair_by_attribute,
    permuted,
    take_keys,
)
from relsynth.transform.pii import PiiLink, PoolCache
from relsynth.transform.trees import grow_forest, random_forest

__all__ = ["PARTITION_ROWS", "Partition", "SampleStream", "generate_partition", "check_scale", "check_seed", "collect", "sample_model"]

log = logging.getLogger("relsynth")

#: Attempts at redrawing rows that break a CHECK, or FK values that collide on a UNIQUE set,
#: before dropping the rows.
_REDRAWS = 25
#: Candidates drawn at once for each row redrawn for breaking a rule, where at most
#: :data:`SPARE_ROWS` rows are: a redraw costs ~5-10 ms however few its rows (the demo's lab
#: results: 411 rows, then the 5 of them whose new values broke a rule again), so a spare
#: candidate for each makes the second round rare; beyond that many rows the spares would
#: cost more than the round they save.
SPARE_DRAWS = 2
SPARE_ROWS = 2048

#: Tables up to this many rows are stratified again after rows were redrawn (a redrawn one of 8
#: departments would otherwise leave a floor twice and another never); in larger tables the
#: few redrawn rows move the marginals by less than a row in a thousand.
RESTRATIFY_ROWS = 1_000

#: Output rows per partition when a synthetic database is generated in pieces (:class:`SampleStream`).
#: Small enough that the writer loads one partition while the next is drawn (the target's types
#: are chosen from the first: TPC-H SF 0.1 into SQLite went from 20.7 s to 17.7 s, against
#: 500,000) and memory stays low; large enough that the per-partition work stays a few percent.
PARTITION_ROWS = 100_000
#: Rows of each streamed table that :attr:`SampleStream.summary` keeps (whole partitions, first
#: ones first) for the fidelity summary, which scores up to 20,000 rows of a table.
SUMMARY_ROWS = 20_000

#: A table whose child table is conditioned draws this many times its rows, and keeps the ones
#: most likely to have children meeting the condition (see ``_Generator._choose_parents``) ...
PARENT_POOL = 4
#: ... judged by this many child draws under each row (at least; more for few parent rows, up
#: to :data:`PROBE_ROWS` draws in all, so a condition met by one child in a thousand is seen).
CHILD_PROBES = 16
PROBE_ROWS = 50_000


def check_scale(scale: float) -> float:
    """Return ``scale`` as a float, or raise ConfigError unless it is a finite positive number."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ConfigError(f"scale must be a number, got {scale!r}; use e.g. --scale 2 or scale=0.5") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"scale must be a positive number, got {scale!r}; use e.g. --scale 2 or scale=0.5")
    return value


def check_seed(seed: int | None) -> int | None:
    """Return ``seed`` as an int (None stays None), or raise ConfigError unless it is 0 … 2**63 − 1."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise ConfigError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed!r}; use e.g. --seed 7")
    return int(seed)


def sample_model(model: Model, scale: float = 1.0, seed: int | None = None,
                 tables: Mapping[str, Any] | None = None,
                 parents: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Draw a synthetic database from ``model`` (see :meth:`relsynth.models.relational.Model.sample`)."""
    stream = SampleStream(model, scale=scale, seed=seed, partition_rows=None, tables=tables, parents=parents)
    return collect(stream, list(model.schema.tables))


def collect(pieces: Iterable[tuple[str, pd.DataFrame]], names: list[str]) -> dict[str, pd.DataFrame]:
    """A stream's ``(table, frame)`` pieces as one frame per table, in the order of ``names``
    (tables without a piece are left out)."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for name, frame in pieces:
        parts.setdefault(name, []).append(frame)
    return {name: parts[name][0] if len(parts[name]) == 1 else pd.concat(parts[name], ignore_index=True)
            for name in names if name in parts}


class SampleStream:
    """A synthetic database drawn piece by piece, so memory follows the partition, not the output.

    Iterating yields ``(table, frame)`` pieces, parents before their children. Tables that other
    rows reach through something other than their driver FK (a secondary FK's parent, a cycle,
    a self-referencing tree), or whose UNIQUE sets could collide across partitions, are
    *materialized*: generated whole, first, and kept for lookups. The others are *streamed*: the
    rows of each entry table (one without a driver, or whose driver parent is materialized) are
    cut into partitions of whole parent families of about ``partition_rows`` output rows with
    their descendants, and each partition is generated, yielded and dropped before the next.
    Partitions are independent (:meth:`partition_plan`, :func:`generate_partition`): the same
    ones are drawn as Dask tasks by :mod:`relsynth.distributed`. With ``partition_rows=None`` (or an output smaller than one partition) every table is
    materialized and the pieces are exactly :meth:`Model.sample`'s tables.

    Targeted generation (per-table ``condition`` / ``rebalance`` options, ``parents``): rows of
    a targeted table are drawn from the copula conditioned on the target (every partition
    holds it), and neither they nor their descendants are stratified or brought to the
    source's children-per-parent totals: the children follow their conditioned parents. With
    ``parents`` (``{table: rows}``), those tables are taken as given and only they and the
    tables below them (through driver FKs) are generated, every table whole. A condition on a
    child table chooses its driver parent's rows (``_Generator._choose_parents``), or, for a
    parent that cannot be drawn from a larger pool (``_poolable``), shares the children out
    over the parent's rows by how many meeting the condition each can have.

    Attributes:
        materialized: Tables generated whole.
        summary: After iterating: the materialized tables and, of each streamed one, its first
            partitions up to :data:`SUMMARY_ROWS` rows (a sample of the output for a fidelity summary).
        partial: Tables of which ``summary`` holds only some of the partitions.
        partitions: Partitions generated.
    """

    def __init__(self, model: Model, scale: float = 1.0, seed: int | None = None,
                 partition_rows: int | None = PARTITION_ROWS, tables: Mapping[str, Any] | None = None,
                 parents: Mapping[str, pd.DataFrame] | None = None) -> None:
        self.model = model
        self.scale = check_scale(scale)
        seed = check_seed(seed)
        self.options: dict[str, TableOptions] = parse_tables(tables)
        require_valid(model.schema, self.options)
        self.seed = int(np.random.default_rng().integers(0, 2**31 - 1)) if seed is None else int(seed)
        self.plan = model.plan
        for name, options in self.options.items():
            if options.size and not model.tables[name].n_rows:
                raise ConfigError(f"tables.{name}.size: {name} had no rows to learn from, so it cannot get "
                                  f"{options.size}; leave its size out")
        self.supplied = _supplied(model, parents)
        self.generated = _generated(model, self.plan, set(self.supplied))
        self.targets = {name: TableTarget(model.tables[name], model.schema.tables[name],
                                          list(o.condition.values()), o.rebalance)
                        for name, o in self.options.items() if o.targeted and name in self.generated}
        self.tilted = _tilted(self.plan, self.targets, set(self.supplied))
        self.pooled = {name for name in self.tilted if _poolable(model.tables[name], model.schema.tables[name])}
        self.targeted = _descendants(self.plan, set(self.targets) | set(self.supplied) | self.pooled)
        expected = self.expected_rows()
        if partition_rows is not None and partition_rows <= 0:
            raise ConfigError(f"partition_rows must be a positive number of rows, got {partition_rows}")
        whole = partition_rows is None or sum(expected.values()) <= partition_rows or bool(self.supplied)
        self.partition_rows = partition_rows
        self.materialized = set(self.generated) if whole else _materialized(model, self.plan) & self.generated
        self.summary: dict[str, pd.DataFrame] = {}
        self.partial: set[str] = set()
        self.partitions = 0

    def key_bounds(self) -> dict[tuple[str, str], int]:
        """An upper bound of the integer keys streamed tables will get, for the target's types
        (their first piece is all a writer sees before creating the tables)."""
        bounds = {}
        expected = self.expected_rows()
        for name in self.model.schema.tables:
            if name in self.materialized:
                continue
            n = expected[name] * 1.25 + (self.partition_rows or 0)
            for cm in self.model.tables[name].columns:
                if cm.role == "key" and cm.kind == "integer":
                    bounds[(name, cm.name)] = int(cm.key_start + n)
        return bounds

    def expected_rows(self) -> dict[str, int]:
        """Rows each table is expected to get: a table without a driver ``scale`` × its rows, a
        child its parent's times the children per parent row it was fitted on."""
        expected: dict[str, float] = {}
        for name in self.plan.order:
            tm = self.model.tables[name]
            driver = self.plan.tables[name].driver
            own_scale = _own_scale(tm, self.options.get(name))
            if name in self.supplied:
                expected[name] = len(self.supplied[name])
            elif own_scale is not None:
                expected[name] = tm.n_rows * own_scale
            elif driver is None or not tm.n_parent_rows:
                expected[name] = tm.n_rows * self.scale
            else:
                expected[name] = expected[driver.ref_table] * tm.n_rows / tm.n_parent_rows
        return {n: int(round(v)) for n, v in expected.items()}

    def __iter__(self) -> Iterator[tuple[str, pd.DataFrame]]:
        gen, pieces = self.materialize(lazily=True)
        for name, frame in pieces:
            self.summary[name] = frame
            yield name, frame
        parts = self.partition_plan(gen)
        independent = self.independent
        keys: dict[str, int] = {}
        slots: dict[str, int] = {}
        for part in parts:
            if not independent:  # numbered on from the partitions before (see partition_plan)
                part = part.starting_at((keys, slots))
            pieces, (key_ends, slot_ends) = generate_partition(gen, part)
            keys.update(key_ends)
            slots.update(slot_ends)
            self.record(part, pieces)
            yield from pieces

    def materialize(self, lazily: bool = False) -> tuple[_Generator, Iterable[tuple[str, pd.DataFrame]]]:
        """Generate the materialized tables (cycle-breaking FKs filled); the generator holding
        them for the partitions, and their frames (parents first).

        ``lazily``: where no cycle-breaking FK is to be filled, the frames come as an iterator
        that draws each table as it is taken (the same data), so a writer can load the first
        while the next is drawn; the generator holds them all once it is exhausted."""
        model, plan, schema = self.model, self.plan, self.model.schema
        gen = _Generator(model, self.scale, self.seed, self.materialized, self.expected_rows(), self.options,
                         self.targets, self.targeted, self.supplied, self.tilted, self.pooled)
        order = [n for n in plan.order if n in self.materialized]

        def draw(name: str) -> None:
            rng = np.random.default_rng([self.seed, plan.order.index(name)])
            rows = gen.parent_rows(name, rng)
            gen.generate(name, *rows, rng)

        def drawn() -> Iterator[tuple[str, pd.DataFrame]]:
            for name in order:
                draw(name)
                yield name, _finalize(gen.frames[name], schema.tables[name])

        if lazily and not any(plan.tables[name].deferred for name in order):
            return gen, drawn()
        for name in order:
            draw(name)
        for name in order:
            for fk in plan.tables[name].deferred:
                rng = np.random.default_rng([self.seed, len(plan.order), schema.tables[name].fk_index(fk)])
                _fill_fk(gen.frames[name], schema.tables[name], fk, gen.frames[fk.ref_table],
                         model.fk_stats[fk_key(name, schema, fk)], rng)
        return gen, [(name, _finalize(gen.frames[name], schema.tables[name])) for name in order]

    @property
    def independent(self) -> bool:
        """Whether every partition's key range and secondary-FK slots are known before any is
        generated (:meth:`partition_plan`), so partitions can run anywhere in any order.

        Not under targeted generation whose streamed children follow a targeted parent without
        a size of their own (their number is whatever the conditioned parents' counts say, with
        no bound to reserve keys by): such partitions are numbered on one after the other."""
        return not any(self.plan.tables[name].driver.ref_table in self.targeted
                       and _own_scale(self.model.tables[name], self.options.get(name)) is None
                       for name in self._streamed() if name not in self._entries())

    def partition_plan(self, gen: _Generator) -> list[Partition]:
        """Every partition of the streamed tables, in output order, after :meth:`materialize`.

        The rows of each entry table (one without a driver, or whose driver parent is
        materialized) are cut into partitions of whole parent families (:func:`_partitions`).
        A partition's rows per table are bounded before it is generated: the entry table's are
        its rows, a child's follow from its parent's bound by the totals its children counts are
        brought to (:meth:`_Generator.child_rows`), and rows dropped by CHECK or UNIQUE repair
        only make them fewer. Prefix sums of these bounds give each partition its own key range
        and its own slice of each secondary FK's slot pool (:class:`_SlotPool`), so no two
        partitions can collide and each can be generated alone (:func:`generate_partition`)
        with its own seed (``[seed, table position, partition]``). Where :attr:`independent`
        is False the ranges are left empty, and filled from what the earlier partitions used.
        """
        schema = self.model.schema
        children = self._children()
        parts: list[Partition] = []
        for name in self._entries():
            position = self.plan.order.index(name)
            linked, n_free = gen.parent_rows(name, np.random.default_rng([self.seed, position]))
            per_part = max(1, int(self.partition_rows / self._family_rows(name, children)))
            for k, (rows, free) in enumerate(_partitions(linked, n_free, per_part)):
                parts.append(Partition(name, k, rows, free, self._family(name, children)))
        if not self.independent:
            gen.slots = {key: _SlotPool(stats, n, total, rng) for key, (stats, n, total, rng) in self._pools(gen).items()}
            return parts
        key_next: dict[str, int] = {}
        slot_next: dict[str, int] = {}
        for part in parts:
            bound = {part.entry: part.linked.size + part.n_free}
            for table in part.tables[1:]:
                bound[table] = sum(gen.child_rows(table, bound[self.plan.tables[table].driver.ref_table]))
            for table in part.tables:
                part.key_starts[table] = key_next.get(table, 0)
                key_next[table] = part.key_starts[table] + bound[table] * (PARENT_POOL if table in self.pooled else 1)
                for fk in self.plan.tables[table].secondary:
                    key = fk_key(table, schema, fk)
                    part.slot_starts[key] = slot_next.get(key, 0)
                    slot_next[key] = part.slot_starts[key] + _slot_share(bound[table], self._null_rate(table, fk))
        gen.slots = {key: _SlotPool(stats, n, slot_next.get(key, 0), rng)
                     for key, (stats, n, _, rng) in self._pools(gen).items()}
        return parts

    def record(self, part: Partition, pieces: list[tuple[str, pd.DataFrame | None]]) -> None:
        """Note a generated partition (in partition order): its frames go to :attr:`summary`
        until a table has :data:`SUMMARY_ROWS` rows there; a table with frames left out (or
        not handed over: ``None``) is :attr:`partial`."""
        for name, frame in pieces:
            kept = self.summary.get(name)
            if frame is None or (kept is not None and len(kept) >= SUMMARY_ROWS):
                self.partial.add(name)
            else:
                self.summary[name] = frame if kept is None else pd.concat([kept, frame], ignore_index=True)
        self.partitions += 1

    def _pools(self, gen: _Generator) -> dict[str, tuple[FKStats, int, int, np.random.Generator]]:
        """Per secondary FK of a streamed table: its stats, its parent's rows, the slots the
        table is expected to fill, and the pool's own generator."""
        schema, out = self.model.schema, {}
        expected = self.expected_rows()
        for table in self._streamed():
            for fk in self.plan.tables[table].secondary:
                key = fk_key(table, schema, fk)
                rng = np.random.default_rng([self.seed, len(self.plan.order) + 1, self.plan.order.index(table),
                                             schema.tables[table].fk_index(fk)])
                total = int(round(expected[table] * (1 - self._null_rate(table, fk))))
                out[key] = (self.model.fk_stats[key], len(gen.frames[fk.ref_table]), total, rng)
        return out

    def _null_rate(self, table: str, fk: ForeignKey) -> float:
        stats = self.model.fk_stats[fk_key(table, self.model.schema, fk)]
        return stats.null_rate if self.model.schema.tables[table].fk_nullable(fk) else 0.0

    def _streamed(self) -> list[str]:
        return [n for n in self.plan.order if n not in self.materialized and n in self.generated]

    def _entries(self) -> list[str]:
        """Streamed tables without a driver, or whose driver parent is materialized."""
        return [n for n in self._streamed()
                if self.plan.tables[n].driver is None or self.plan.tables[n].driver.ref_table in self.materialized]

    def _children(self) -> dict[str, list[str]]:
        """Each streamed table's streamed children through their driver FK."""
        children: dict[str, list[str]] = {n: [] for n in self._streamed()}
        for name in self._streamed():
            driver = self.plan.tables[name].driver
            if driver is not None and driver.ref_table in children:
                children[driver.ref_table].append(name)
        return children

    def _family(self, name: str, children: dict[str, list[str]]) -> list[str]:
        """``name`` and its streamed descendants, each after its parent (the order they are generated in)."""
        family, queue = [name], list(children[name])
        while queue:
            child = queue.pop(0)
            family.append(child)
            queue.extend(children[child])
        return family

    def _family_rows(self, name: str, children: dict[str, list[str]]) -> float:
        """Expected output rows per row of ``name``: itself and every streamed descendant."""
        expected = self.expected_rows()
        family, queue = 0, [name]
        while queue:
            table = queue.pop()
            family += expected[table]
            queue.extend(children[table])
        return max(family / max(expected[name], 1), 1.0)


@dataclass
class Partition:
    """One partition of a streamed entry table with its streamed descendants.

    Attributes:
        entry: The entry table.
        index: The partition's number among the entry table's (part of its seed).
        linked: For each of its entry rows with a parent, the parent's row in the materialized
            driver parent (children of one parent adjacent).
        n_free: Entry rows without a parent.
        tables: The entry table and its streamed descendants, each after its parent.
        key_starts: Per table, how many keys past the model's first key its keys start.
        slot_starts: Per secondary FK (``fk_key``), where its rows' slots start in the FK's pool.
    """

    entry: str
    index: int
    linked: np.ndarray
    n_free: int
    tables: list[str]
    key_starts: dict[str, int] = field(default_factory=dict)
    slot_starts: dict[str, int] = field(default_factory=dict)

    def starting_at(self, ends: tuple[dict[str, int], dict[str, int]]) -> Partition:
        """This partition numbered on where earlier ones ended (``ends`` from :func:`generate_partition`)."""
        return replace(self, key_starts=dict(ends[0]), slot_starts=dict(ends[1]))


def generate_partition(gen: _Generator, part: Partition
                       ) -> tuple[list[tuple[str, pd.DataFrame]], tuple[dict[str, int], dict[str, int]]]:
    """Generate one partition: a pure function of the materialized tables in ``gen`` and ``part``
    (its rows, seeds, key ranges and slot slices), so it gives the same frames in this process
    or on any Dask worker. Returns the ``(table, frame)`` pieces, parents first, and where each
    table's keys and each secondary FK's slots ended (what the next partition starts from when
    the partitions are not :attr:`SampleStream.independent`)."""
    work = gen.fork(part)
    seed, order = gen.seed, gen.plan.order
    entry_rng = np.random.default_rng([seed, order.index(part.entry), part.index])
    work.generate(part.entry, part.linked, part.n_free, entry_rng)
    for child in part.tables[1:]:
        rng = np.random.default_rng([seed, order.index(child), part.index])
        work.generate(child, *work.parent_rows(child, rng), rng)
    pieces = [(name, _finalize(work.frames[name], gen.schema.tables[name])) for name in part.tables]
    slot_ends = {key: cursor.start + cursor.used for key, cursor in work.cursors.items()}
    return pieces, (dict(work.key_offset), slot_ends)


def _slot_share(rows: int, null_rate: float) -> int:
    """Slots reserved for a partition of at most ``rows`` rows of which each gets a parent with
    probability 1 − ``null_rate``: the expected number plus four standard deviations (a
    partition needing more draws the rest from the degrees, see :class:`_SlotPool`)."""
    live = rows * (1 - null_rate)
    return int(min(rows, np.ceil(live + 4 * np.sqrt(live * null_rate) + 1)))


def _own_scale(tm: TableModel, options: TableOptions | None) -> float | None:
    """A table's own scale: its ``scale``, or its ``size`` as a multiple of its source rows."""
    if options is None:
        return None
    if options.size is not None and tm.n_rows:
        return options.size / tm.n_rows
    return options.scale


def _supplied(model: Model, parents: Mapping[str, pd.DataFrame] | None) -> dict[str, pd.DataFrame]:
    """The user's parent rows in the frame convention, checked against the schema."""
    out = {}
    for name, rows in (parents or {}).items():
        if name not in model.schema.tables:
            from relsynth.errors import did_you_mean

            raise ConfigError(f"parents: no table {name!r}{did_you_mean(name, list(model.schema.tables))}; "
                              "give rows of a table of the model")
        if not isinstance(rows, pd.DataFrame):
            raise ConfigError(f"parents.{name} must be a pandas DataFrame of {name}'s rows, got {type(rows).__name__}")
        table = model.schema.tables[name]
        frame = coerce_frame(rows, table)
        for columns in [list(table.primary_key)] + [list(u) for u in table.unique_sets if u]:
            if columns and frame.duplicated(columns).any():
                raise ConfigError(f"parents.{name}: rows repeat ({', '.join(columns)}); each parent row needs its own key")
        out[name] = frame
    return out


def _generated(model: Model, plan, supplied: set[str]) -> set[str]:  # noqa: ANN001 - relsynth.plan.Plan
    """Tables to generate: every one, or with supplied parents those and the tables below them."""
    if not supplied:
        return set(model.schema.tables)
    out = _descendants(plan, supplied)
    for name in out - supplied:
        for fk in model.schema.tables[name].foreign_keys:
            if fk.ref_table not in out:
                raise ConfigError(f"parents: {name} refers to {fk.ref_table}, which is neither supplied nor "
                                  f"generated under {', '.join(sorted(supplied))}; supply {fk.ref_table}'s rows too "
                                  f"(parents={{{fk.ref_table!r}: ...}})")
    return out


def _tilted(plan, targets: dict[str, TableTarget], supplied: set[str]) -> dict[str, list[str]]:  # noqa: ANN001
    """Parents chosen for their conditioned children: ``{parent: [child, ...]}`` for every table
    with a condition whose driver parent is generated (not supplied)."""
    out: dict[str, list[str]] = {}
    for name, target in targets.items():
        driver = plan.tables[name].driver
        if target.conditions and driver is not None and driver.ref_table not in supplied:
            out.setdefault(driver.ref_table, []).append(name)
    return out


def _poolable(tm: TableModel, table: Table) -> bool:
    """Whether parent rows may be chosen from a larger pool: not where a UNIQUE set holds only
    learned values (a pool of 8 department names × 4 would repeat them, and the repeats get
    invented names); such a parent keeps its rows, and its conditioned children are shared out
    over them by how many each row can have (see ``_Generator.parent_rows``)."""
    generated = {cm.name for cm in tm.columns if cm.role in ("key", "uuid")}
    return all(set(columns) & generated for columns in table.unique_sets)


def _descendants(plan, roots: set[str]) -> set[str]:  # noqa: ANN001 - relsynth.plan.Plan
    """``roots`` and every table below them through driver FKs."""
    out = set(roots)
    for name in plan.order:  # parents come first
        driver = plan.tables[name].driver
        if driver is not None and driver.ref_table in out:
            out.add(name)
    return out


def _materialized(model: Model, plan) -> set[str]:  # noqa: ANN001 - relsynth.plan.Plan
    """Tables that must be generated whole (see :class:`SampleStream`)."""
    schema = model.schema
    whole: set[str] = set()
    for name, tp in plan.tables.items():
        table = schema.tables[name]
        for fk in tp.secondary + tp.deferred:
            whole.add(fk.ref_table)
        if tp.deferred or tp.self_refs:
            whole.add(name)
        driver_cols = set(tp.driver.columns) if tp.driver else set()
        keys = {cm.name: cm for cm in model.tables[name].columns if cm.role == "key"}
        for columns in table.unique_sets:
            if driver_cols and driver_cols <= set(columns):
                continue  # a parent's children are all in one partition
            if len(columns) == 1 and columns[0] in keys and _sequence_key(keys[columns[0]]):
                continue  # each partition has its own range (SampleStream.partition_plan), or random UUIDs
            whole.add(name)
    # A table whose personal values other tables draw from: they draw from all of its rows.
    whole |= {link.source_table for link in model.pii_links}
    changed = True
    while changed:  # a materialized table's driver parent is materialized too
        changed = False
        for name in list(whole):
            driver = plan.tables[name].driver
            if driver is not None and driver.ref_table not in whole:
                whole.add(driver.ref_table)
                changed = True
    return whole


def _sequence_key(cm) -> bool:  # noqa: ANN001 - ColumnModel
    return cm.key_scope == "global" and not isinstance(cm.generator, TextGenerator)


def _partitions(linked: np.ndarray, n_free: int, per_part: int) -> Iterator[tuple[np.ndarray, int]]:
    """Cut parent rows (one per child, grouped by parent) into runs of about ``per_part`` rows
    that never split a parent's children, and share ``n_free`` parentless rows among them."""
    n = linked.size
    if n:
        starts = np.flatnonzero(np.r_[True, linked[1:] != linked[:-1]])
        wanted = np.arange(per_part, n, per_part)
        cuts = np.unique(starts[np.minimum(np.searchsorted(starts, wanted), starts.size - 1)])
        cuts = cuts[cuts > 0]
        bounds = np.r_[0, cuts, n]
    else:
        bounds = np.r_[0, 0]
    n_parts = max(bounds.size - 1, int(np.ceil(n_free / per_part)) if not n else 1)
    if n and n_parts > bounds.size - 1:
        n_parts = bounds.size - 1
    free = np.diff(np.linspace(0, n_free, n_parts + 1).round().astype(np.int64))
    for k in range(n_parts):
        if n:
            yield linked[bounds[k]:bounds[k + 1]], int(free[k])
        else:
            yield linked[:0], int(free[k])


class _Generator:
    """The per-table generation step, over the tables generated so far (``frames``/``scores``)."""

    def __init__(self, model: Model, scale: float, seed: int, materialized: set[str], expected: dict[str, int],
                 options: dict[str, TableOptions], targets: dict[str, TableTarget] | None = None,
                 targeted: set[str] | None = None, supplied: dict[str, pd.DataFrame] | None = None,
                 tilted: dict[str, list[str]] | None = None, pooled: set[str] | None = None) -> None:
        self.model, self.scale, self.seed, self.materialized = model, scale, seed, materialized
        self.expected, self.options = expected, options
        self.targets, self.targeted, self.supplied = targets or {}, targeted or set(), supplied or {}
        self.tilted, self.pooled = tilted or {}, pooled or set()
        #: Per conditioned child table: the share of its draws under each parent row that
        #: satisfy its condition (see :meth:`_child_shares`).
        self.child_share: dict[str, np.ndarray] = {}
        #: Per secondary FK of a streamed table, its slot pool (set by ``SampleStream.partition_plan``) ...
        self.slots: dict[str, _SlotPool] = {}
        #: ... and, in a partition's generator (:meth:`fork`), where the partition takes from it.
        self.cursors: dict[str, _SlotCursor] = {}
        self.schema = model.schema
        self.plan = model.plan
        self.frames: dict[str, pd.DataFrame] = {}
        self.scores: dict[str, np.ndarray] = {}
        self.key_offset: dict[str, int] = {}
        #: Per (table, column) of a streamed table, its Faker pools, shared by the partitions
        #: (:meth:`fork` copies the reference) and made once (:meth:`_pools`).
        self.pii_pools: dict[tuple[str, str], PoolCache] = {}
        #: Per table, its personal columns drawn from an earlier table's synthetic rows (but
        #: those the user's column options set).
        self.links: dict[str, PiiLink] = {}
        for link in model.pii_links:
            own = options.get(link.table)
            overridden = {c for c, o in own.columns.items() if o.active} if own is not None else set()
            kept = [i for i, c in enumerate(link.columns) if c not in overridden]
            if kept and kept[0] == 0:
                self.links[link.table] = PiiLink(link.table, [link.columns[i] for i in kept], link.source_table,
                                                 [link.source_columns[i] for i in kept], link.share)
        #: Per table, the row rules enforced by redrawing: CHECK constraints, the ``rule`` overrides
        #: of its columns, and no copy of a source row.
        self.checks = {name: [r for r in compile_checks(t, self.schema.dialect)
                              + (options[name].rules(t) if name in options else [])
                              if r.enforceable and not _always_held(r, t, model.tables[name], options.get(name))]
                       + ([model.row_fingerprints[name].rule(t)] if name in model.row_fingerprints else [])
                       for name, t in self.schema.tables.items()}

    def fork(self, part: Partition) -> _Generator:
        """A generator for one partition: the materialized tables shared (read only), its own
        tables, key offsets, condition shares and slot cursors."""
        work = copy.copy(self)
        work.frames, work.scores, work.child_share = dict(self.frames), dict(self.scores), dict(self.child_share)
        work.key_offset = {table: part.key_starts.get(table, 0) for table in part.tables}
        work.cursors = {}
        for table in part.tables:
            position = self.plan.order.index(table)
            for fk in self.plan.tables[table].secondary:
                key = fk_key(table, self.schema, fk)
                rng = np.random.default_rng([self.seed, len(self.plan.order) + 2, position,
                                             self.schema.tables[table].fk_index(fk), part.index])
                work.cursors[key] = _SlotCursor(self.slots[key], part.slot_starts.get(key, 0), rng)
        return work

    def _pools(self, table: str, column: str) -> PoolCache:
        """The Faker pools of a streamed table's personal column, seeded by the stream's seed and
        the column's place (the same on every worker)."""
        key = (table, column)
        if key not in self.pii_pools:
            position = self.plan.order.index(table)
            index = self.schema.tables[table].column_names.index(column)
            self.pii_pools.setdefault(key, PoolCache([self.seed, len(self.plan.order) + 3, position, index]))
        return self.pii_pools[key]

    def child_rows(self, name: str, n_parent: int) -> tuple[int, int]:
        """Rows of the child table ``name`` with a parent and without one under ``n_parent`` rows
        of its driver parent: the totals :meth:`parent_rows` brings its children counts to."""
        tm = self.model.tables[name]
        own_scale = _own_scale(tm, self.options.get(name))
        ratio = n_parent / tm.n_parent_rows if tm.n_parent_rows else self.scale
        if own_scale is not None:
            # This table's own size, shared out over its parents' rows (a partition's share of it
            # when the parents come in partitions).
            parent = self.plan.tables[name].driver.ref_table
            ratio = own_scale if parent in self.materialized else own_scale * n_parent / max(self.expected[parent], 1)
        return int(round((tm.n_rows - tm.n_unparented) * ratio)), int(round(tm.n_unparented * ratio))

    def parent_rows(self, name: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """For each child row with a parent, the parent's row (children of one parent adjacent),
        and the number of rows without one. A table without a driver gets ``scale`` × its rows."""
        tm = self.model.tables[name]
        driver = self.plan.tables[name].driver
        own_scale = _own_scale(tm, self.options.get(name))
        if name in self.supplied:
            return np.zeros(0, dtype=np.int64), len(self.supplied[name])
        if driver is None:
            return np.zeros(0, dtype=np.int64), int(round(tm.n_rows * (self.scale if own_scale is None else own_scale)))
        parent = driver.ref_table
        ptm = self.model.tables[parent]
        pz = self.scores[parent]
        table = self.schema.tables[name]
        follow = parent in self.targeted  # children of targeted rows: as many as those rows have
        counts = ptm.decode_counts(ptm.count_dim(name, table.fk_index(driver)), pz, self.frames[parent],
                                   stratified=not follow)
        n_linked, n_free = self.child_rows(name, pz.shape[0])
        # Small parents (lookups) make the sum of sampled counts swing widely: bring it to the
        # expected total with the least change to each parent's count (not under targeted
        # parents, whose counts carry the target's shift, unless the table has its own size).
        if name in self.child_share:
            # A conditioned child: as many of the parent's children as satisfy the condition
            # (under parents chosen for having such children, at least one; under parents kept
            # whole, shared out by these numbers to the table's usual total below).
            counts = rng.binomial(counts, self.child_share[name])
            if parent in self.pooled:
                counts = np.maximum(counts, 1)
            elif not counts.any():  # too rare for the trial draws to tell the parents apart
                counts = ptm.decode_counts(ptm.count_dim(name, table.fk_index(driver)), pz, self.frames[parent])
        if not follow or own_scale is not None:
            counts = adjust_total(counts, n_linked, rng)
        return np.repeat(np.arange(pz.shape[0]), counts), n_free

    @one_blas_thread
    def generate(self, name: str, parent_rows: np.ndarray, n_free: int, rng: np.random.Generator) -> pd.DataFrame:
        """Generate ``name``'s rows under ``parent_rows`` (plus ``n_free`` without a parent), store
        them (and their normal scores) for the children, and return the frame."""
        model, schema, frames, scores = self.model, self.schema, self.frames, self.scores
        table = schema.tables[name]
        tm = model.tables[name]
        if name in self.supplied:
            return self._take_supplied(name, table, tm, rng)
        tp = self.plan.tables[name]
        driver = tp.driver
        parent_frame = None
        wanted = parent_rows.size + n_free
        if name in self.pooled:  # a pool to choose the parents of conditioned children from
            parent_rows, n_free = np.repeat(parent_rows, PARENT_POOL), n_free * PARENT_POOL
        target = self.targets.get(name)
        free = name not in self.targeted  # targeted draws keep their shifted marginals: no stratify
        even = tm.even if free else (lambda z: z)
        if driver is None:
            bounds, rule = target.bounds(n_free, rng) if target is not None else (None, None)
            z = even(tm.sample_scores(None, n_free, rng, bounds=bounds))
            rows = np.full(z.shape[0], -1, dtype=np.int64)
        else:
            parent = driver.ref_table
            ptm = model.tables[parent]
            pz = scores[parent]
            ctx_idx = [ptm.dims.index(d) for d in tm.context]
            rows = np.concatenate([parent_rows, np.full(n_free, -1, dtype=np.int64)])
            if n_free and not table.fk_nullable(driver):
                # The source had rows whose NOT NULL FK matched nothing: give them real parents.
                rows[rows < 0] = rng.integers(0, max(pz.shape[0], 1), size=n_free) if pz.shape[0] else -1
            parent_frame = _aligned(frames[parent], rows)
            bounds, rule = target.bounds(rows.size, rng, parent_frame) if target is not None else (None, None)
            z = even(tm.sample_scores(pz[parent_rows][:, ctx_idx], n_free, rng, parent_frame, bounds))
        pools = None if name in self.materialized else lambda column: self._pools(name, column)
        frame = tm.decode(table, z, rng, parent_frame, stratified=free, pools=pools)
        own = self.options.get(name)
        apply_overrides(frame, table, own, rng)
        checks = self.checks[name]
        if rule is not None:
            redraw = _Redraw(model, name, driver, frames, scores, rng, own, bounds)
            bad = _redraw_broken(frame, z, rows, [rule], redraw)
            if bad.sum() > max(1, 0.01 * bad.size):
                raise ConfigError(f"{name}: {int(bad.sum())} of {bad.size} rows still broke the condition after "
                                  f"{_REDRAWS} redraws ({target.describe()}); it is (nearly) impossible under the "
                                  "model: widen it or condition fewer columns")
            keep = ~bad
            frame, z, rows = frame[keep].reset_index(drop=True), z[keep], rows[keep]
            bounds, rule = rows_of(bounds, keep), rule.subset(keep)
            checks = checks + [rule]
        copies = None  # rows still equal to a source row after their redraws (each checked since)
        if name in model.row_fingerprints:
            # Rows equal to a source row, redrawn before keys and FKs (a secondary FK paired on a
            # row's values sees its final values); the CHECK step below catches what is left.
            redraw = _Redraw(model, name, driver, frames, scores, rng, own, bounds)
            rules = [model.row_fingerprints[name].rule(table)] + ([rule] if rule is not None else [])
            before = z.copy() if free and len(frame) <= RESTRATIFY_ROWS else None
            copies = _redraw_broken(frame, z, rows, rules, redraw)
            if before is not None and not np.array_equal(z, before):
                restratified, z = redraw.restratified(frame, z, rows, rules)
                if restratified is not frame:  # every row of the new frame holds every rule
                    copies = np.zeros(len(restratified), dtype=bool)
                frame = restratified
            if not self._copies_stay(name, tm):
                copies = None
        if name in self.links:
            _draw_linked(frame, table, self.links[name], frames.get(self.links[name].source_table), rng)
        offset = self.key_offset.get(name, 0)
        _fill_keys(tm, table, frame, rng, rows, offset)
        self.key_offset[name] = offset + len(frame)
        if driver is not None:
            for col, values in zip(driver.columns, take_keys(frames[driver.ref_table], driver.ref_columns, rows).values()):
                frame[col] = values
            keep = rows >= 0 if not table.fk_nullable(driver) else np.ones(len(frame), dtype=bool)
            frame, z, rows = frame[keep].reset_index(drop=True), z[keep], rows[keep]
            copies = None if copies is None else copies[keep]
            if rule is not None:
                bounds, checks = rows_of(bounds, keep), self.checks[name] + [rule.subset(keep)]
        for fk in tp.secondary:
            stats = model.fk_stats[fk_key(name, schema, fk)]
            _fill_fk(frame, table, fk, frames[fk.ref_table], stats, rng, slots=self.cursors.get(fk_key(name, schema, fk)))
            if driver is not None:
                _agree_with_paths(frame, table, fk, stats, driver, frames, rows, schema, rng)
        _number_within_key(tm, table, frame)
        redraw = _Redraw(model, name, driver, frames, scores, rng, own, bounds)
        frame, z, rows = _enforce_checks(frame, z, rows, checks, redraw, copies)
        frame, z = _enforce_unique(frame, z, rows, table, tp.secondary, frames, model, rng, checks, redraw)
        if name in self.pooled:
            frame, z = self._choose_parents(name, frame, z, wanted, rng)
        elif name in self.tilted:
            self.child_share.update({child: share for child, (_, share) in self._child_shares(name, frame, z, rng).items()})
        # Last: rows dropped above must not be anybody's parent.
        for fk in tp.self_refs:
            _fill_self_ref(frame, table, fk, model.fk_stats[fk_key(name, schema, fk)], rng)
        frames[name] = frame
        scores[name] = z
        return frame

    def _copies_stay(self, name: str, tm: TableModel) -> bool:
        """Whether the redraw of copies still holds at the CHECK step: no column a row's
        fingerprint covers is written between the two (generated keys, linked personal data)."""
        written = {cm.name for cm in tm.columns if cm.role == "key"}
        if name in self.links:
            written |= set(self.links[name].columns)
        return not written & set(self.model.row_fingerprints[name].columns)

    def _choose_parents(self, name: str, frame: pd.DataFrame, z: np.ndarray, wanted: int,
                        rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """Keep ``wanted`` rows of a pool of :data:`PARENT_POOL` × as many, chosen with weights
        proportional to the number of children satisfying the condition of each conditioned
        child table the model expects them to have (children per row × the share of
        :data:`CHILD_PROBES` child draws under the row that satisfy it), without replacement
        (weighted reservoir keys). A condition on lab results then picks the patients who have
        such lab results, as filtering the real database would."""
        weight = np.ones(len(frame))
        shares = self._child_shares(name, frame, z, rng)
        for counts, share in shares.values():
            weight *= counts * share
        live = np.flatnonzero(weight > 0)
        if live.size == 0:
            raise ConfigError(f"no {name} row of a pool of {len(frame)} has children meeting "
                              + "; ".join(self.targets[c].describe() for c in self.tilted[name])
                              + "; the condition is (nearly) impossible under the model: widen it")
        keys = np.log(rng.random(live.size)) / weight[live]
        chosen = np.sort(live[np.argsort(-keys, kind="stable")[:wanted]])
        for child, (_, share) in shares.items():
            self.child_share[child] = share[chosen]
        return frame.iloc[chosen].reset_index(drop=True), z[chosen]

    def _child_shares(self, name: str, frame: pd.DataFrame, z: np.ndarray,
                      rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each conditioned child table of ``name``: each row's children count and the share
        of :data:`CHILD_PROBES` (or more) unconditioned child draws under the row that meet the condition."""
        ptm = self.model.tables[name]
        probes_per_row = int(max(CHILD_PROBES, min(4096, np.ceil(PROBE_ROWS / max(len(frame), 1)))))
        out = {}
        for child in self.tilted[name]:
            ctm, table = self.model.tables[child], self.schema.tables[child]
            fk_index = table.fk_index(self.plan.tables[child].driver)
            counts = ptm.decode_counts(ptm.count_dim(child, fk_index), z, frame, stratified=name not in self.targeted)
            reps = np.repeat(np.arange(len(frame)), probes_per_row)
            parent_frame = frame.iloc[reps].reset_index(drop=True)
            ctx_idx = [ptm.dims.index(d) for d in ctm.context]
            probes = ctm.decode(table, ctm.sample_scores(z[reps][:, ctx_idx], 0, rng, parent_frame), rng, parent_frame)
            share = self.targets[child].meets(probes).reshape(-1, probes_per_row).mean(axis=1)
            out[child] = (counts, share)
        return out

    def _take_supplied(self, name: str, table: Table, tm: TableModel, rng: np.random.Generator) -> pd.DataFrame:
        """Use the user's rows of ``name`` as they are; their normal scores are drawn with every
        learned column pinned to the row's value, so the children-per-row counts (and anything
        else the rows do not hold) follow what the rows say."""
        frame = self.supplied[name]
        bounds = known_row_bounds(tm, table, frame)
        self.frames[name] = frame
        self.scores[name] = tm.sample_scores(None, len(frame), rng, frame, bounds)
        self.key_offset[name] = len(frame)
        return frame


# ---------------------------------------------------------------------- helpers
def _aligned(parent: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Parent rows aligned with child rows (all-NULL where a child has no parent)."""
    if len(parent) == 0:
        return pd.DataFrame(index=pd.RangeIndex(rows.size), columns=parent.columns)
    out = parent.iloc[np.where(rows < 0, 0, rows)].reset_index(drop=True)
    if (rows < 0).any():
        out = out.mask(pd.Series(rows < 0), axis=0)
    return out


def _fill_keys(tm: TableModel, table: Table, frame: pd.DataFrame, rng: np.random.Generator,
               parent_rows: np.ndarray, offset: int = 0) -> None:
    """New keys; sequences start ``offset`` rows past the model's first key (earlier partitions)."""
    n = len(frame)
    for cm in tm.columns:
        if cm.role != "key" or cm.key_scope == "group":
            continue
        if cm.key_scope == "parent":
            # Rows of one parent are contiguous (np.repeat): number them key_start.. within it.
            within = pd.Series(parent_rows).groupby(parent_rows).cumcount().to_numpy()
            frame[cm.name] = pd.Series(within + cm.key_start).astype("Int64")
        elif isinstance(cm.generator, (TextGenerator, UuidGenerator)):
            frame[cm.name] = pd.Series(cm.generator.generate(n, rng), dtype=object)
        elif cm.kind in ("integer", "float", "decimal", "date", "datetime"):
            start = cm.key_start + offset
            frame[cm.name] = from_number(np.arange(start, start + n, dtype=np.float64),
                                         "integer" if cm.kind in ("float", "decimal") else cm.kind)
        else:
            start = cm.key_start + offset
            frame[cm.name] = pd.Series(np.arange(start, start + n).astype(str).astype(object), dtype=object)


def _number_within_key(tm: TableModel, table: Table, frame: pd.DataFrame) -> None:
    """Number ``group``-scoped key columns within each combination of the other key columns."""
    for cm in tm.columns:
        if cm.role == "key" and cm.key_scope == "group":
            others = [c for c in table.primary_key if c != cm.name]
            within = frame.groupby(others, dropna=False, sort=False).cumcount().to_numpy() if len(frame) else np.zeros(0)
            frame[cm.name] = pd.Series(within + cm.key_start, dtype="Int64")


def _fill_fk(
    frame: pd.DataFrame,
    table: Table,
    fk: ForeignKey,
    parent: pd.DataFrame,
    stats: FKStats,
    rng: np.random.Generator,
    rows_mask: np.ndarray | None = None,
    slots: _SlotCursor | None = None,
) -> None:
    """Assign ``fk`` for all rows (or those in ``rows_mask``) from existing parent rows.

    ``slots`` hands out parent rows drawn once for a whole streamed output (so each parent's
    degree holds over every partition); without it they are drawn for these rows alone.
    """
    target = np.arange(len(frame)) if rows_mask is None else np.flatnonzero(rows_mask)
    n = target.size
    nullable = table.fk_nullable(fk)
    rows = np.full(n, -1, dtype=np.int64)
    live = np.ones(n, dtype=bool)
    if nullable and stats.null_rate > 0:
        live = rng.random(n) >= stats.null_rate
    m = int(live.sum())
    n_parent = len(parent)
    if n_parent and m:
        if stats.unique:
            chosen = slots.take(m) if slots is not None else rng.permutation(n_parent)[:m]
            if chosen.size < m:  # more one-to-one children than parents: the rest must stay NULL
                live[np.flatnonzero(live)[chosen.size:]] = False
            rows[live] = chosen
        else:
            if slots is not None:
                drawn = slots.take(m)
            else:
                drawn = assign_parents(m, stats.degree.decode(rng.standard_normal(n_parent)), rng)
            if stats.match is not None:
                p_col, c_col, rho = stats.match
                parent_x = numeric_values(parent[p_col])[drawn]
                child_x = numeric_values(frame[c_col].iloc[target[live]])
                drawn = pair_by_attribute(drawn, parent_x, child_x, float(rho), rng)
            rows[live] = drawn
    for col, values in zip(fk.columns, take_keys(parent, fk.ref_columns, rows).values()):
        if rows_mask is None:
            frame[col] = values
        else:
            column = frame[col].astype(values.dtype) if len(values) else frame[col]
            column.iloc[target] = values.to_numpy()
            frame[col] = column


def _agree_with_paths(frame: pd.DataFrame, table: Table, fk: ForeignKey, stats: FKStats, driver: ForeignKey,
                      frames: Mapping[str, pd.DataFrame], rows: np.ndarray, schema: Schema,
                      rng: np.random.Generator) -> None:
    """Make the secondary FK ``fk``, as :func:`_fill_fk` drew it, agree with the other path to
    its parent that the fit found (``stats``; ``rows``: each row's driver parent row): copied
    from the driver parent row (``follows``), from an earlier FK of the row (``same_as``), or
    from a bridge row of the driver parent (``within``)."""
    if stats.follows is not None:
        index, share = stats.follows
        _copy_fk(frame, fk, schema.tables[driver.ref_table].foreign_keys[int(index)], frames[driver.ref_table],
                 rows, float(share), rng)
    elif stats.same_as is not None:
        index, share = stats.same_as
        _copy_fk(frame, fk, table.foreign_keys[int(index)], frame, np.arange(len(frame)), float(share), rng)
    elif stats.within is not None and stats.within[0] in frames:
        bridge, to_driver, to_parent, share = stats.within
        links = schema.tables[bridge].foreign_keys
        # -1: the bridge is fk's own table, each of its rows its own pair (its key)
        via = links[int(to_parent)] if int(to_parent) >= 0 else ForeignKey(fk.ref_columns, bridge, fk.ref_columns)
        pairs = _pair_rows(frames[bridge], links[int(to_driver)], frames[driver.ref_table], rows, rng)
        _copy_fk(frame, fk, via, frames[bridge], pairs, float(share), rng)


def _copy_fk(frame: pd.DataFrame, fk: ForeignKey, via: ForeignKey, source: pd.DataFrame, rows: np.ndarray,
             share: float, rng: np.random.Generator) -> None:
    """Copy the secondary FK ``fk`` from the FK ``via`` (same referenced table and key) of each
    row's ``source`` row (``rows``; -1 for none), in about ``share`` of the rows: the driver
    parent row (:attr:`~relsynth.models.relational.FKStats.follows`: a payment's customer is its
    rental's), the row itself (``same_as``: the bill-to address is the ship-to) or a bridge row
    (``within``: one of the billing address's customers). Rows without a source row, those
    :func:`_fill_fk` left NULL and those whose ``via`` is NULL keep what :func:`_fill_fk` drew;
    every copied value is a row's key of ``fk``'s table."""
    if not len(frame) or not len(source):
        return
    at = np.where(rows >= 0, rows, 0)
    source_columns = dict(zip(via.ref_columns, via.columns))
    values = {col: source[source_columns[ref]].iloc[at].reset_index(drop=True)
              for col, ref in zip(fk.columns, fk.ref_columns)}
    copied = (rows >= 0) & ~null_any(frame, fk.columns) & ~null_any(pd.DataFrame(values), fk.columns)
    if share < 1:
        copied &= rng.random(len(frame)) < share
    at = np.flatnonzero(copied)
    for col, value in values.items():
        column = frame[col].copy()
        column.iloc[at] = value.iloc[at].astype(column.dtype).to_numpy()  # non-NULL: any key dtype holds them
        frame[col] = column


def _pair_rows(bridge: pd.DataFrame, to_driver: ForeignKey, parent: pd.DataFrame, rows: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """For each row's driver parent row (``rows``; -1 for none), one ``bridge`` row whose FK
    ``to_driver`` names it, drawn uniformly among them; -1 where there is none
    (:attr:`~relsynth.models.relational.FKStats.within`)."""
    owner = match_rows(bridge, to_driver.columns, parent, to_driver.ref_columns)  # each bridge row's parent row
    held = np.flatnonzero(owner >= 0)
    counts = np.bincount(owner[held], minlength=len(parent))
    by_owner = held[np.argsort(owner[held], kind="stable")]  # bridge rows grouped by parent row
    starts = np.cumsum(counts) - counts
    out = np.full(rows.size, -1, dtype=np.int64)
    live = rows >= 0
    live[live] = counts[rows[live]] > 0
    at = rows[live]
    out[live] = by_owner[starts[at] + (rng.random(at.size) * counts[at]).astype(np.int64)]
    return out


class _SlotPool:
    """Parent rows of one secondary FK of a streamed table: ``total`` slots, each parent holding
    as many as the degree drawn for it once for the whole output, in a shuffled order that is
    never built (:func:`~relsynth.transform.keys.permuted`): a partition takes the slots of
    its own range of positions, so it needs nothing another partition did.

    Degrees are drawn once per parent, as :func:`_fill_fk` does for a table generated whole;
    drawing them again in every partition would add up several draws per parent and flatten a
    skewed degree distribution. One-to-one FKs hold every parent once, so no parent repeats.
    """

    #: Feistel rounds of the shuffle.
    ROUNDS = 4

    def __init__(self, stats: FKStats, n_parent: int, total: int, rng: np.random.Generator) -> None:
        self.unique = stats.unique
        if stats.unique or not n_parent:
            counts = np.ones(n_parent, dtype=np.int64)
        else:
            counts = adjust_total(stats.degree.decode(rng.standard_normal(n_parent)), max(int(total), 1), rng,
                                  tail_power=2.0)
        #: Cumulative slots per parent: slot ``i`` (in parent order) belongs to the first parent whose end exceeds it.
        self.ends = np.cumsum(counts)
        self.total = int(self.ends[-1]) if n_parent else 0
        self.keys = rng.integers(0, 2**63, size=self.ROUNDS, dtype=np.uint64)

    def parents(self, start: int, m: int, rng: np.random.Generator) -> np.ndarray:
        """Parent rows of the ``m`` slots from position ``start`` on. Past the pool, a one-to-one
        FK has no parent left (fewer rows come back: the rest stay NULL); any other draws its
        parents by their degrees."""
        stop = min(start + m, self.total)
        inside = permuted(np.arange(min(start, stop), stop), self.total, self.keys)
        rows = np.searchsorted(self.ends, inside, side="right")
        if self.unique or rows.size == m or not self.total:
            return rows
        extra = np.searchsorted(self.ends, rng.integers(0, self.total, size=m - rows.size), side="right")
        return np.concatenate([rows, extra])


class _SlotCursor:
    """A partition's place in a :class:`_SlotPool`: hands out the slots from ``start`` on, in order."""

    def __init__(self, pool: _SlotPool, start: int, rng: np.random.Generator) -> None:
        self.pool, self.start, self.rng = pool, start, rng
        self.used = 0

    def take(self, m: int) -> np.ndarray:
        out = self.pool.parents(self.start + self.used, m, self.rng)
        self.used += m
        return out


def _fill_self_ref(frame: pd.DataFrame, table: Table, fk: ForeignKey, stats: FKStats, rng: np.random.Generator) -> None:
    """A forest shaped like the source's (depths, fan-out): every parent is on the level above.

    FK columns that repeat a key column (``(tenant, parent_id) -> (tenant, id)``) keep the row's
    own value; the tree is grown within each group of them. Models without learned tree
    statistics get a random forest at the source's NULL rate (each row points at an earlier row).
    """
    n = len(frame)
    if n == 0:
        return
    shared = [c for c, r in zip(fk.columns, fk.ref_columns) if c == r]
    own = [(c, r) for c, r in zip(fk.columns, fk.ref_columns) if c != r]
    if not own:  # the FK is the row's own key: nothing to choose
        return
    nullable = all(table.column(c).nullable for c, _ in own)
    groups = frame.groupby(shared, dropna=False, sort=False).ngroup().to_numpy() if shared else None
    if stats.tree is not None:
        rows = grow_forest(stats.tree, n, rng, nullable=nullable, groups=groups, unique=stats.unique)
    else:
        rows = random_forest(n, stats.null_rate, rng, nullable=nullable, groups=groups)
    ref = [r for _, r in own]
    snapshot = frame[ref].copy()
    for (col, _), values in zip(own, take_keys(snapshot, ref, rows).values()):
        frame[col] = values


class _Redraw:
    """Fresh values for some rows of the table being generated, under the same parent rows.

    Keys and FKs stay; every other column is decoded from a new conditional copula draw. The
    rows' children-per-row counts stay as first drawn (stratified over the table): rows redrawn
    for being copies of source rows would otherwise unsettle a small parent's children counts.
    """

    def __init__(self, model: Model, name: str, driver: ForeignKey | None, frames: dict[str, pd.DataFrame],
                 scores: dict[str, np.ndarray], rng: np.random.Generator, options: TableOptions | None = None,
                 bounds: LatentBounds | None = None) -> None:
        self.model, self.name, self.driver, self.frames, self.scores, self.rng = model, name, driver, frames, scores, rng
        self.options, self.bounds = options, bounds
        self.table = model.schema.tables[name]
        self.tm = model.tables[name]
        self.count_dims = [j for j, d in enumerate(self.tm.dims) if d.startswith("count:")]
        #: Columns a redraw leaves alone: keys (the primary key and other generated unique keys) and FKs.
        self.keyed = (set(self.table.primary_key) | self.table.fk_columns
                      | {cm.name for cm in self.tm.columns if cm.role == "key"})

    def __call__(self, frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, idx: np.ndarray) -> None:
        fresh, new_z = self._draw(z, parent_rows, idx)
        self._write(frame, z, idx, fresh, new_z)

    def until_held(self, frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, idx: np.ndarray,
                   rules: list[Any]) -> np.ndarray:
        """Redraw rows ``idx``, each from :data:`SPARE_DRAWS` candidates where they are at most
        :data:`SPARE_ROWS`: the first that holds every rule is taken (else the last). Whether each
        row still breaks one."""
        k = SPARE_DRAWS if idx.size <= SPARE_ROWS else 1
        tries = np.repeat(idx, k)  # a row's candidates side by side
        fresh, new_z = self._draw(z, parent_rows, tries)
        trial = frame.iloc[tries].copy()  # the rows' own index: a rule may read it
        for col in self._redrawn():
            trial[col] = fresh[col].array
        broken = _broken(trial, rules).reshape(idx.size, k)
        pick = np.where(broken.all(axis=1), k - 1, broken.argmin(axis=1))  # argmin: the first that holds
        taken = np.arange(idx.size) * k + pick
        self._write(frame, z, idx, fresh.iloc[taken], new_z[taken])
        return broken[np.arange(idx.size), pick]

    def _draw(self, z: np.ndarray, parent_rows: np.ndarray, idx: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Fresh values (a frame, one row per ``idx``) and scores for rows ``idx`` (repeats allowed)."""
        rows = parent_rows[idx]
        linked = rows >= 0
        drawn_order = np.concatenate([np.flatnonzero(linked), np.flatnonzero(~linked)])  # scores come out linked first
        context, parent_frame, drawn_parents = None, None, None
        if self.driver is not None:
            parent = self.driver.ref_table
            ptm = self.model.tables[parent]
            ctx_idx = [ptm.dims.index(d) for d in self.tm.context]
            context = self.scores[parent][rows[linked]][:, ctx_idx]
            parent_frame = _aligned(self.frames[parent], rows)
            drawn_parents = parent_frame.iloc[drawn_order].reset_index(drop=True)
        drawn = self.tm.sample_scores(context, int((~linked).sum()), self.rng, drawn_parents,
                                      rows_of(self.bounds, idx[drawn_order]))
        new_z = np.empty_like(drawn)
        new_z[drawn_order] = drawn
        new_z[:, self.count_dims] = z[idx][:, self.count_dims]
        fresh = self.tm.decode(self.table, new_z, self.rng, parent_frame)
        apply_overrides(fresh, self.table, self.options, self.rng)
        return fresh, new_z

    def _redrawn(self) -> list[str]:
        return [c.name for c in self.table.columns if c.name not in self.keyed]

    def _write(self, frame: pd.DataFrame, z: np.ndarray, idx: np.ndarray, fresh: pd.DataFrame, new_z: np.ndarray) -> None:
        z[idx] = new_z
        for col in self._redrawn():
            column = frame[col].copy()
            column.iloc[idx] = fresh[col].array
            frame[col] = column

    def restratified(self, frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray,
                     rules: list[Any]) -> tuple[pd.DataFrame, np.ndarray]:
        """The table after some rows were redrawn, its scores stratified again (each marginal as
        even as the first draw's) and decoded, up to :data:`_REDRAWS` times, the rows breaking a
        rule redrawn between tries; unchanged unless every row then holds every rule."""
        parent_frame = None if self.driver is None else _aligned(self.frames[self.driver.ref_table], parent_rows)
        current = z
        for _ in range(_REDRAWS):
            even = self.tm.even(current)
            fresh = self.tm.decode(self.table, even, self.rng, parent_frame, stratified=True)
            apply_overrides(fresh, self.table, self.options, self.rng)
            out = frame.copy()
            for col in (c.name for c in self.table.columns if c.name not in self.keyed):
                out[col] = fresh[col].array
            bad = _broken(out, rules)
            if not bad.any():
                return out, even
            current = even.copy()
            self(out, current, parent_rows, np.flatnonzero(bad))
        return frame, z


def _always_held(rule: CheckRule, table: Table, tm: TableModel, options: TableOptions | None) -> bool:
    """Whether no generated row can break ``rule``: it reads one learned categorical column,
    whose every category (and NULL) satisfies it, and nothing rewrites that column after the
    decode (no column option, no UNIQUE repair). A CHECK the source enforced mostly is such
    a one (``test IN ('glucose', ...)``), and evaluating it costs a hash of every row."""
    if len(rule.columns) != 1:
        return False
    column = rule.columns[0]
    values = tm.decoded_values(column)
    if values is None or (options is not None and column in options.columns) or [column] in table.unique_sets:
        return False
    return bool(rule.holds(pd.DataFrame({column: pd.Series(values, dtype=object)})).all())


def _draw_linked(frame: pd.DataFrame, table: Table, link: PiiLink, source: pd.DataFrame | None,
                 rng: np.random.Generator) -> None:
    """Give ``link.share`` of the rows of ``frame`` (those with a value in the link's first column)
    the values of a random row of ``source``, the earlier table's synthetic rows, in every linked
    column (a person's fields together; a column left NULL stays NULL). In a UNIQUE column no
    value repeats: source rows whose value the table's other rows hold, or an earlier drawn
    row's, are not drawn, and rows are drawn without replacement."""
    if source is None or not len(source) or not len(frame):
        return
    take = frame[link.columns[0]].notna().to_numpy() & (rng.random(len(frame)) < link.share)
    candidates = source[link.source_columns].notna().all(axis=1).to_numpy()
    unique = [c for c in link.columns if [c] in table.unique_sets]
    for column, source_column in zip(link.columns, link.source_columns):
        length = table.column(column).length
        values = source[source_column].astype(str)
        if length:  # a value cut to fit could equal another
            candidates = candidates & (values.str.len() <= length).to_numpy()
        if column in unique:
            folded = values.str.casefold()
            kept = frame[column][~take].dropna().astype(str).str.casefold()
            candidates = candidates & ~folded.isin(kept).to_numpy() & ~folded.duplicated().to_numpy()
    pool = np.flatnonzero(candidates)
    rows = np.flatnonzero(take)
    if not pool.size or not rows.size:
        return
    if unique:
        rows = rows[: pool.size]
        drawn = rng.choice(pool, rows.size, replace=False)
    else:
        drawn = pool[rng.integers(0, pool.size, rows.size)]
    for column, source_column in zip(link.columns, link.source_columns):
        values = frame[column].astype(object)
        here = values.iloc[rows].notna().to_numpy()
        values.iloc[rows[here]] = source[source_column].to_numpy(dtype=object)[drawn[here]]
        frame[column] = values


def _enforce_checks(
    frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, rules: list[Any], redraw: _Redraw,
    copies: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Make every row satisfy the table's CHECK constraints (and the rule against copies of
    source rows).

    Rows that break one get fresh values (same parent) up to :data:`_REDRAWS` times; the few that
    still break a CHECK are dropped (:func:`_drop_broken`), before any child is generated under
    them. ``copies``: the rows known to equal a source row, every row's values having been
    checked against the rule since they last changed (see :func:`_redraw_broken`). Returns the
    frame, its scores and its parent rows.
    """
    if not rules or len(frame) == 0:
        return frame, z, parent_rows
    bad = _redraw_broken(frame, z, parent_rows, rules, redraw, copies)
    return _drop_broken(frame, z, parent_rows, bad, rules, redraw.name)


def _drop_broken(frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, bad: np.ndarray, rules: list[Any],
                 name: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Drop the ``bad`` rows that break a CHECK (or another rule but the one against copies).
    Rows that are only a source row's copy are kept: the learned values leave them no other
    choice (a table whose every column the model learned as the source's few values), and
    dropping them would empty the table."""
    copy_rules = [r for r in rules if isinstance(r, NotACopy)]
    if bad.any() and copy_rules:
        forced = bad.copy()
        forced[bad] = ~_broken(frame[bad], [r for r in rules if not isinstance(r, NotACopy)])
        if forced.any():
            log.info("%s: kept %d row(s) equal to a source row that %d redraws could not change",
                     name, int(forced.sum()), _REDRAWS)
            bad = bad & ~forced
    if bad.any():
        log.info("%s: dropped %d row(s) that kept breaking a CHECK constraint or equalling a source row",
                 name, int(bad.sum()))
        frame, z, parent_rows = frame[~bad].reset_index(drop=True), z[~bad], parent_rows[~bad]
    return frame, z, parent_rows


def _redraw_broken(frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, rules: list[Any],
                   redraw: _Redraw, copies: np.ndarray | None = None) -> np.ndarray:
    """Redraw the rows that break one of ``rules`` (anything with ``holds(frame)``) up to
    :data:`_REDRAWS` times; the rows that still break one. ``copies``, where given, stands for
    the rule against copies on the whole frame (hashing every row again: 12 ms of the demo's
    29,246 lab results); redrawn rows are checked against every rule."""
    if copies is None:
        bad = _broken(frame, rules)
    else:
        bad = _broken(frame, [r for r in rules if not isinstance(r, NotACopy)]) | copies
    for _ in range(_REDRAWS):
        if not bad.any():
            break
        idx = np.flatnonzero(bad)
        bad[idx] = redraw.until_held(frame, z, parent_rows, idx, rules)
    return bad


def _broken(frame: pd.DataFrame, rules: list[Any]) -> np.ndarray:
    ok = np.ones(len(frame), dtype=bool)
    for rule in rules:
        ok &= rule.holds(frame)
    return ~ok


def _enforce_unique(
    frame: pd.DataFrame,
    z: np.ndarray,
    parent_rows: np.ndarray,
    table: Table,
    secondary: list[ForeignKey],
    frames: dict[str, pd.DataFrame],
    model: Model,
    rng: np.random.Generator,
    rules: list[Any] = (),
    redraw: _Redraw | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Make every UNIQUE set (PK included) unique, without breaking the row rules again.

    Colliding values of a single learned text column are replaced by unused categories, then by
    new pattern-generated text; colliding secondary FKs are redrawn (:func:`_repair_unique`).
    A row so changed is checked again against ``rules`` (CHECKs, no copy of a source row: an
    unused department name can make a row equal to that department's source row, a pattern
    name break a CHECK listing the names); one that breaks one gets fresh values and is
    repaired again, up to :data:`_REDRAWS` times, then dropped as :func:`_enforce_checks` does.
    Rows still colliding are dropped (before any child row is generated under them).
    """
    check = _repair_unique(frame, table, secondary, frames, model, rng)
    if rules and redraw is not None:
        for attempt in range(_REDRAWS + 1):
            bad = np.zeros(len(frame), dtype=bool)
            if check.any():
                bad[check] = _broken(frame[check], rules)
            if not bad.any() or attempt == _REDRAWS:
                break
            redraw(frame, z, parent_rows, np.flatnonzero(bad))
            check = bad | _repair_unique(frame, table, secondary, frames, model, rng)
        frame, z, parent_rows = _drop_broken(frame, z, parent_rows, bad, rules, table.name)
    for columns in table.unique_sets:
        dup = _duplicates(frame, columns)
        if dup.any():
            frame, z, parent_rows = frame[~dup].reset_index(drop=True), z[~dup], parent_rows[~dup]
    return frame, z


def _repair_unique(frame: pd.DataFrame, table: Table, secondary: list[ForeignKey], frames: dict[str, pd.DataFrame],
                   model: Model, rng: np.random.Generator) -> np.ndarray:
    """Give rows colliding on a UNIQUE set other values where the set has a learned text column
    or a secondary FK (in place); the rows changed."""
    tm = model.tables[table.name]
    changed = np.zeros(len(frame), dtype=bool)
    for columns in table.unique_sets:
        if len(columns) == 1:
            changed |= _repair_unique_text(frame, tm, columns[0], rng)
        movable = [fk for fk in secondary if set(fk.columns) & set(columns)]
        for _ in range(_REDRAWS if movable else 0):
            dup = _duplicates(frame, columns)
            if not dup.any():
                break
            for fk in movable:
                _fill_fk(frame, table, fk, frames[fk.ref_table],
                         model.fk_stats[fk_key(table.name, model.schema, fk)], rng, rows_mask=dup)
            changed |= dup
    return changed


def _repair_unique_text(frame: pd.DataFrame, tm: TableModel, column: str, rng: np.random.Generator) -> np.ndarray:
    """Replace repeated values of a learned text column by unused categories, then by new
    pattern-generated text (in place); the rows changed."""
    changed = np.zeros(len(frame), dtype=bool)
    cm = next(c for c in tm.columns if c.name == column)
    enc = tm.encoders.get(cm.value_dim)
    if cm.role != "copula" or not isinstance(enc, CategoricalEncoder):
        return changed
    dup = _duplicates(frame, [column])
    if not dup.any():
        return changed
    rows = np.flatnonzero(dup)
    used = set(frame[column].dropna())
    unused = [c for c in enc.categories if c not in used]
    fill = list(rng.permutation(np.asarray(unused, dtype=object))[: rows.size]) if unused else []
    if len(fill) < rows.size and all(isinstance(c, str) for c in enc.categories):
        gen = TextGenerator.fit(enc.categories, unique=True)
        taken = used | set(fill)
        extra = [v for v in gen.generate(4 * (rows.size - len(fill)) + 16, rng) if v not in taken]
        fill += extra[: rows.size - len(fill)]
    if fill:
        column_values = frame[column].astype(object)
        column_values.iloc[rows[: len(fill)]] = fill
        frame[column] = column_values
        changed[rows[: len(fill)]] = True
    return changed


def _duplicates(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Rows repeating an earlier row's value on ``columns`` (rows with a NULL there never collide)."""
    if len(frame) == 0:
        return np.zeros(0, dtype=bool)
    sub = frame[columns]
    complete = sub.notna().all(axis=1).to_numpy()
    return sub.duplicated().to_numpy() & complete


def _finalize(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Columns in schema order, each in the frame convention's dtype."""
    out = {}
    for col in table.columns:
        s = frame[col.name] if col.name in frame else pd.Series([None] * len(frame), dtype=object)
        if col.kind == "integer":
            if s.dtype != "Int64":  # the decode's and the keys' own dtype mostly: nothing to do
                s = pd.to_numeric(s).astype("Int64") if len(s) else s.astype("Int64")
        elif col.kind in ("float", "decimal"):
            if s.dtype != np.float64:
                s = pd.to_numeric(s).astype("float64")
        elif col.kind == "boolean":
            s = s.astype("boolean")
        elif col.kind in ("date", "datetime"):
            if not pd.api.types.is_datetime64_dtype(s.dtype):
                s = pd.to_datetime(s)
        else:
            s = _text_column(s, col)
        out[col.name] = s.reset_index(drop=True)
    # The columns are this function's own: pandas need not copy them (it does for Series by default).
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)), copy=False)


def _text_column(s: pd.Series, col: Column) -> pd.Series:
    """A text (or other object) column as Python values with None for NULL, strings cut to the
    column's length. One NULL test and a ``len`` of each value at C speed: pandas' ``where``
    and a hash of every value (to measure only the distinct ones) took 0.3 s of TPC-H SF 0.1's
    sampling."""
    values = s.to_numpy(dtype=object, copy=True)  # the generator's own frame keeps its values
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None
    if col.kind == "string" and col.length and values.size:
        present = values[~missing]
        try:
            longest = max(map(len, present), default=0)
        except TypeError:  # values that are not strings are written as their text
            longest = max(map(len, map(str, present)), default=0)
        if longest > col.length:
            values[~missing] = pd.Series(present, dtype=object).astype(str).str.slice(0, col.length).to_numpy(dtype=object)
    return pd.Series(values, index=s.index, dtype=object, copy=False)
