"""Targeted draws from a table's Gaussian copula: conditions as intervals of normal scores.

Every encoder maps a column's values onto intervals of its latent normal axis: a category owns
a slice as wide as its frequency, a numeric's values are monotone in their score. So "smoker
= true" is one interval of the smoker dim, "age >= 70" a half-line of the age dim, a set of
categories a union of slices, and a row whose values are known (a parent row supplied by the
user) a point or a slice on every dim. Conditioning the copula on such values is drawing from
a *truncated* multivariate normal: :func:`truncated_gaussian` draws the constrained dims by
Gibbs sampling, each one from its exact conditional (a normal truncated to a union of
intervals, by inverse CDF), vectorized over all rows, and then the free dims from the Gaussian
conditional given them. No rejection is involved where the intervals are exact.

Two kinds of encoders make the interval depend on another value of the row: a numeric with a
marginal per category (a lab value per test) and a category with frequencies per bin of a
numeric (insurance by age). For those the interval is the union over the categories or bins
the row could be in — a superset — and :class:`TableTarget` checks the decoded rows; the few
that miss are redrawn (bounded) by the sampler, as rows breaking a CHECK constraint are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relsynth.config import Condition, Rebalance, coerce_value
from relsynth.errors import ConfigError, did_you_mean
from relsynth.schema.model import Table
from relsynth.transform.encoders import (
    CategoricalEncoder,
    ConditionalCategoricalEncoder,
    ConditionalNumericEncoder,
    NumericEncoder,
)
from relsynth.transform.normal import ndtr, ndtri

__all__ = ["GIBBS_SWEEPS", "LatentBounds", "TableTarget", "known_row_bounds", "rows_of", "truncated_gaussian"]

#: Gibbs sweeps over the constrained dims (one dim alone is drawn exactly, without sweeps).
GIBBS_SWEEPS = 20

#: Per own dim (its index in ``TableModel.dims``), the allowed intervals of its normal score:
#: ``(lo, hi)`` arrays of shape ``(rows, pieces)`` or ``(1, pieces)`` for every row alike. A
#: piece with ``lo > hi`` is empty (padding); ``lo == hi`` is a single point.
LatentBounds = dict[int, tuple[np.ndarray, np.ndarray]]

_NUMERIC_KINDS = {"integer", "float", "decimal", "date", "datetime", "time"}


# ---------------------------------------------------------------------------- drawing
def truncated_gaussian(mean: np.ndarray, cov: np.ndarray, bounds: LatentBounds, rng: np.random.Generator,
                       sweeps: int = GIBBS_SWEEPS) -> np.ndarray:
    """Rows of ``N(mean[i], cov)`` with each dim in ``bounds`` inside its intervals.

    Without bounds this is exactly the plain draw ``mean + ε @ sqrt(cov)ᵀ`` (same random
    numbers). With bounds, the constrained dims start from their own truncated marginals and
    are swept ``sweeps`` times (Gibbs; each update an exact truncated draw), then the other dims
    are drawn from the Gaussian conditional given them.
    """
    n, d = mean.shape
    if not bounds or n == 0:
        return mean + rng.standard_normal((n, d)) @ _sqrtm(cov).T
    fixed = sorted(bounds)
    free = [j for j in range(d) if j not in bounds]
    s_cc = cov[np.ix_(fixed, fixed)] + 1e-9 * np.eye(len(fixed))
    mu = mean[:, fixed]
    zc = np.empty((n, len(fixed)))
    for i, j in enumerate(fixed):
        zc[:, i] = _interval_normal(mu[:, i], np.sqrt(max(cov[j, j], 1e-12)), *bounds[j], rng)
    if len(fixed) > 1:
        precision = np.linalg.inv(s_cc)
        for _ in range(sweeps):
            for i, j in enumerate(fixed):
                rest = zc - mu
                rest[:, i] = 0.0
                m = mu[:, i] - rest @ precision[i] / precision[i, i]
                zc[:, i] = _interval_normal(m, 1.0 / np.sqrt(precision[i, i]), *bounds[j], rng)
    out = np.empty((n, d))
    out[:, fixed] = zc
    if free:
        b = np.linalg.solve(s_cc, cov[np.ix_(fixed, free)])
        rest_cov = cov[np.ix_(free, free)] - cov[np.ix_(free, fixed)] @ b
        out[:, free] = mean[:, free] + (zc - mu) @ b + rng.standard_normal((n, len(free))) @ _sqrtm(rest_cov).T
    return out


def _interval_normal(m: np.ndarray, s: float, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``N(m, s²)`` truncated to the union of the row's intervals (inverse CDF).

    A piece is chosen with probability proportional to its mass, then a point within it; tails
    are read on the side where they do not round to 1. A row whose pieces have no mass the
    floats can see (a point, or far out in a tail) takes the point of its nearest piece closest
    to ``m``.
    """
    n = m.shape[0]
    lo = np.broadcast_to(lo, (n, lo.shape[1]))
    hi = np.broadcast_to(hi, (n, hi.shape[1]))
    valid = lo <= hi
    a = (lo - m[:, None]) / s
    b = (hi - m[:, None]) / s
    upper = a > 0  # the piece lies right of the mean: work with upper tails
    pa = np.where(upper, ndtr(-a), ndtr(a))
    pb = np.where(upper, ndtr(-b), ndtr(b))
    mass = np.where(valid, np.abs(pb - pa), 0.0)
    total = mass.sum(axis=1)
    pick = (np.cumsum(mass, axis=1) < (rng.random(n) * total)[:, None]).sum(axis=1)
    pick = np.minimum(pick, lo.shape[1] - 1)
    rows = np.arange(n)
    v = rng.random(n)
    p = pa[rows, pick] + v * (pb[rows, pick] - pa[rows, pick])
    z = np.where(upper[rows, pick], -ndtri(p), ndtri(p))
    x = m + s * np.clip(z, a[rows, pick], b[rows, pick])
    lost = ~(total > 0)
    if lost.any():
        distance = np.where(valid, np.maximum(lo - m[:, None], 0) + np.maximum(m[:, None] - hi, 0), np.inf)
        near = np.argmin(distance, axis=1)
        x[lost] = np.clip(m, lo[rows, near], hi[rows, near])[lost]
    return x


