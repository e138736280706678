"""The database model: one copula per table plus the statistics of every non-driver FK.

:func:`fit_model` learns it parent-first from a schema and its frames; :meth:`Model.sample`
draws a synthetic database; :meth:`Model.save` / :func:`load_model` store it as JSON plus numpy
arrays in a zip file (no pickle, so loading a file never runs code).
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from relsynth.blas import one_blas_thread
from relsynth.errors import ConfigError, ModelError, SchemaError
from relsynth.models.copula import ColumnFacts, ParentContext, TableModel, is_free_text, to_number
from relsynth.models.neural import AUTO_MIN_GAIN, AUTO_MIN_ROWS, NeuralOptions, fit_neural, require_torch
from relsynth.plan import Plan, make_plan
from relsynth.schema.checks import compile_checks
from relsynth.schema.model import ForeignKey, Schema, Table
from relsynth.transform.copies import RowFingerprints
from relsynth.transform.encoders import NumericEncoder
from relsynth.transform.keys import match_rows, null_any, rows_covered
from relsynth.transform.native import generated_style
from relsynth.transform.pii import (
    DEFAULT_LOCALE,
    PiiColumn,
    PiiLink,
    check_pii_overrides,
    detect_pii,
    personal_fingerprints,
    personal_links,
    personal_values,
)
from relsynth.transform.rare import RARE_CATEGORY_THRESHOLD, suppress_rare_categories
from relsynth.transform.trees import TreeStats, fit_tree

if TYPE_CHECKING:
    from relsynth.sampling.relational import SampleStream
    from relsynth.subsample import FitSample

__all__ = ["Model", "FKStats", "fit_model", "load_model", "FORMAT", "FORMAT_VERSION"]

log = logging.getLogger("relsynth")

FORMAT = "relsynth-model"
#: 2: row fingerprints hash whole columns (:func:`relsynth.transform.copies.row_hashes`).
#: 3: a table's neural synthesizer (``tables.<name>.neural``); version 2 files (copula only) load as before.
FORMAT_VERSION = 3
_READABLE_VERSIONS = (2, 3)


@dataclass
class FKStats:
    """What is learned about a secondary, deferred or self-referencing FK.

    Attributes:
        null_rate: Share of child rows whose FK is NULL.
        degree: Distribution of children per parent row (zeros included).
        unique: The FK columns are unique in the child (a one-to-one relationship).
        dangling: Child rows whose non-NULL FK matched no parent row in the source.
        tree: For self-references, the shape of the forest (depths, fan-out); None for other
            FKs and in model files written before it was learned (sampling then falls back to
            a random forest with the NULL rate only).
        match: ``[parent column, child column, rho]``: the most correlated pair of numbers
            across the FK (Spearman ``rho``), which the sampler keeps when it assigns parents
            (:func:`relsynth.transform.keys.pair_by_attribute`); None when no pair reaches
            :data:`MATCH_MIN_RHO`.
        follows: ``[index of an FK of the driver parent's table, share]``: a secondary FK that
            names the same row as the driver parent's own FK in ``share`` (at least
            :data:`FOLLOW_MIN_SHARE`) of the source rows (a payment's customer is its rental's
            customer); the sampler copies it from the parent row in that share of the rows.
            None otherwise, and in model files written before it was learned.
        same_as: ``[index of another FK of the table, share]``: a secondary FK that names the
            same row as an FK of its own row filled before it (the driver or an earlier
            secondary FK to the same table and key) in ``share`` (at least
            :data:`FOLLOW_MIN_SHARE`) of the source rows (an order's bill-to address is its
            ship-to address); the sampler copies it in that share of the rows. Only where
            ``follows`` is None.
        within: ``[table, index of its FK to the driver's table, index of its FK to this FK's
            table, share]``: a secondary FK whose parent is, with the row's driver parent, a
            pair that rows of a third table generated earlier hold, in ``share`` (at least
            :data:`FOLLOW_MIN_SHARE`) of the source rows (AdventureWorksLT orders one of its
            billing address's customers, as ``CustomerAddress`` pairs them); the sampler picks
            one of the synthetic pairs of the row's driver parent in that share of the rows.
            The table may be this FK's own, its rows paired with themselves (index -1: a
            ticket's contact is one of its customer's contacts). Only where ``follows`` and
            ``same_as`` are None.
    """

    null_rate: float
    degree: NumericEncoder
    unique: bool = False
    dangling: int = 0
    tree: TreeStats | None = None
    match: list[Any] | None = None
    follows: list[Any] | None = None
    same_as: list[Any] | None = None
    within: list[Any] | None = None

    def to_state(self) -> dict[str, Any]:
        state = {"null_rate": self.null_rate, "degree": self.degree.to_state(), "unique": self.unique,
                 "dangling": self.dangling, "match": self.match, "follows": self.follows, "same_as": self.same_as,
                 "within": self.within}
        if self.tree is not None:
            state["tree"] = self.tree.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FKStats:
        tree = state.get("tree")
        return cls(float(state["null_rate"]), NumericEncoder.from_state(state["degree"]),
                   bool(state["unique"]), int(state["dangling"]),
                   TreeStats.from_state(tree) if tree is not None else None, state.get("match"),
                   state.get("follows"), state.get("same_as"), state.get("within"))


@dataclass
class Model:
    """A fitted synthetic-database model.

    Attributes:
        schema: The source schema (no data).
        tables: The copula model of each table.
        fk_stats: Statistics of each non-driver FK, keyed ``"table#fk_index"``.
        seed: The seed used for fitting.
        notes: Things the fit noticed (dangling references, ...), for the user.
        drivers: The driver FK chosen from data for tables with several parents (index into
            the table's foreign keys).
        pii: Per table, per column holding personal data: ``{"kind", "reason", "generator"}``
            (what it is, why it was flagged, how its values are made).
        rare_categories: Per table, per column, how many distinct categories held by fewer
            than ``rare_category_threshold`` rows were not reproduced.
        locale: Faker locale of the personal data.
        rare_category_threshold: ``k``, the fewest rows a category needs to be reproduced.
        pii_fingerprints: Bit width and keyed-hash fingerprints of every personal value of the
            source (about 16 buckets per value, so they do not spell the values out): generated
            personal values falling on one are redrawn. Stored once, shared by every generator.
        row_fingerprints: Per table, keyed-hash fingerprints of the source rows' written form
            (:class:`~relsynth.transform.copies.RowFingerprints`, about 64 buckets per row and
            never fewer than 16 possible rows per bucket): a synthetic row falling on one is
            redrawn, so none equals a source row. Tables whose domain forces copies, or where
            no row can be one, have none; so have models saved before they were learned.
        pii_links: Personal columns of a table that hold another table's row's values (the same
            person's email in ``customer`` and ``newsletter``, no FK between them;
            :func:`~relsynth.transform.pii.personal_links`): that share of the table's rows
            takes its values from the other table's synthetic rows. Names and shares only.
    """

    schema: Schema
    tables: dict[str, TableModel]
    fk_stats: dict[str, FKStats] = field(default_factory=dict)
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    drivers: dict[str, int] = field(default_factory=dict)
    pii: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    rare_categories: dict[str, dict[str, int]] = field(default_factory=dict)
    locale: str = DEFAULT_LOCALE
    rare_category_threshold: int = RARE_CATEGORY_THRESHOLD
    pii_fingerprints: tuple[int, np.ndarray] = (0, np.zeros(0, dtype=np.uint64))
    row_fingerprints: dict[str, RowFingerprints] = field(default_factory=dict)
    pii_links: list[PiiLink] = field(default_factory=list)

    def __post_init__(self) -> None:
        for tm in self.tables.values():
            for cm in tm.columns:
                if cm.role == "pii":
                    cm.generator.exclude_bits, cm.generator.exclude = self.pii_fingerprints

    @property
    def plan(self) -> Plan:
        """The generation plan (derived from the schema and the stored driver choices)."""
        return make_plan(self.schema, self.drivers)

    def sample(self, scale: float = 1.0, seed: int | None = None,
               tables: Mapping[str, Any] | None = None, *,
               record_size_ratio: float | None = None,
               conditions: Mapping[str, Mapping[str, Any]] | None = None,
               size: Mapping[str, int] | None = None,
               rebalance: Mapping[str, Any] | None = None,
               parents: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
        """Draw a synthetic database.

        Args:
            scale: Multiplies the number of rows of tables generated without a parent; child
                tables follow through their learned children-per-parent counts.
            seed: Same seed, same output. None draws a fresh seed.
            tables: Per-table options, as in a configuration file's ``tables:``
                (:func:`relsynth.config.parse_tables`): ``{"patients": {"scale": 2, "columns":
                {"notes": {"skip": True}, "age": {"min": 18}}}}``. A table's ``scale`` sets its
                rows to source rows × scale (its children follow); column overrides are applied
                before CHECK and UNIQUE constraints are enforced.
            record_size_ratio: Gretel Relational's name for ``scale``; when given, it is the scale.
            conditions: What rows must be, per table and column: ``{"patients": {"smoker":
                True, "age": (70, None), "diagnosis": ["copd", "asthma"]}}`` (a value, a list
                of values, an inclusive ``(min, max)`` range with None for an open end, or a
                :class:`relsynth.config.Condition`). The rows are drawn from the copula
                conditioned on it; their children follow them as real children follow such
                parents.
            size: Rows per table, ``{"patients": 1000}`` (instead of a scale); a child table's
                rows are shared out over its parents by their learned children-per-parent counts.
            rebalance: Target category shares: ``{"patients": "diagnosis"}`` (equal shares) or
                ``{"patients": {"diagnosis": {"cancer": 0.5}}}`` (the other categories share the
                rest as learned).
            parents: Existing parent rows, ``{"patients": frame}``: those tables are taken as
                given and only the tables below them are generated, children following each
                given row's values.

        Returns:
            One frame per table, in schema order, in the frame convention (with ``parents``:
            the given tables and the tables below them).

        Raises:
            ConfigError: An unknown table or column, a value not of the column's kind, or a
                condition the model cannot meet.
        """
        from relsynth.config import merge_targets
        from relsynth.sampling.relational import sample_model

        if record_size_ratio is not None:
            scale = record_size_ratio
        options = merge_targets(tables, conditions, size, rebalance)
        return sample_model(self, scale=scale, seed=seed, tables=options, parents=parents)

    def stream(self, scale: float = 1.0, seed: int | None = None,
               partition_rows: int | None = None, tables: Mapping[str, Any] | None = None, *,
               conditions: Mapping[str, Mapping[str, Any]] | None = None,
               size: Mapping[str, int] | None = None,
               rebalance: Mapping[str, Any] | None = None,
               parents: Mapping[str, pd.DataFrame] | None = None) -> SampleStream:
        """Draw a synthetic database in pieces: iterate ``(table, frame)`` pairs, parents' first.

        Tables reached other than through their driver FK are generated whole; the others in
        partitions of whole families of about ``partition_rows`` output rows (default
        :data:`relsynth.sampling.relational.PARTITION_ROWS`), so memory follows the partition,
        not ``scale``. :func:`relsynth.write` loads such a stream as it comes. Same seed and
        partition size, same data. ``tables``, ``conditions``, ``size``, ``rebalance`` and
        ``parents``: as in :meth:`sample` (every partition holds the conditions).
        """
        from relsynth.config import merge_targets
        from relsynth.sampling.relational import PARTITION_ROWS, SampleStream

        return SampleStream(self, scale=scale, seed=seed, tables=merge_targets(tables, conditions, size, rebalance),
                            partition_rows=PARTITION_ROWS if partition_rows is None else partition_rows,
                            parents=parents)

    # ---------------------------------------------------------------- storage
    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (a zip of ``model.json`` and ``arrays.npz``; no pickle)."""
        arrays: dict[str, np.ndarray] = {}
        state = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "seed": self.seed,
            "notes": list(self.notes),
            "drivers": dict(self.drivers),
            "schema": self.schema.to_dict(),
            "tables": {n: t.to_state() for n, t in self.tables.items()},
            "fk_stats": {k: s.to_state() for k, s in self.fk_stats.items()},
            "pii": self.pii,
            "rare_categories": self.rare_categories,
            "locale": self.locale,
            "rare_category_threshold": self.rare_category_threshold,
            "pii_fingerprints": {"bits": self.pii_fingerprints[0], "values": self.pii_fingerprints[1]},
            "row_fingerprints": {n: f.to_state() for n, f in self.row_fingerprints.items()},
            "pii_links": [link.to_state() for link in self.pii_links],
        }
        doc = json.dumps(_pack(state, arrays), indent=1, allow_nan=False)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        path = Path(path)
        # Written beside the destination and renamed into place, so a failed or interrupted
        # save never leaves half a model file under the name.
        partial = path.with_name(path.name + ".partial")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("model.json", doc)
                zf.writestr("arrays.npz", buf.getvalue())
            partial.replace(path)
        except OSError as exc:
            raise ModelError(f"cannot write model file '{path}': {exc.strerror or exc}; "
                             "check that the folder exists and is writable") from None
        finally:
            partial.unlink(missing_ok=True)
        return path


