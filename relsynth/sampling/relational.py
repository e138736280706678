"""The relational sampler: parent-first generation where every FK points at a synthetic parent.

For each table in plan order:

1. rows: tables without a driver FK get ``scale × source rows``; a child gets, for each synthetic
   parent row, the children-per-row count decoded from the parent's own copula draw, plus rows
   without a parent at the source's rate;
2. values: the child's copula is drawn conditioned on its parent's normal scores;
3. keys: new primary keys; the driver FK copies the parent's key; secondary FKs are assigned to
   existing parents following each parent's degree distribution; self-references form a forest;
4. CHECK constraints are enforced: rows that break one get fresh values under the same parent;
5. UNIQUE sets (the primary key included) are enforced: colliding FK draws are redrawn, rows that
   still collide are dropped before any child is generated under them (and, for both steps,
   before the table's self-references are drawn, so no row points at a dropped one).

FKs cut to break a cycle are filled after every table exists.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from relsynth.errors import ConfigError
from relsynth.models.copula import TableModel, from_number, stratify
from relsynth.models.relational import FKStats, Model, fk_key
from relsynth.schema.checks import CheckRule, compile_checks
from relsynth.schema.frames import numeric_values
from relsynth.schema.model import ForeignKey, Table
from relsynth.transform.encoders import CategoricalEncoder, TextGenerator, UuidGenerator
from relsynth.transform.keys import adjust_total, assign_parents, pair_by_attribute, take_keys
from relsynth.transform.trees import grow_forest, random_forest

__all__ = ["check_scale", "check_seed", "sample_model"]

log = logging.getLogger("relsynth")

#: Attempts at redrawing rows that break a CHECK, or FK values that collide on a UNIQUE set,
#: before dropping the rows.
_REDRAWS = 25


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


def sample_model(model: Model, scale: float = 1.0, seed: int | None = None) -> dict[str, pd.DataFrame]:
    """Draw a synthetic database from ``model`` (see :meth:`relsynth.models.relational.Model.sample`)."""
    scale = check_scale(scale)
    seed = check_seed(seed)
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    schema = model.schema
    plan = model.plan
    frames: dict[str, pd.DataFrame] = {}
    scores: dict[str, np.ndarray] = {}
    checks = {name: [r for r in compile_checks(t, schema.dialect) if r.enforceable] for name, t in schema.tables.items()}
    for position, name in enumerate(plan.order):
        rng = np.random.default_rng([int(seed), position])
        table = schema.tables[name]
        tm = model.tables[name]
        tp = plan.tables[name]
        driver = tp.driver
        parent_frame = None
        if driver is None:
            z = stratify(tm.sample_scores(None, int(round(tm.n_rows * scale)), rng))
            rows = np.full(z.shape[0], -1, dtype=np.int64)
        else:
            parent = driver.ref_table
            ptm = model.tables[parent]
            pz = scores[parent]
            counts = ptm.decode_counts(ptm.count_dim(name, table.fk_index(driver)), pz, frames[parent])
            ratio = pz.shape[0] / tm.n_parent_rows if tm.n_parent_rows else scale
            # Small parents (lookups) make the sum of sampled counts swing widely: bring it to the
            # expected total with the least change to each parent's count.
            counts = adjust_total(counts, int(round((tm.n_rows - tm.n_unparented) * ratio)), rng)
            parent_rows = np.repeat(np.arange(pz.shape[0]), counts)
            n_free = int(round(tm.n_unparented * ratio))
            ctx_idx = [ptm.dims.index(d) for d in tm.context]
            rows = np.concatenate([parent_rows, np.full(n_free, -1, dtype=np.int64)])
            if n_free and not table.fk_nullable(driver):
                # The source had rows whose NOT NULL FK matched nothing: give them real parents.
                rows[rows < 0] = rng.integers(0, max(pz.shape[0], 1), size=n_free) if pz.shape[0] else -1
            parent_frame = _aligned(frames[parent], rows)
            z = stratify(tm.sample_scores(pz[parent_rows][:, ctx_idx], n_free, rng, parent_frame))
        frame = tm.decode(table, z, rng, parent_frame, stratified=True)
        _fill_keys(tm, table, frame, rng, rows)
        if driver is not None:
            for col, values in zip(driver.columns, take_keys(frames[driver.ref_table], driver.ref_columns, rows).values()):
                frame[col] = values
            keep = rows >= 0 if not table.fk_nullable(driver) else np.ones(len(frame), dtype=bool)
            frame, z, rows = frame[keep].reset_index(drop=True), z[keep], rows[keep]
        for fk in tp.secondary:
            _fill_fk(frame, table, fk, frames[fk.ref_table], model.fk_stats[fk_key(name, schema, fk)], rng)
        _number_within_key(tm, table, frame)
        frame, z = _enforce_checks(frame, z, rows, checks[name], _Redraw(model, name, driver, frames, scores, rng))
        frame, z = _enforce_unique(frame, z, table, tp.secondary, frames, model, rng)
        # Last: rows dropped above must not be anybody's parent.
        for fk in tp.self_refs:
            _fill_self_ref(frame, table, fk, model.fk_stats[fk_key(name, schema, fk)], rng)
        frames[name] = frame
        scores[name] = z

    for name in plan.order:
        for fk in plan.tables[name].deferred:
            rng = np.random.default_rng([int(seed), len(plan.order), schema.tables[name].fk_index(fk)])
            _fill_fk(frames[name], schema.tables[name], fk, frames[fk.ref_table],
                     model.fk_stats[fk_key(name, schema, fk)], rng)

    return {name: _finalize(frames[name], schema.tables[name]) for name in schema.tables}


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
               parent_rows: np.ndarray) -> None:
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
            frame[cm.name] = from_number(np.arange(cm.key_start, cm.key_start + n, dtype=np.float64),
                                         "integer" if cm.kind in ("float", "decimal") else cm.kind)
        else:
            frame[cm.name] = pd.Series([f"{i}" for i in range(cm.key_start, cm.key_start + n)], dtype=object)


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
) -> None:
    """Assign ``fk`` for all rows (or those in ``rows_mask``) from existing parent rows."""
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
            chosen = rng.permutation(n_parent)[:m]
            if chosen.size < m:  # more one-to-one children than parents: the rest must stay NULL
                live[np.flatnonzero(live)[chosen.size:]] = False
            rows[live] = chosen
        else:
            degrees = stats.degree.decode(rng.standard_normal(n_parent))
            slots = assign_parents(m, degrees, rng)
            if stats.match is not None:
                p_col, c_col, rho = stats.match
                parent_x = numeric_values(parent[p_col])[slots]
                child_x = numeric_values(frame[c_col].iloc[target[live]])
                slots = pair_by_attribute(slots, parent_x, child_x, float(rho), rng)
            rows[live] = slots
    for col, values in zip(fk.columns, take_keys(parent, fk.ref_columns, rows).values()):
        if rows_mask is None:
            frame[col] = values
        else:
            column = frame[col].astype(values.dtype) if len(values) else frame[col]
            column.iloc[target] = values.to_numpy()
            frame[col] = column


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

    Keys and FKs stay; every other column is decoded from a new conditional copula draw (the
    children-per-row counts in the scores are redrawn with them: no child exists yet).
    """

    def __init__(self, model: Model, name: str, driver: ForeignKey | None, frames: dict[str, pd.DataFrame],
                 scores: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        self.model, self.name, self.driver, self.frames, self.scores, self.rng = model, name, driver, frames, scores, rng
        self.table = model.schema.tables[name]
        self.tm = model.tables[name]

    def __call__(self, frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, idx: np.ndarray) -> None:
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
        drawn = self.tm.sample_scores(context, int((~linked).sum()), self.rng, drawn_parents)
        new_z = np.empty_like(drawn)
        new_z[drawn_order] = drawn
        fresh = self.tm.decode(self.table, new_z, self.rng, parent_frame)
        z[idx] = new_z
        keyed = set(self.table.primary_key) | self.table.fk_columns
        for col in (c.name for c in self.table.columns if c.name not in keyed):
            column = frame[col].copy()
            column.iloc[idx] = fresh[col].array
            frame[col] = column


def _enforce_checks(
    frame: pd.DataFrame, z: np.ndarray, parent_rows: np.ndarray, rules: list[CheckRule], redraw: _Redraw
) -> tuple[pd.DataFrame, np.ndarray]:
    """Make every row satisfy the table's CHECK constraints.

    Rows that break one get fresh values (same parent) up to :data:`_REDRAWS` times; the few that
    still break one are dropped, before any child is generated under them.
    """
    if not rules or len(frame) == 0:
        return frame, z
    bad = _broken(frame, rules)
    for _ in range(_REDRAWS):
        if not bad.any():
            return frame, z
        idx = np.flatnonzero(bad)
        redraw(frame, z, parent_rows, idx)
        bad[idx] = _broken(frame.iloc[idx], rules)
    if bad.any():
        log.info("%s: dropped %d row(s) that kept breaking a CHECK constraint", redraw.name, int(bad.sum()))
        frame, z = frame[~bad].reset_index(drop=True), z[~bad]
    return frame, z


def _broken(frame: pd.DataFrame, rules: list[CheckRule]) -> np.ndarray:
    ok = np.ones(len(frame), dtype=bool)
    for rule in rules:
        ok &= rule.holds(frame)
    return ~ok


def _enforce_unique(
    frame: pd.DataFrame,
    z: np.ndarray,
    table: Table,
    secondary: list[ForeignKey],
    frames: dict[str, pd.DataFrame],
    model: Model,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Make every UNIQUE set (PK included) unique.

    Colliding values of a single learned text column are replaced by unused categories, then by
    new pattern-generated text; colliding secondary FKs are redrawn; rows still colliding are
    dropped (before any child row is generated under them).
    """
    tm = model.tables[table.name]
    for columns in table.unique_sets:
        if len(columns) == 1:
            _repair_unique_text(frame, tm, columns[0], rng)
        for _ in range(_REDRAWS):
            dup = _duplicates(frame, columns)
            if not dup.any():
                break
            movable = [fk for fk in secondary if set(fk.columns) & set(columns)]
            if not movable:
                break
            for fk in movable:
                _fill_fk(frame, table, fk, frames[fk.ref_table],
                         model.fk_stats[fk_key(table.name, model.schema, fk)], rng, rows_mask=dup)
        dup = _duplicates(frame, columns)
        if dup.any():
            frame, z = frame[~dup].reset_index(drop=True), z[~dup]
    return frame, z


def _repair_unique_text(frame: pd.DataFrame, tm: TableModel, column: str, rng: np.random.Generator) -> None:
    cm = next(c for c in tm.columns if c.name == column)
    enc = tm.encoders.get(cm.value_dim)
    if cm.role != "copula" or not isinstance(enc, CategoricalEncoder):
        return
    dup = _duplicates(frame, [column])
    if not dup.any():
        return
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
            s = pd.to_numeric(s).astype("Int64") if len(s) else s.astype("Int64")
        elif col.kind in ("float", "decimal"):
            s = pd.to_numeric(s).astype("float64")
        elif col.kind == "boolean":
            s = s.astype("boolean")
        elif col.kind in ("date", "datetime"):
            s = pd.to_datetime(s)
        else:
            s = s.astype(object).where(s.notna(), None)
            if col.kind == "string" and col.length and len(s):
                lengths = s.str.len().to_numpy(dtype=np.float64, na_value=0.0)
                if (lengths > col.length).any():
                    s = s.where(s.isna(), s.astype(str).str.slice(0, col.length))
        out[col.name] = s.reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