def _sqrtm(cov: np.ndarray) -> np.ndarray:
    """A matrix L with L @ L.T == cov (eigen-based, tolerant of tiny negative eigenvalues)."""
    if cov.size == 0:
        return cov
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    return v * np.sqrt(np.maximum(w, 0.0))


def rows_of(bounds: LatentBounds | None, rows: np.ndarray | slice) -> LatentBounds | None:
    """``bounds`` for a subset of the rows (shared ``(1, pieces)`` bounds stay as they are)."""
    if not bounds:
        return bounds
    return {j: (lo if lo.shape[0] == 1 else lo[rows], hi if hi.shape[0] == 1 else hi[rows])
            for j, (lo, hi) in bounds.items()}


# ------------------------------------------------------------------ values → intervals
def _cells(cum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper uniform bound of each cell of a step encoder (cell i decodes u in [lo, hi))."""
    cum = np.asarray(cum, dtype=np.float64)
    return np.r_[0.0, cum[:-1]], cum


def _merge(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A union of intervals as few disjoint ones (empty ones dropped)."""
    keep = lo <= hi
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        return lo, hi
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    start = np.r_[True, lo[1:] > np.maximum.accumulate(hi)[:-1]]
    return lo[start], np.maximum.reduceat(hi, np.flatnonzero(start))


def _u_at_least(values: np.ndarray, cum: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Smallest u whose piecewise-linear quantile ``interp(u, cum, values)`` is ≥ x (2 where none is)."""
    i = np.searchsorted(values, x, side="left")
    inner = (i > 0) & (i < values.size)
    j = np.clip(i, 1, values.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = cum[j - 1] + (x - values[j - 1]) / (values[j] - values[j - 1]) * (cum[j] - cum[j - 1])
    return np.where(i == 0, 0.0, np.where(inner, u, 2.0))


def _u_at_most(values: np.ndarray, cum: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Largest u whose quantile is ≤ x (-1 where none is)."""
    j = np.searchsorted(values, x, side="right")
    inner = (j > 0) & (j < values.size)
    k = np.clip(j, 1, values.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = cum[k - 1] + (x - values[k - 1]) / (values[k] - values[k - 1]) * (cum[k] - cum[k - 1])
    return np.where(j >= values.size, 1.0, np.where(inner, u, -1.0))


def _numeric_intervals(enc: NumericEncoder, cond: Condition) -> tuple[np.ndarray, np.ndarray]:
    """Uniform intervals of a numeric encoder whose decoded values satisfy ``cond`` (in numbers)."""
    values = np.asarray(enc.values, dtype=np.float64)
    if enc.discrete:
        lo, hi = _cells(enc.cum)
        ok = cond.holds(pd.Series(values))
        return _merge(lo[ok], hi[ok])
    decimals = 0 if enc.integer else enc.decimals
    unit = 10.0 ** -decimals if decimals is not None else 0.0
    half = unit / 2
    if cond.values is not None:
        x = np.array([v for v in cond.values if v is not None], dtype=np.float64)
        return _merge(_u_at_least(values, enc.cum, x - half), _u_at_most(values, enc.cum, x + half))
    lo_x, hi_x = -np.inf, np.inf
    if cond.min is not None:
        lo_x = _on_grid(float(cond.min), unit, cond.strict_min, up=True) - half
    if cond.max is not None:
        hi_x = _on_grid(float(cond.max), unit, cond.strict_max, up=False) + half
    return _merge(_u_at_least(values, enc.cum, np.array([lo_x])), _u_at_most(values, enc.cum, np.array([hi_x])))


def _on_grid(x: float, unit: float, strict: bool, up: bool) -> float:
    """The nearest value on the column's rounding grid that a bound lets in (``up``: a lower bound)."""
    if unit == 0.0:
        return x
    k = x / unit
    if up:
        return (np.floor(k + 1e-9) + 1 if strict else np.ceil(k - 1e-9)) * unit
    return (np.ceil(k - 1e-9) - 1 if strict else np.floor(k + 1e-9)) * unit


def _category_intervals(categories: list[Any], cum: np.ndarray, cond: Condition) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = _cells(cum)
    ok = cond.holds(pd.Series(list(categories), dtype=object))
    return _merge(lo[ok], hi[ok])


def _encoder_intervals(enc: Any, cond: Condition, given: Condition | None) -> tuple[np.ndarray, np.ndarray]:
    """Uniform intervals of ``enc`` under which a decoded value satisfies ``cond``.

    Exact for plain encoders; for conditional ones the union over the categories (those
    ``given`` allows, where the column they follow is conditioned too) or bins: a superset.
    """
    if isinstance(enc, NumericEncoder):
        return _numeric_intervals(enc, cond)
    if isinstance(enc, CategoricalEncoder):
        return _category_intervals(enc.categories, enc.cum, cond)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    if isinstance(enc, ConditionalNumericEncoder):
        subs = [e for c, e in zip(enc.categories, enc.encoders)
                if given is None or given.holds(pd.Series([c], dtype=object))[0]]
        if given is None or given.values is None or any(v not in enc.categories for v in given.values):
            subs.append(enc.pooled)
        pieces = [_numeric_intervals(e, cond) for e in subs]
    elif isinstance(enc, ConditionalCategoricalEncoder):
        pieces = [_category_intervals(enc.categories, row, cond) for row in enc.cum]
    if not pieces:
        return np.zeros(0), np.zeros(0)
    return _merge(np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))


def _intersect(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The intersection of two shared ``(1, pieces)`` unions of intervals (as one)."""
    lo = np.maximum(a[0][0][:, None], b[0][0][None, :]).ravel()
    hi = np.minimum(a[1][0][:, None], b[1][0][None, :]).ravel()
    lo, hi = _merge(lo, hi)
    if lo.size == 0:
        raise ConfigError("the conditions on one column (directly and through a date it follows) leave no value; "
                          "widen them")
    return lo[None, :], hi[None, :]


def _to_z(lo_u: np.ndarray, hi_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uniform intervals → normal-score intervals: ``(pieces,)`` arrays (every row alike) as
    ``(1, pieces)``, ``(rows, pieces)`` arrays as they are."""
    with np.errstate(divide="ignore"):
        lo = ndtri(np.clip(lo_u, 0.0, 1.0))
        hi = ndtri(np.clip(hi_u, 0.0, 1.0))
    return (lo[None, :], hi[None, :]) if lo.ndim == 1 else (lo, hi)


def _parent_cells(enc: ConditionalCategoricalEncoder, given: str, parent_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cells ``(rows, categories)`` of a category whose frequencies follow a parent
    column: the parent row is known before the draw, so the slices are exact per row."""
    from relsynth.models.copula import _given_numbers

    cum = enc.cum[enc.bins(_given_numbers(given, enc, {}, parent_frame, len(parent_frame)))]
    return np.hstack([np.zeros((cum.shape[0], 1)), cum[:, :-1]]), cum


def _as_numbers(cond: Condition, kind: str) -> Condition:
    """``cond`` with its values in the unit the column's numeric encoder works in (dates as days,
    datetimes as seconds)."""
    from relsynth.models.copula import to_number

    if kind not in ("date", "datetime", "time"):
        return cond

    def num(v: Any) -> Any:
        return None if v is None else float(to_number(pd.Series([v]), kind)[0])

    if cond.values is not None:
        return Condition(cond.column, values=[num(v) for v in cond.values])
    return Condition(cond.column, min=num(cond.min), max=num(cond.max),
                     strict_min=cond.strict_min, strict_max=cond.strict_max)


# ---------------------------------------------------------------------------- targets
@dataclass
class _Rule:
    """The exact check of a target on decoded rows (frame index = row number of the draw)."""

    target: TableTarget
    assigned: np.ndarray | None

    def subset(self, keep: np.ndarray) -> _Rule:
        """The rule for the kept rows (renumbered from 0, as the frame is)."""
        return _Rule(self.target, None if self.assigned is None else self.assigned[keep])

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        """Whether each row satisfies every condition and has the category assigned to it."""
        ok = self.target.meets(frame)
        if self.assigned is not None and self.target.rebalance is not None:
            wanted = self.assigned[frame.index.to_numpy()]
            got = frame[self.target.rebalance.column].to_numpy(dtype=object)
            ok &= np.asarray(got == wanted, dtype=bool)
        return ok


class TableTarget:
    """What the rows of one table must satisfy, and the latent bounds that make a draw do so.

    Built from a table's :class:`~relsynth.config.Condition`\\ s and :class:`~relsynth.config.Rebalance`
    against its fitted model; an impossible condition (no value the model can produce satisfies
    it) is a :class:`~relsynth.errors.ConfigError` here, before anything is drawn.
    """

    def __init__(self, tm: Any, table: Table, conditions: list[Condition], rebalance: Rebalance | None) -> None:
        self.tm, self.table = tm, table
        self.conditions = [self._coerced(c) for c in conditions]
        self.rebalance = rebalance
        self.shared: LatentBounds = {}
        #: Dims of categories that follow a parent column, made exact per row once the parents are known.
        self.by_parent: dict[int, tuple[Condition, ConditionalCategoricalEncoder, str]] = {}
        by_column = {c.column: c for c in self.conditions}
        for cond in self.conditions:
            for j, piece in self._bounds(cond, by_column).items():
                self.shared[j] = _intersect(self.shared[j], piece) if j in self.shared else piece
        self.categories: list[Any] = []
        self.shares = np.zeros(0)
        self.rebalanced_dim, self.rebalanced_by_parent = -1, False
        self.category_bounds: list[LatentBounds] = []
        if rebalance is not None:
            self._plan_rebalance(by_column)

    def meets(self, frame: pd.DataFrame) -> np.ndarray:
        """Whether each decoded row satisfies every condition (rebalancing aside)."""
        ok = np.ones(len(frame), dtype=bool)
        for cond in self.conditions:
            ok &= cond.holds(frame[cond.column])
        return ok

    def describe(self) -> str:
        """The target in words, for messages."""
        parts = [f"{self.table.name}.{c}" for c in self.conditions]
        if self.rebalance is not None:
            parts.append(f"{self.table.name}.{self.rebalance.column} rebalanced")
        return "; ".join(parts)

    # -------------------------------------------------------------- building
    def _coerced(self, cond: Condition) -> Condition:
        column = self.table.column(cond.column)
        if cond.values is not None:
            return Condition(cond.column, values=[coerce_value(v, column) for v in cond.values])
        return Condition(cond.column, min=coerce_value(cond.min, column), max=coerce_value(cond.max, column),
                         strict_min=cond.strict_min, strict_max=cond.strict_max)

    def _model_column(self, name: str) -> Any:
        return next(c for c in self.tm.columns if c.name == name)

    def _bounds(self, cond: Condition, by_column: dict[str, Condition]) -> LatentBounds:
        """Latent bounds of one condition (empty: it is checked on decoded rows only)."""
        cm = self._model_column(cond.column)
        dims = self.tm.dims
        if cm.role == "derived" and cm.mapping:  # a function of another column (unit of a test): condition that
            ok = cond.holds(pd.Series([b for _, b in cm.mapping], dtype=object))
            sources = [a for (a, _), keep in zip(cm.mapping, ok) if keep]
            if not sources:
                raise ConfigError(f"condition {self.table.name}.{cond} cannot hold: {cond.column} follows "
                                  f"{cm.given} and is never such a value; widen the condition")
            return self._bounds(Condition(cm.given, values=sources), by_column)
        if cm.role != "copula":
            return {}
        out: LatentBounds = {}
        nulls = None if cond.values is None else [v is None for v in cond.values]
        if cm.null_dim in dims:
            if nulls is None or not any(nulls):  # NULL excluded: the NULL indicator must say "present"
                out[dims.index(cm.null_dim)] = _to_z(*_category_intervals([0.0, 1.0], self._null_cum(cm), Condition("", values=[0.0])))
            elif all(nulls):
                out[dims.index(cm.null_dim)] = _to_z(*_category_intervals([0.0, 1.0], self._null_cum(cm), Condition("", values=[1.0])))
                return out
            else:
                return out  # NULL or a value: only the decoded rows can tell
        elif nulls is not None and all(nulls):
            raise ConfigError(f"condition {self.table.name}.{cond} cannot hold: {self.table.name}.{cond.column} "
                              "was never NULL in the data the model learned; condition on values instead")
        if cm.offset_ref is not None:  # stored as an offset from another date: bound that date
            out.update(self._reference_bounds(cm, cond))
            return out
        enc = self.tm.encoders[cm.value_dim]
        number = _as_numbers(cond, cm.kind) if cm.kind in _NUMERIC_KINDS else cond
        given = by_column.get(cm.given) if cm.given and not cm.given.startswith("parent:") else None
        lo, hi = _encoder_intervals(enc, number, given)
        if isinstance(enc, ConditionalCategoricalEncoder) and cm.given and cm.given.startswith("parent:"):
            self.by_parent[dims.index(cm.value_dim)] = (cond, enc, cm.given)
        if lo.size == 0 or not (hi >= lo).any():
            raise ConfigError(f"condition {self.table.name}.{cond} cannot hold: the model of {self.table.name} "
                              f"never produces such a value ({self._learned(cm, enc)}); widen the condition")
        out[dims.index(cm.value_dim)] = _to_z(lo, hi)
        return out

    def _reference_bounds(self, cm: Any, cond: Condition) -> LatentBounds:
        """A date range on a column stored as an offset from an earlier date of its row
        (discharge after admission) bounds that date: it lies within the range less the
        offsets the model can produce. A superset: the decoded rows are checked."""
        where, _, name = cm.offset_ref.partition(":")
        ref = self._model_column(name) if where == "self" else None
        if ref is None or cond.values is not None or ref.role != "copula" or ref.kind != cm.kind or ref.offset_ref:
            return {}
        enc = self.tm.encoders[cm.value_dim]
        subs = enc.encoders + [enc.pooled] if isinstance(enc, ConditionalNumericEncoder) else [enc]
        low = min(float(np.asarray(e.values)[0]) for e in subs)
        high = max(float(np.asarray(e.values)[-1]) for e in subs)
        number = _as_numbers(cond, cm.kind)
        shifted = Condition(name, min=None if number.min is None else number.min - high,
                            max=None if number.max is None else number.max - low)
        ref_enc = self.tm.encoders[ref.value_dim]
        lo, hi = _encoder_intervals(ref_enc, shifted, None)
        if lo.size == 0:
            raise ConfigError(f"condition {self.table.name}.{cond} cannot hold: {name}, which it follows, never "
                              f"falls where it would need to ({self._learned(ref, ref_enc)}); widen the condition")
        return {self.tm.dims.index(ref.value_dim): _to_z(lo, hi)}

    def _null_cum(self, cm: Any) -> np.ndarray:
        enc = self.tm.encoders[cm.null_dim]
        values = np.asarray(enc.values, dtype=np.float64)
        cum = np.zeros(2)
        for v, c in zip(values, enc.cum):
            cum[int(v)] = c
        cum[1] = 1.0
        if values.size == 1:  # only one of present/NULL seen: give the other no width
            cum[0] = 1.0 if values[0] == 0 else 0.0
        return cum

    def _learned(self, cm: Any, enc: Any) -> str:
        if isinstance(enc, (CategoricalEncoder, ConditionalCategoricalEncoder)):
            shown = ", ".join(map(repr, enc.categories[:8])) + (", ..." if len(enc.categories) > 8 else "")
            return f"its values are {shown}"
        base = enc.pooled if isinstance(enc, ConditionalNumericEncoder) else enc
        from relsynth.models.copula import from_number

        lo, hi = from_number(np.array([base.values[0], base.values[-1]], dtype=np.float64), cm.kind) \
            if cm.kind in _NUMERIC_KINDS else (base.values[0], base.values[-1])
        return f"its values range from {lo} to {hi}"

    def _plan_rebalance(self, by_column: dict[str, Condition]) -> None:
        rb = self.rebalance
        assert rb is not None
        cm = self._model_column(rb.column)
        enc = self.tm.encoders.get(cm.value_dim) if cm.role == "copula" else None
        if not isinstance(enc, (CategoricalEncoder, ConditionalCategoricalEncoder)):
            raise ConfigError(f"rebalance {self.table.name}.{rb.column}: the model does not learn it as a category "
                              "(keys, free text and numbers cannot be rebalanced); choose a categorical column")
        cats = list(enc.categories)
        cum = enc.cum if isinstance(enc, CategoricalEncoder) else enc.cum.mean(axis=0)
        learned = np.diff(np.r_[0.0, cum])
        shares = np.full(len(cats), np.nan)
        for cat, share in (rb.shares or {}).items():
            match = [i for i, c in enumerate(cats) if c == cat or str(c) == str(cat)]
            if not match:
                raise ConfigError(f"rebalance {self.table.name}.{rb.column}: no category {cat!r}"
                                  f"{did_you_mean(str(cat), [str(c) for c in cats])}; categories are "
                                  + ", ".join(map(repr, cats[:20])))
            shares[match[0]] = share
        if rb.shares is None:
            shares[:] = 1.0 / len(cats)
        rest = np.isnan(shares)
        left = max(1.0 - np.nansum(shares), 0.0)
        if rest.any():
            shares[rest] = left * learned[rest] / max(learned[rest].sum(), 1e-12)
        self.categories, self.shares = cats, shares / shares.sum()
        conditioned = dict(self.by_parent)
        self.category_bounds = [self._bounds(Condition(rb.column, values=[cat]), by_column) for cat in cats]
        self.by_parent = conditioned  # the rebalanced column's slices per parent are made in bounds()
        self.rebalanced_dim = self.tm.dims.index(cm.value_dim)
        self.rebalanced_by_parent = isinstance(enc, ConditionalCategoricalEncoder) and bool(cm.given) \
            and cm.given.startswith("parent:")

    # --------------------------------------------------------------- drawing
    def bounds(self, n: int, rng: np.random.Generator,
               parent_frame: pd.DataFrame | None = None) -> tuple[LatentBounds, _Rule]:
        """Latent bounds for ``n`` rows to be drawn, and the rule their decoded values must pass.

        ``parent_frame``: each row's parent row (aligned; NULL for rows without one), which
        makes the slices of categories that follow a parent column exact. Rebalanced rows get
        their categories in exactly the target shares (largest remainders), in random order.
        """
        bounds = dict(self.shared)
        if parent_frame is not None and n:
            for j, (cond, enc, given) in self.by_parent.items():
                lo, hi = _parent_cells(enc, given, parent_frame)
                ok = cond.holds(pd.Series(list(enc.categories), dtype=object))
                bounds[j] = _to_z(lo[:, ok], hi[:, ok])
        if self.rebalance is None or n == 0:
            return bounds, _Rule(self, None)
        counts = np.floor(self.shares * n).astype(np.int64)
        short = n - counts.sum()
        counts[np.argsort(-(self.shares * n - counts), kind="stable")[:short]] += 1
        which = rng.permutation(np.repeat(np.arange(len(self.categories)), counts))
        assigned = np.asarray(self.categories, dtype=object)[which]
        for j in {j for b in self.category_bounds for j in b}:
            width = max(b[j][0].shape[1] for b in self.category_bounds if j in b)
            lo = np.full((len(self.categories), width), 1.0)
            hi = np.full((len(self.categories), width), 0.0)  # empty padding
            for k, b in enumerate(self.category_bounds):
                if j in b:
                    lo[k, : b[j][0].shape[1]], hi[k, : b[j][1].shape[1]] = b[j][0][0], b[j][1][0]
                else:
                    lo[k, 0], hi[k, 0] = -np.inf, np.inf
            bounds[j] = (lo[which], hi[which])
        if parent_frame is not None and self.rebalanced_by_parent:
            cm = self._model_column(self.rebalance.column)
            lo, hi = _parent_cells(self.tm.encoders[cm.value_dim], cm.given, parent_frame)
            rows = np.arange(n)
            bounds[self.rebalanced_dim] = _to_z(lo[rows, which][:, None], hi[rows, which][:, None])
        return bounds, _Rule(self, assigned)


# ------------------------------------------------------------------ known rows → bounds
def known_row_bounds(tm: Any, table: Table, frame: pd.DataFrame) -> LatentBounds:
    """Per-row latent bounds that pin every learned column of the given rows to its value.

    For child tables under parent rows supplied by the user: the rows' own scores are drawn
    within these bounds (a point or a category's slice on each value dim, present/NULL on
    each NULL dim), so the dims no row holds — the children-per-row counts — come from the
    copula's conditional given everything the rows say. Values the model never saw (a new
    category) leave that dim free; dates stored as offsets from a parent's date are left free
    too (the parent is not supplied).
    """
    from relsynth.models.copula import to_number

    n = len(frame)
    dims = tm.dims
    out: LatentBounds = {}
    numbers: dict[str, np.ndarray] = {}
    for cm in tm.columns:
        if cm.role == "copula" and cm.kind in _NUMERIC_KINDS and cm.name in frame:
            s = frame[cm.name]
            x = np.full(n, np.nan)
            present = s.notna().to_numpy()
            if present.any():
                x[present] = to_number(s[present], cm.kind)
            numbers[cm.name] = x
    for cm in tm.columns:
        if cm.role != "copula" or cm.name not in frame:
            continue
        present = frame[cm.name].notna().to_numpy()
        if cm.null_dim in dims:
            enc = tm.encoders[cm.null_dim]
            p_present = float(np.asarray(enc.cum)[0]) if np.asarray(enc.values)[0] == 0 else 0.0
            lo_u = np.where(present, 0.0, p_present)
            hi_u = np.where(present, p_present, 1.0)
            out[dims.index(cm.null_dim)] = _to_z(lo_u[:, None], hi_u[:, None])
        if cm.offset_ref is not None:
            continue
        enc = tm.encoders[cm.value_dim]
        lo_u, hi_u = np.zeros(n), np.ones(n)
        if isinstance(enc, NumericEncoder):
            _value_cells(enc, numbers[cm.name], present, lo_u, hi_u)
        elif isinstance(enc, ConditionalNumericEncoder):
            given = frame[cm.given].to_numpy(dtype=object) if cm.given in frame else np.full(n, None, dtype=object)
            own = np.zeros(n, dtype=bool)
            for cat, sub in zip(enc.categories, enc.encoders):
                rows = present & (given == cat)
                _value_cells(sub, numbers[cm.name], rows, lo_u, hi_u)
                own |= rows
            _value_cells(enc.pooled, numbers[cm.name], present & ~own, lo_u, hi_u)
        else:
            values = frame[cm.name].to_numpy(dtype=object)
            at = pd.Index(list(enc.categories), dtype=object).get_indexer(pd.Index(values, dtype=object))
            known = present & (at >= 0)
            if isinstance(enc, CategoricalEncoder):
                cum = np.broadcast_to(np.asarray(enc.cum, dtype=np.float64), (n, len(enc.categories)))
            else:  # bins of a numeric of the row; a parent's column is NULL: the parent is not supplied
                cum = enc.cum[enc.bins(numbers.get(cm.given, np.full(n, np.nan)))]
            idx = np.where(known, at, 0)
            upper = cum[np.arange(n), idx]
            lower = np.where(idx > 0, cum[np.arange(n), np.maximum(idx - 1, 0)], 0.0)
            lo_u = np.where(known, lower, 0.0)
            hi_u = np.where(known, upper, 1.0)
        out[dims.index(cm.value_dim)] = _to_z(lo_u[:, None], hi_u[:, None])
    return out


def _value_cells(enc: NumericEncoder, x: np.ndarray, rows: np.ndarray, lo_u: np.ndarray, hi_u: np.ndarray) -> None:
    """Write, for ``rows``, the uniform interval that decodes to each row's value ``x``."""
    if not rows.any():
        return
    values = np.asarray(enc.values, dtype=np.float64)
    xs = np.clip(x[rows], values[0], values[-1])
    if enc.discrete:
        lo, hi = _cells(enc.cum)
        i = np.clip(np.searchsorted(values, xs), 0, values.size - 1)
        nearer = (i > 0) & (np.abs(values[np.maximum(i - 1, 0)] - xs) < np.abs(values[i] - xs))
        i = np.where(nearer, i - 1, i)
        lo_u[rows], hi_u[rows] = lo[i], hi[i]
    else:
        a, b = _u_at_least(values, enc.cum, xs), _u_at_most(values, enc.cum, xs)
        a, b = np.clip(a, 0.0, 1.0), np.clip(b, 0.0, 1.0)
        lo_u[rows], hi_u[rows] = np.minimum(a, b), np.maximum(a, b)