def load_model(path: str | Path) -> Model:
    """Read a model written by :meth:`Model.save`; a damaged or foreign file raises ModelError."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"model path '{path}' is a folder, not a model file; give the .rsm file written by `relsynth fit`")
    if not path.is_file():
        raise ModelError(f"model file '{path}' does not exist; fit one with `relsynth fit SRC -o {path.name}`")
    try:
        with zipfile.ZipFile(path) as zf:
            doc = json.loads(zf.read("model.json"))
            with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, EOFError,
            NotImplementedError, RuntimeError) as exc:  # NotImplementedError: unknown compression
        raise ModelError(f"'{path}' is not a readable relsynth model file ({type(exc).__name__}); refit it") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(f"'{path}' is not a relsynth model file; refit it with `relsynth fit`")
    if doc.get("version") not in _READABLE_VERSIONS:
        raise ModelError(
            f"'{path}' has model format version {doc.get('version')}, this relsynth reads versions "
            f"{min(_READABLE_VERSIONS)} to {FORMAT_VERSION}; refit the model with this version"
        )
    try:
        state = _unpack(doc, arrays)
        return Model(
            schema=Schema.from_dict(state["schema"]),
            tables={n: TableModel.from_state(t) for n, t in state["tables"].items()},
            fk_stats={k: FKStats.from_state(s) for k, s in state["fk_stats"].items()},
            seed=int(state["seed"]),
            notes=list(state["notes"]),
            drivers={k: int(v) for k, v in state["drivers"].items()},
            pii={t: {c: dict(v) for c, v in cols.items()} for t, cols in state.get("pii", {}).items()},
            rare_categories={t: {c: int(v) for c, v in cols.items()}
                             for t, cols in state.get("rare_categories", {}).items()},
            locale=str(state.get("locale", DEFAULT_LOCALE)),
            rare_category_threshold=int(state.get("rare_category_threshold", RARE_CATEGORY_THRESHOLD)),
            pii_fingerprints=_fingerprint_state(state.get("pii_fingerprints")),
            row_fingerprints={n: RowFingerprints.from_state(f) for n, f in state.get("row_fingerprints", {}).items()},
            pii_links=[PiiLink.from_state(link) for link in state.get("pii_links", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, SchemaError) as exc:
        raise ModelError(f"'{path}' is damaged ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
                         "refit it") from None


def _fingerprint_state(state: dict[str, Any] | None) -> tuple[int, np.ndarray]:
    if state is None:
        return 0, np.zeros(0, dtype=np.uint64)
    return int(state["bits"]), np.asarray(state["values"], dtype=np.uint64)


def _pack(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise ModelError("internal error: object arrays cannot be stored without pickle")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _pack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _unpack(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def fk_key(table: str, schema: Schema, fk: ForeignKey) -> str:
    """Stable key of an FK in :attr:`Model.fk_stats`: ``"table#index"``."""
    return f"{table}#{schema.tables[table].fk_index(fk)}"


@one_blas_thread
def fit_model(schema: Schema, frames: dict[str, pd.DataFrame], seed: int = 0,
              sample: FitSample | None = None, progress: Callable[[str], None] | None = None, *,
              pii: dict[str, str | None] | None = None,
              locale: str = DEFAULT_LOCALE, rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
              synthesizers: Mapping[str, str] | None = None, neural: NeuralOptions | None = None) -> Model:
    """Learn a :class:`Model` from ``frames`` (one per table of ``schema``, frame convention).

    Tables are fitted parent-first. A child's copula includes its driver parent's dimensions;
    each parent's copula includes the children-per-row count of every relationship it drives.

    Columns holding personal data (:func:`~relsynth.transform.pii.detect_pii`, with ``pii``
    overrides ``{"Table.Column": kind or None}``) are generated with Faker in ``locale``, never
    learned; categories fewer than ``rare_category_threshold`` rows hold are not reproduced
    (:func:`~relsynth.transform.rare.suppress_rare_categories`).

    With ``sample`` (:func:`relsynth.subsample.plan_sample`), ``frames`` hold the sampled rows
    and the driver choice, children-per-row counts, secondary-FK degrees and NULL shares,
    dangling references and root row counts come from the key columns of all rows.
    ``progress`` is called with each table's name as its fit starts.

    ``synthesizers`` names what draws each table's dims (:data:`relsynth.models.neural.SYNTHESIZERS`;
    tables not named: ``copula``): ``neural`` adds a network trained with ``neural``'s settings
    (:func:`~relsynth.models.neural.fit_neural`), ``auto`` trains one on tables of at least
    :data:`~relsynth.models.neural.AUTO_MIN_ROWS` rows and two dims and keeps it where it beats
    the copula on held-out rows by :data:`~relsynth.models.neural.AUTO_MIN_GAIN` nats per row.
    """
    missing = [t for t in schema.tables if t not in frames]
    if missing:
        raise SchemaError(f"no data given for table(s) {', '.join(missing)}; pass a frame for every table")
    # Every FK is matched once: the driver choice, the counts and the FK statistics all use it.
    matches = {
        (name, i): match_rows(frames[name], fk.columns, frames[fk.ref_table], fk.ref_columns)
        for name, table in schema.tables.items()
        for i, fk in enumerate(table.foreign_keys)
    }
    # What all rows say: each FK matched within the key columns of the whole source, and each
    # child's key columns (all rows) matched against the sampled parent rows.
    keys, full_matches, to_sample = frames, matches, matches
    if sample is not None:
        keys = {n: sample.keys[n] if n in sample.keys and len(sample.keys[n].columns) else frames[n]
                for n in schema.tables}
        full_matches = sample.matches
        to_sample = {
            (name, i): match_rows(keys[name], fk.columns, frames[fk.ref_table], fk.ref_columns)
            for name, table in schema.tables.items()
            for i, fk in enumerate(table.foreign_keys)
        }
    if not isinstance(rare_category_threshold, int) or isinstance(rare_category_threshold, bool) \
            or rare_category_threshold < 0:
        raise ConfigError(f"rare_category_threshold must be a whole number ≥ 0 (0 keeps every category), "
                          f"got {rare_category_threshold!r}")
    overrides = check_pii_overrides(schema, pii)
    synthesizers = _check_synthesizers(schema, synthesizers)
    if any(v != "copula" for v in synthesizers.values()):
        require_torch()  # before any table is fitted
    drivers = sample.drivers if sample is not None else choose_drivers(schema, frames, matches)
    plan = make_plan(schema, drivers)
    rng = np.random.default_rng(seed)
    notes: list[str] = [
        f"{rule.label} is neither guaranteed nor declared in the target: {rule.problem}"
        for table in schema.tables.values()
        for rule in compile_checks(table, schema.dialect)
        if not rule.enforceable
    ]
    if sample is not None:
        notes += sample.notes

    # Pass 1: every child's parent row under its driver FK, and children-per-row counts.
    parent_rows: dict[str, np.ndarray] = {}
    counts: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for name in plan.order:
        driver = plan.tables[name].driver
        if driver is None:
            continue
        parent = driver.ref_table
        fk_index = schema.tables[name].fk_index(driver)
        rows = matches[(name, fk_index)]
        full = full_matches[(name, fk_index)]
        dangling = int(((full < 0) & ~null_any(keys[name], driver.columns)).sum())
        if dangling:
            notes.append(f"{name}.{driver.label}: {dangling} row(s) point at no {parent} row; "
                         "they were learned as rows without a parent")
        parent_rows[name] = rows
        linked = to_sample[(name, fk_index)]
        counts[parent][TableModel.count_dim(name, fk_index)] = np.bincount(linked[linked >= 0],
                                                                           minlength=len(frames[parent]))

    source = frames
    # What is found about each column (NULL masks, distinct counts, codes), kept from the
    # personal-data scan to the table's fit and its children's.
    facts = {name: ColumnFacts(frame) for name, frame in frames.items()}
    detected, frames, rare = _protect(schema, frames, overrides, rare_category_threshold, seed, facts, locale)
    facts = {name: f if f.frame is frames[name] else ColumnFacts(frames[name]) for name, f in facts.items()}
    # Every personal value of the database: no generated one may equal any of them, whatever its column.
    personal = personal_fingerprints(personal_values(detected, frames))

    # Pass 2: fit each table, children seeing their parent's dims.
    models: dict[str, TableModel] = {}
    scores: dict[str, np.ndarray] = {}
    for name in plan.order:
        if progress is not None:
            progress(name)
        table = schema.tables[name]
        driver = plan.tables[name].driver
        ctx = None
        if driver is not None:
            parent = driver.ref_table
            ctx = ParentContext(models[parent].dims, scores[parent], frames[parent], parent_rows[name],
                                models[parent].encoders, facts[parent])
        models[name], scores[name] = TableModel.fit(
            table, frames[name], rng, fk_columns=table.filled_fk_columns, counts=counts.get(name), parent=ctx,
            driver_columns=driver.columns if driver is not None else [],
            pii=detected[name], locale=locale, min_count=rare_category_threshold, pii_avoid=personal,
            facts=facts[name],
        )
        choice = synthesizers.get(name, "copula")
        if choice == "neural" or (choice == "auto" and len(frames[name]) >= AUTO_MIN_ROWS
                                  and len(models[name].dims) >= 2):
            _fit_network(models[name], scores, frames, name, driver.ref_table if driver is not None else None,
                         parent_rows.get(name), neural or NeuralOptions(), seed, keep_if_better=choice == "auto")
        if sample is not None and name in sample.filters:
            if driver is None:
                models[name].n_rows = sample.rows[name]  # roots are generated at their real size
            else:
                models[name].n_parent_rows = sample.covered[name]

    # Personal columns holding another table's values (the same person's email in two tables
    # without an FK between them): drawn from that table's synthetic rows at sampling.
    copied = {name: {cm.name for cm in models[name].columns if cm.role == "pii" and cm.given} for name in plan.order}
    links = personal_links(schema, plan.order, detected, frames, copied)

    # The source rows as written, fingerprinted, so the sampler can redraw rows equal to one;
    # columns made anew (personal data, UUIDs, generated keys) count as NULL or a value.
    row_prints = {name: RowFingerprints.fit(table, source[name], {cm.name for cm in models[name].columns
                                                                   if cm.role in ("pii", "uuid", "key")})
                  for name, table in schema.tables.items()}

    # Non-driver FKs: NULL share and the degree distribution of their parents.
    fk_stats: dict[str, FKStats] = {}
    for name in plan.order:
        tp = plan.tables[name]
        child = frames[name]
        for fk in tp.secondary + tp.deferred + tp.self_refs:
            parent = frames[fk.ref_table]
            fk_index = schema.tables[name].fk_index(fk)
            rows = matches[(name, fk_index)]
            linked = to_sample[(name, fk_index)]  # every child row's parent row in the sample
            is_null = null_any(keys[name], fk.columns)
            dangling = int(((full_matches[(name, fk_index)] < 0) & ~is_null).sum())
            is_self = fk in tp.self_refs
            if dangling:
                notes.append(f"{name}.{fk.label}: {dangling} row(s) point at no {fk.ref_table} row; "
                             + ("they were learned as roots of the tree" if is_self
                                else "the output gives them existing parents"))
            degree, _ = NumericEncoder.fit_transform(
                np.bincount(linked[linked >= 0], minlength=len(parent)).astype(np.float64), rng, integer=True
            )
            unique = any(set(u) <= set(fk.columns) for u in schema.tables[name].unique_sets)
            tree = None
            if is_self:
                tree, on_cycle = fit_tree(full_matches[(name, fk_index)], rng)
                if on_cycle:
                    notes.append(f"{name}.{fk.label}: {on_cycle} row(s) form cycles through the self-reference "
                                 "(no root above them); they were learned as roots")
            match = follows = same_as = within = None
            if not is_self and not unique:
                match = _attribute_match(schema, models, name, fk, child, parent, rows)
            if fk in tp.secondary and not unique and _copyable(schema.tables[name], fk):
                follows = _follows_driver(schema, plan, name, fk, matches)
                same_as = None if follows is not None else _same_as_sibling(schema, plan, name, fk, matches)
                if follows is None and same_as is None:
                    within = _within_pairs(schema, plan, name, fk, matches)
            fk_stats[fk_key(name, schema, fk)] = FKStats(
                null_rate=float(is_null.mean()) if len(is_null) else 0.0,
                degree=degree, unique=unique, dangling=dangling, tree=tree, match=match, follows=follows,
                same_as=same_as, within=within,
            )
    for note in notes:
        log.warning(note)
    pii_report = {name: {col: {"kind": found.kind, "reason": found.reason,
                               "generator": _how_made(models[name], col, links)}
                         for col, found in cols.items()}
                  for name, cols in detected.items() if cols}
    return Model(schema=schema, tables=models, fk_stats=fk_stats, seed=seed, notes=notes, drivers=drivers,
                 pii=pii_report, rare_categories=rare, locale=locale, rare_category_threshold=rare_category_threshold,
                 pii_fingerprints=personal,
                 row_fingerprints={name: f for name, f in row_prints.items() if f is not None}, pii_links=links)


#: A secondary FK is copied from its driver parent's row where it names the same row as that
#: row's own FK in at least this share of the source rows (see :attr:`FKStats.follows`).
FOLLOW_MIN_SHARE = 0.9


def _follows_driver(schema: Schema, plan: Plan, name: str, fk: ForeignKey,
                    matches: Mapping[tuple[str, int], np.ndarray]) -> list[Any] | None:
    """``[FK index in the driver parent's table, share]`` (:attr:`FKStats.follows`) for the
    secondary FK ``fk`` of ``name``, or None.

    The candidates are the driver parent table's driver and secondary FKs to ``fk``'s table and
    key: those are filled when the parent rows are made, before ``name``'s. The share is over
    the rows where ``fk``, the driver FK and the parent's candidate FK all name a source row.
    """
    table = schema.tables[name]
    driver = plan.tables[name].driver
    if driver is None:
        return None
    parent = schema.tables[driver.ref_table]
    through = matches[(name, table.fk_index(driver))]  # each row's driver parent row
    own = matches[(name, table.fk_index(fk))]  # each row's fk parent row
    seen = (through >= 0) & (own >= 0)
    if not seen.any():
        return None
    ptp = plan.tables[driver.ref_table]
    best: list[Any] | None = None
    for via in ptp.filled:
        if not _same_key(via, fk):
            continue
        index = parent.fk_index(via)
        hops = matches[(driver.ref_table, index)][through[seen]]  # the driver parent's via parent row
        named = hops >= 0  # a parent whose via is NULL has nothing to copy
        if not named.any():
            continue
        share = float((hops[named] == own[seen][named]).mean())
        if share >= FOLLOW_MIN_SHARE and (best is None or share > best[1]):
            best = [index, share]
    return best


def _same_as_sibling(schema: Schema, plan: Plan, name: str, fk: ForeignKey,
                     matches: Mapping[tuple[str, int], np.ndarray]) -> list[Any] | None:
    """``[FK index in name, share]`` (:attr:`FKStats.same_as`) for the secondary FK ``fk``, or
    None: the driver or an earlier secondary FK to the same table and key naming the same row
    in the largest share, at least :data:`FOLLOW_MIN_SHARE`, of the rows where both name one."""
    table = schema.tables[name]
    tp = plan.tables[name]
    earlier = tp.filled[: tp.filled.index(fk)]
    own = matches[(name, table.fk_index(fk))]
    best: list[Any] | None = None
    for sibling in earlier:
        if not _same_key(sibling, fk):
            continue
        index = table.fk_index(sibling)
        theirs = matches[(name, index)]
        both = (own >= 0) & (theirs >= 0)
        if not both.any():
            continue
        share = float((own[both] == theirs[both]).mean())
        if share >= FOLLOW_MIN_SHARE and (best is None or share > best[1]):
            best = [index, share]
    return best


def _within_pairs(schema: Schema, plan: Plan, name: str, fk: ForeignKey,
                  matches: Mapping[tuple[str, int], np.ndarray]) -> list[Any] | None:
    """``[table, its FK index to the driver's table, its FK index to fk's table, share]``
    (:attr:`FKStats.within`) for the secondary FK ``fk``, or None: the table generated before
    ``name`` whose rows pair the driver parent with ``fk``'s parent (a bridge such as
    ``CustomerAddress``) for the largest share, at least :data:`FOLLOW_MIN_SHARE`, of the rows
    where both FKs name a row. ``fk``'s own table is a candidate too, its rows paired with
    themselves (index -1): a ticket's contact is one of its customer's contacts."""
    table = schema.tables[name]
    driver = plan.tables[name].driver
    if driver is None:
        return None
    through = matches[(name, table.fk_index(driver))]
    own = matches[(name, table.fk_index(fk))]
    both = (through >= 0) & (own >= 0)
    if not both.any():
        return None
    span = np.int64(max(int(own.max()) + 1, 1))
    pairs = through[both] * span + own[both]
    best: list[Any] | None = None
    for bridge in plan.order[: plan.order.index(name)]:
        filled = plan.tables[bridge].filled
        for to_driver in filled:
            if not _same_key(to_driver, driver):
                continue
            for to_parent in filled + ([None] if bridge == fk.ref_table else []):
                if to_parent is not None and (to_parent is to_driver or not _same_key(to_parent, fk)):
                    continue
                i = schema.tables[bridge].fk_index(to_driver)
                j = schema.tables[bridge].fk_index(to_parent) if to_parent is not None else -1
                a = matches[(bridge, i)]
                b = matches[(bridge, j)] if to_parent is not None else np.arange(a.size)
                held = (a >= 0) & (b >= 0) & (b < span)
                share = float(np.isin(pairs, a[held] * span + b[held]).mean())
                if share >= FOLLOW_MIN_SHARE and (best is None or share > best[3]):
                    best = [bridge, i, j, share]
    return best


def _same_key(a: ForeignKey, b: ForeignKey) -> bool:
    """Whether two FKs reference the same table and key, so one's values may stand for the other's."""
    return a.ref_table == b.ref_table and sorted(a.ref_columns) == sorted(b.ref_columns)


def _copyable(table: Table, fk: ForeignKey) -> bool:
    """Whether ``fk``'s values may be copied from another row's or FK's (:attr:`FKStats.follows`,
    :attr:`FKStats.same_as`, :attr:`FKStats.within`): not where one of its columns belongs to
    another FK too, whose rows the copy could break."""
    shared = {c for other in table.foreign_keys if other is not fk for c in other.columns}
    return not shared & set(fk.columns)


def _check_synthesizers(schema: Schema, synthesizers: Mapping[str, str] | None) -> dict[str, str]:
    """``synthesizers`` checked against the schema's tables and the synthesizers' names."""
    from relsynth.config import check_synthesizer, table_synthesizers

    for name, value in (synthesizers or {}).items():
        check_synthesizer(value, f"synthesizer of table {name}")
    return table_synthesizers("copula", {n: {"synthesizer": v} for n, v in (synthesizers or {}).items()},
                              list(schema.tables))


def _fit_network(tm: TableModel, scores: dict[str, np.ndarray], frames: dict[str, pd.DataFrame], name: str,
                 parent: str | None,
                 rows: np.ndarray | None, options: NeuralOptions, seed: int, keep_if_better: bool) -> None:
    """Train ``tm``'s neural synthesizer on its own scores given its driver parent's (``rows``:
    each row's parent row, -1 for none); ``keep_if_better``: keep it only where it beats the copula."""
    own = scores[name]
    if own.shape[1] == 0:
        return
    context = has_parent = parent_frame = None
    if parent is not None and rows is not None:
        has_parent = rows >= 0
        context = scores[parent][np.where(has_parent, rows, 0)]
        parent_frame = frames[parent].iloc[np.where(has_parent, rows, 0)].reset_index(drop=True)
        parent_frame = parent_frame.astype(object).where(pd.Series(has_parent), None)
    table_seed = int(np.random.default_rng([seed, *name.encode()]).integers(2**62))
    network = fit_neural(context, own, tm.dims, tm.encoders, has_parent, options, table_seed, name, tm.corr,
                         tm.category_edges(parent_frame, own.shape[0]))
    log.info("%s: neural synthesizer trained for %d epoch(s) in %.1fs, held-out gain over the copula %s nats/row",
             name, network.epochs, network.seconds, "n/a" if network.gain is None else f"{network.gain:.3f}")
    if keep_if_better and (network.gain is None or network.gain < AUTO_MIN_GAIN):
        return
    tm.neural = network


def _how_made(model: TableModel, column: str, links: list[PiiLink] = ()) -> str:
    cm = next(c for c in model.columns if c.name == column)
    if cm.role != "pii":
        return f"not generated as personal data: the column is a {cm.role} column"
    how = cm.generator.describe()
    for link in links:
        if link.table == model.name and column in link.columns:
            source = link.source_columns[link.columns.index(column)]
            return f"in {link.share:.0%} of rows a generated {link.source_table} row's {source}, else {how}"
    return f"the parent row's {cm.given.removeprefix('parent:')}, else {how}" if cm.given else how


def _protect(schema: Schema, frames: dict[str, pd.DataFrame], overrides: dict[str, dict[str, str | None]],
             k: int, seed: int, facts: dict[str, ColumnFacts], locale: str,
             ) -> tuple[dict[str, dict[str, PiiColumn]], dict[str, pd.DataFrame], dict[str, dict[str, int]]]:
    """Per table: the personal-data columns, the frames with rare categories rewritten, and
    how many rare categories each rewritten column had (``facts``: each frame's column facts;
    ``locale``: Faker's, for the all-rare countries and companies)."""
    detected = {name: detect_pii(table, frames[name], set(table.primary_key) | set(table.fk_columns),
                                 overrides.get(name), facts[name].present)
                for name, table in schema.tables.items()}
    personal = {str(v).strip().casefold() for v in personal_values(detected, frames)} - {""}
    protected = dict(frames)
    rare: dict[str, dict[str, int]] = {}
    rng = np.random.default_rng([seed, 7])  # apart from the fit's own stream
    for name, table in schema.tables.items():
        frame = frames[name]
        found = detected[name]
        skip = set(table.primary_key) | set(table.fk_columns) | set(found) | _listed_in_checks(table)
        for col in table.columns:
            if col.name in frame and col.kind == "string" and (
                    generated_style(col.kind, col.native_type, col.element_kind) is not None
                    or is_free_text(facts[name].distinct(col.name), int(facts[name].present(col.name).sum()))):
                skip.add(col.name)
        # Contact data makes a table one of people (or firms); free text and URLs alone do not.
        people = any(p.kind not in ("text", "url") for p in found.values())
        protected[name], changed = suppress_rare_categories(table, frame, k, skip, people, rng, personal, locale)
        if changed:
            rare[name] = changed
    return detected, protected, rare


def _listed_in_checks(table: Table) -> set[str]:
    """Columns an ENUM type or a CHECK limits to a list of values (``col IN ('a', 'b')``): their
    domain is the schema's, public, so even a rare one of them may be reproduced."""
    listed = {c.name for c in table.columns if c.enum_values}
    for check in table.checks:
        for match in re.finditer(r"[\"`\[]?([^\s\"`\[\]()]+)[\"`\]]?\s+IN\s*\(", check.sqltext, re.IGNORECASE):
            listed.add(match.group(1))
    return listed


#: Smallest |Spearman rho| of a parent/child pair of numbers for parent assignment to keep it.
MATCH_MIN_RHO = 0.3
_MATCH_ROWS = 50_000
_MATCH_KINDS = {"integer", "float", "decimal", "date", "datetime"}


def _attribute_match(schema: Schema, models: dict[str, TableModel], name: str, fk: ForeignKey,
                     child: pd.DataFrame, parent: pd.DataFrame, rows: np.ndarray) -> list[Any] | None:
    """The learned numeric pair (parent column, child column) most correlated across ``fk``."""
    def numeric(table: str) -> list[str]:
        return [c.name for c in models[table].columns
                if c.role == "copula" and c.kind in _MATCH_KINDS and not c.offset_ref]

    pcols, ccols = numeric(fk.ref_table), numeric(name)
    linked = np.flatnonzero(rows >= 0)
    if not pcols or not ccols or linked.size < 20:
        return None
    if linked.size > _MATCH_ROWS:
        linked = np.random.default_rng(0).choice(linked, _MATCH_ROWS, replace=False)

    def ranks(frame: pd.DataFrame, cols: list[str], at: np.ndarray, table: str) -> np.ndarray:
        kinds = {c.name: c.kind for c in schema.tables[table].columns}
        out = np.empty((at.size, len(cols)))
        for j, c in enumerate(cols):
            values = frame[c].iloc[at].reset_index(drop=True)
            x = np.full(at.size, np.nan)
            ok = values.notna().to_numpy()
            x[ok] = to_number(values[ok], kinds[c])
            out[:, j] = pd.Series(x).rank().to_numpy()
        return out

    pr, cr = ranks(parent, pcols, rows[linked], fk.ref_table), ranks(child, ccols, linked, name)
    best: tuple[float, list[Any] | None] = (MATCH_MIN_RHO, None)
    for i, p in enumerate(pcols):
        for j, c in enumerate(ccols):
            ok = ~(np.isnan(pr[:, i]) | np.isnan(cr[:, j]))
            if ok.sum() < 20 or pr[ok, i].std() == 0 or cr[ok, j].std() == 0:
                continue
            rho = float(np.corrcoef(pr[ok, i], cr[ok, j])[0, 1])
            if abs(rho) > best[0]:
                best = (abs(rho), [p, c, round(rho, 4)])
    return best[1]


def choose_drivers(
    schema: Schema, frames: dict[str, pd.DataFrame], matches: dict[tuple[str, int], np.ndarray]
) -> dict[str, int]:
    """For tables with several parents, the FK whose parent rows most often have children.

    ``matches`` holds each FK's parent row per child row, keyed ``(table, fk index)``.

    Generating children under the parent they cover best (lines under their invoice, not under
    the track they happen to sell) keeps the children-per-parent shape where it says most, and
    leaves the sparse relationships to the degree-preserving assignment.
    """
    base = make_plan(schema)
    drivers: dict[str, int] = {}
    for name, tp in base.tables.items():
        candidates = tp.filled
        if len(candidates) < 2:
            continue
        child = frames[name]

        def score(fk: ForeignKey) -> tuple[float, int]:
            parent = frames[fk.ref_table]
            if len(parent) == 0 or len(child) == 0:
                return (0.0, 0)
            rows = matches[(name, schema.tables[name].fk_index(fk))]
            covered = rows_covered(rows) / len(parent)
            linked = float((rows >= 0).mean())
            return (covered * linked, base.tables[fk.ref_table].depth)

        best = max(candidates, key=score)
        drivers[name] = schema.tables[name].fk_index(best)
    return drivers
