"""Fidelity metrics on frames (real vs synthetic), the families SDV's QualityReport uses.

- column shape: 1 − Kolmogorov–Smirnov statistic (numbers, dates) or 1 − total variation
  distance (categories), per column;
- column pair trend: numeric × numeric pairs 1 − |Δ Pearson correlation| / 2; pairs with a
  category 1 − total variation distance of the two-way contingency table (numbers cut into 10
  equal-width bins of the real range);
- cardinality: 1 − KS of the children-per-parent distributions of a foreign key;
- parent–child trends: the same pair scores over (parent column, child column) pairs of the
  child rows joined to their parent, and over (parent column, child aggregate) pairs.

Each score is in [0, 1], 1 meaning identical; the definitions follow sdmetrics so the figures
can be read next to SDV's. Keys and generated columns (free text, UUIDs, binaries) are not
compared: their values are new by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from relsynth.models.copula import is_free_text
from relsynth.schema.frames import numeric_values
from relsynth.schema.model import ForeignKey, Schema, Table
from relsynth.transform.keys import match_rows
from relsynth.transform.pii import detect_pii

__all__ = [
    "NUMERIC_KINDS",
    "ks_statistic",
    "column_shape",
    "column_plot",
    "comparable_columns",
    "learned_kinds",
    "pair_score",
    "pair_trends",
    "association_matrix",
    "children_per_parent",
    "cardinality",
    "parent_child_trends",
    "child_aggregates",
    "aggregate_trends",
    "TableScores",
    "fidelity_summary",
]

NUMERIC_KINDS = frozenset({"integer", "float", "decimal", "date", "datetime"})
_BINS = 10
#: Rows used for pair metrics (a uniform sample of larger tables; the scores are means of shares).
PAIR_SAMPLE_ROWS = 50_000
_PLOT_BINS = 30
_PLOT_CATEGORIES = 20
_CARDINALITY_BUCKETS = 30


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs.

    (numpy only: importing scipy.stats costs half a second of every CLI start.)
    """
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(gap).max())


def _as_number(s: pd.Series) -> np.ndarray:
    """Non-NULL values as float64 (datetimes as microseconds since the epoch)."""
    x = numeric_values(s)
    return x[~np.isnan(x)]


def _shares(values: pd.Series) -> pd.Series:
    """Each value's share of the non-NULL values, by its text (the distinct values are turned
    into text once; values equal as text add up), largest first."""
    present = values.dropna()
    codes, uniques = pd.factorize(present)
    text = pd.Series(uniques, dtype=present.dtype).astype(str)  # as the whole column would be
    counts = pd.Series(np.bincount(codes, minlength=len(uniques)), index=text.to_numpy(dtype=object))
    shares = counts.groupby(level=0, sort=False).sum() / max(len(present), 1)
    return shares.sort_values(ascending=False, kind="stable")


def column_shape(real: pd.Series, synth: pd.Series, kind: str) -> float | None:
    """Similarity of one column's distribution (None if either side has no values)."""
    if real.notna().sum() == 0 or synth.notna().sum() == 0:
        return None
    if kind in NUMERIC_KINDS:
        a, b = _as_number(real), _as_number(synth)
        if a.size == 0 or b.size == 0:
            return None
        return float(1.0 - ks_statistic(a, b))
    p, q = _shares(real).align(_shares(synth), fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def column_plot(real: pd.Series, synth: pd.Series, kind: str) -> dict[str, Any] | None:
    """What a person looks at for one column: a shared-bin histogram or a category bar chart."""
    if kind in NUMERIC_KINDS:
        a, b = _as_number(real), _as_number(synth)
        if a.size == 0 and b.size == 0:
            return None
        both = np.concatenate([a, b])
        lo, hi = np.quantile(both, [0.005, 0.995]) if both.size > 200 else (both.min(), both.max())
        if hi <= lo:  # one value: a bin either side of it (a day for dates, which count in µs)
            half = 86_400e6 if kind in ("date", "datetime") else 0.5
            lo, hi = lo - half, hi + half
        if kind == "integer":
            # Whole-number bins of equal width: 30 bins over 23..94 would hold 2 or 3 ages each.
            span = np.ceil(hi) - np.floor(lo) + 1
            width = max(1.0, np.ceil(span / _PLOT_BINS))
            edges = np.floor(lo) - 0.5 + width * np.arange(int(np.ceil(span / width)) + 1)
        else:
            edges = np.linspace(lo, hi, _PLOT_BINS + 1)
        shares = []
        for x in (a, b):
            counts = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges)[0]
            shares.append((counts / max(x.size, 1)).round(5).tolist())
        labels = None
        if kind in ("date", "datetime"):
            stamps = pd.to_datetime(edges.astype(np.int64), unit="us")
            labels = [t.strftime("%Y-%m-%d" if kind == "date" or (t.hour, t.minute) == (0, 0) else "%Y-%m-%d %H:%M")
                      for t in stamps]
        return {"type": "histogram", "edges": [float(e) for e in edges], "labels": labels,
                "real": shares[0], "synthetic": shares[1]}
    p, q = _shares(real).align(_shares(synth), fill_value=0.0)
    if p.empty:
        return None
    order = p.sort_values(ascending=False).index
    top = list(order[:_PLOT_CATEGORIES])
    real_shares = [float(p[c]) for c in top]
    synth_shares = [float(q[c]) for c in top]
    if len(order) > len(top):
        top.append("(other)")
        real_shares.append(float(1.0 - sum(real_shares)))
        synth_shares.append(float(1.0 - sum(synth_shares)))
    return {"type": "bars", "categories": [str(c) for c in top],
            "real": [round(v, 5) for v in real_shares], "synthetic": [round(v, 5) for v in synth_shares]}


def comparable_columns(table: Table, real: pd.DataFrame) -> list[str]:
    """Columns whose values are learned (not keys, free text, UUIDs, binaries, JSON, times, or
    personal data, which is generated anew: :func:`relsynth.transform.pii.detect_pii`)."""
    keys = set(table.primary_key) | table.fk_columns
    personal = detect_pii(table, real, keys)
    out = []
    for col in table.columns:
        if col.name in keys or col.name in personal or col.kind in ("binary", "json", "uuid", "time") \
                or col.name not in real:
            continue
        values = real[col.name]
        if col.kind == "string" and is_free_text(values.nunique(), int(values.notna().sum())):
            continue
        out.append(col.name)
    return out


def learned_kinds(table: Table, real: pd.DataFrame) -> dict[str, str]:
    """:func:`comparable_columns` with each one's kind."""
    return {c: table.column(c).kind for c in comparable_columns(table, real)}


@dataclass
class _PairColumn:
    """One column of both sides, encoded once for every pair it is in.

    ``codes``: integer labels on a scale shared by both sides (numbers cut into :data:`_BINS`
    equal-width bins of the real range, categories as their text; NULL a label of its own);
    ``numbers``: the values of a number-like column (NaN for NULL), else None.
    """

    kind: str
    codes: tuple[np.ndarray, np.ndarray]
    numbers: tuple[np.ndarray, np.ndarray] | None

    @classmethod
    def of(cls, real: pd.Series, synth: pd.Series, kind: str) -> _PairColumn:
        if kind in NUMERIC_KINDS:
            xr, xs = numeric_values(real), numeric_values(synth)
            edges = _edges(real)
            if edges is None:  # no real number: every value one label, NULL another
                return cls(kind, (np.isnan(xr).astype(np.int64), np.isnan(xs).astype(np.int64)), (xr, xs))
            codes = [np.where(np.isnan(x), _BINS, np.clip(np.searchsorted(edges, x, side="right") - 1, 0, _BINS - 1))
                     for x in (xr, xs)]
            return cls(kind, (codes[0], codes[1]), (xr, xs))
        both = pd.concat([real.astype(object), synth.astype(object)], ignore_index=True)
        # Each distinct value's text once (values equal as text share a label); NULL: "∅".
        codes, uniques = pd.factorize(both)
        text = np.append(np.asarray(uniques, dtype=object).astype(str), "\u2205").astype(object)
        joint = pd.factorize(text)[0].astype(np.int64)[codes]  # code -1 (NULL): the last text
        return cls(kind, (joint[: len(real)], joint[len(real):]), None)


def _edges(real: pd.Series) -> np.ndarray | None:
    x = _as_number(real)
    if x.size == 0:
        return None
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, _BINS + 1)


def _cells(a: np.ndarray, b: np.ndarray, n_b: int, size: int) -> np.ndarray:
    return np.bincount(a * n_b + b, minlength=size).astype(np.float64)


def _contingency_tv(a: _PairColumn, b: _PairColumn) -> float:
    """Total variation distance between the real and the synthetic joint distribution of (a, b)."""
    n_a = int(max(a.codes[0].max(initial=0), a.codes[1].max(initial=0))) + 1
    n_b = int(max(b.codes[0].max(initial=0), b.codes[1].max(initial=0))) + 1
    p = _cells(a.codes[0], b.codes[0], n_b, n_a * n_b) / max(a.codes[0].size, 1)
    q = _cells(a.codes[1], b.codes[1], n_b, n_a * n_b) / max(a.codes[1].size, 1)
    return float(0.5 * np.abs(p - q).sum())


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3:
        return None
    x, y = x[ok], y[ok]
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def pair_score(real_a: pd.Series, real_b: pd.Series, synth_a: pd.Series, synth_b: pd.Series,
               kind_a: str, kind_b: str) -> dict[str, Any] | None:
    """How well one column pair's relationship is kept.

    Two number-like columns: ``{"metric": "correlation", "statistic": "pearson", "real": ρ,
    "synthetic": ρ', "score": 1 − |ρ − ρ'| / 2}``. Otherwise ``{"metric": "contingency",
    "score": 1 − TV}`` of the two-way table, with the strength of the association on each side
    for reading (``statistic``: ``cramers_v`` for two categories, ``eta`` — the correlation
    ratio — for a number and a category). None when a side has too few values.
    """
    if len(real_a) < 3 or len(synth_a) < 3:
        return None
    return _pair_score(_PairColumn.of(real_a, synth_a, kind_a), _PairColumn.of(real_b, synth_b, kind_b))


def _pair_score(a: _PairColumn, b: _PairColumn) -> dict[str, Any] | None:
    """:func:`pair_score` of two encoded columns."""
    if a.kind in NUMERIC_KINDS and b.kind in NUMERIC_KINDS:
        r = _pearson(a.numbers[0], b.numbers[0])
        s = _pearson(a.numbers[1], b.numbers[1])
        if r is None:
            return None
        s = 0.0 if s is None else s
        return {"metric": "correlation", "statistic": "pearson", "real": round(r, 4), "synthetic": round(s, 4),
                "score": float(1.0 - abs(r - s) / 2.0)}
    tv = _contingency_tv(a, b)
    statistic = "cramers_v" if a.kind not in NUMERIC_KINDS and b.kind not in NUMERIC_KINDS else "eta"
    return {"metric": "contingency", "statistic": statistic,
            "real": round(_association_of(a, b, 0), 4),
            "synthetic": round(_association_of(a, b, 1), 4), "score": 1.0 - tv}


def _sample(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n, random_state=seed)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def pair_trends(real: pd.DataFrame, synth: pd.DataFrame, table: Table,
                columns: list[str] | None = None) -> tuple[float | None, list[dict[str, Any]]]:
    """Mean pair score and every pair's figures (worst first) over the table's comparable columns."""
    cols = columns if columns is not None else comparable_columns(table, real)
    if len(cols) < 2 or len(real) < 3 or len(synth) < 3:
        return None, []
    r, s = _sample(real, PAIR_SAMPLE_ROWS), _sample(synth, PAIR_SAMPLE_ROWS)
    encoded = {c: _PairColumn.of(r[c], s[c], table.column(c).kind) for c in cols}
    pairs = []
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            scored = _pair_score(encoded[a], encoded[b])
            if scored is not None:
                pairs.append({"columns": [a, b], **scored})
    pairs.sort(key=lambda p: p["score"])
    return _mean([p["score"] for p in pairs]), pairs


def _association(x: pd.Series, y: pd.Series, kx: str, ky: str) -> float:
    """Pearson ρ of two numbers; Cramér's V of two categories; the correlation ratio η otherwise."""
    return _association_of(_PairColumn.of(x, x, kx), _PairColumn.of(y, y, ky), 0)


def _association_of(a: _PairColumn, b: _PairColumn, side: int) -> float:
    """:func:`_association` of side ``side`` (0 real, 1 synthetic) of two encoded columns."""
    if a.kind in NUMERIC_KINDS and b.kind in NUMERIC_KINDS:
        return _pearson(a.numbers[side], b.numbers[side]) or 0.0
    if a.kind in NUMERIC_KINDS or b.kind in NUMERIC_KINDS:
        num, cat = (a, b) if a.kind in NUMERIC_KINDS else (b, a)
        v = num.numbers[side]
        ok = ~np.isnan(v)
        if ok.sum() < 3 or v[ok].std() == 0:
            return 0.0
        codes = cat.codes[side][ok]
        v = v[ok]
        counts = np.bincount(codes)
        means = np.bincount(codes, weights=v) / np.maximum(counts, 1)
        between = (counts * (means - v.mean()) ** 2).sum()
        return float(np.sqrt(between / ((v - v.mean()) ** 2).sum()))
    ca, cb = a.codes[side], b.codes[side]
    n_a, n_b = int(ca.max(initial=0)) + 1, int(cb.max(initial=0)) + 1
    table = _cells(ca, cb, n_b, n_a * n_b).reshape(n_a, n_b)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]  # the labels this side has
    n = table.sum()
    if n == 0 or min(table.shape) < 2:
        return 0.0
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def association_matrix(real: pd.DataFrame, synth: pd.DataFrame, table: Table, columns: list[str],
                       pairs: list[dict[str, Any]], limit: int = 20) -> dict[str, Any] | None:
    """The real and synthetic association matrices of up to ``limit`` columns, for heatmaps.

    ``pairs`` (from :func:`pair_trends` over the same columns) already hold each pair's
    statistic on both sides; only pairs it could not score are computed here.
    """
    cols = columns[:limit]
    if len(cols) < 2:
        return None
    kinds = [table.column(c).kind for c in cols]
    known = {tuple(p["columns"]): p for p in pairs}
    frames = {"real": _sample(real, PAIR_SAMPLE_ROWS), "synthetic": _sample(synth, PAIR_SAMPLE_ROWS)}
    out: dict[str, Any] = {"columns": cols}
    for side, frame in frames.items():
        m = np.eye(len(cols))
        for i in range(len(cols)):
            for j in range(i + 1, len(cols)):
                pair = known.get((cols[i], cols[j]))
                value = pair[side] if pair is not None else \
                    _association(frame[cols[i]], frame[cols[j]], kinds[i], kinds[j])
                m[i, j] = m[j, i] = value
        out[side] = np.round(m, 4).tolist()
    return out


def children_per_parent(child: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame) -> np.ndarray:
    """Number of ``child`` rows pointing at each row of ``parent`` through ``fk``."""
    rows = match_rows(child, fk.columns, parent, fk.ref_columns)
    return np.bincount(rows[rows >= 0], minlength=len(parent))


def cardinality(real_counts: np.ndarray, synth_counts: np.ndarray) -> dict[str, Any] | None:
    """1 − KS of two children-per-parent distributions, with the histogram behind it.

    Buckets are single counts (0, 1, 2, …) or, past 30 of them, equal ranges ("200–208"), from
    the real 1st to 99th percentile; the first and last buckets hold everything beyond.
    """
    if real_counts.size == 0 or synth_counts.size == 0:
        return None
    top = int(max(np.ceil(np.quantile(real_counts, 0.99)), 1))
    base = int(min(np.quantile(real_counts, 0.01), synth_counts.min()))
    width = max(1, int(np.ceil((top - base + 1) / _CARDINALITY_BUCKETS)))
    base -= base % width
    n_buckets = (top - base) // width + 1
    lows = [base + k * width for k in range(n_buckets)]
    labels = [str(lo) if width == 1 else f"{lo}–{lo + width - 1}" for lo in lows]
    if max(real_counts.max(), synth_counts.max()) >= base + n_buckets * width:
        labels[-1] = f"{lows[-1]}+"
    if base > 0:
        labels[0] = f"≤{lows[0] + width - 1}"
    shares = [np.bincount(np.clip((c - base) // width, 0, n_buckets - 1), minlength=n_buckets) / c.size
              for c in (real_counts, synth_counts)]
    return {"score": float(1.0 - ks_statistic(real_counts, synth_counts)), "counts": lows, "labels": labels,
            "real": shares[0].round(5).tolist(), "synthetic": shares[1].round(5).tolist(),
            "mean_real": round(float(real_counts.mean()), 4), "mean_synthetic": round(float(synth_counts.mean()), 4)}


def _joined(child: pd.DataFrame, fk: ForeignKey, parent: pd.DataFrame, parent_cols: list[str],
            child_cols: list[str]) -> pd.DataFrame:
    """Child rows (a sample) with the columns of the parent row each one points at."""
    child = _sample(child, PAIR_SAMPLE_ROWS)
    rows = match_rows(child, fk.columns, parent, fk.ref_columns)
    ok = rows >= 0
    left = parent[parent_cols].iloc[rows[ok]].reset_index(drop=True).add_prefix("p.")
    right = child[child_cols][ok].reset_index(drop=True).add_prefix("c.")
    return pd.concat([left, right], axis=1)


def parent_child_trends(schema: Schema, child_name: str, fk: ForeignKey, real: dict[str, pd.DataFrame],
                        synth: dict[str, pd.DataFrame], limit: int = 12) -> tuple[float | None, list[dict[str, Any]]]:
    """Pair scores of (parent column, child column) over child rows joined to their parents.

    ``limit`` columns per side at most (the first comparable ones), so wide tables stay cheap.
    """
    child_t, parent_t = schema.tables[child_name], schema.tables[fk.ref_table]
    pcols = comparable_columns(parent_t, real[fk.ref_table])[:limit]
    ccols = comparable_columns(child_t, real[child_name])[:limit]
    if not pcols or not ccols:
        return None, []
    jr = _joined(real[child_name], fk, real[fk.ref_table], pcols, ccols)
    js = _joined(synth[child_name], fk, synth[fk.ref_table], pcols, ccols)
    pairs = []
    for p in pcols:
        for c in ccols:
            scored = pair_score(jr[f"p.{p}"], jr[f"c.{c}"], js[f"p.{p}"], js[f"c.{c}"],
                                parent_t.column(p).kind, child_t.column(c).kind)
            if scored is not None:
                pairs.append({"parent_column": p, "child_column": c, **scored})
    pairs.sort(key=lambda x: x["score"])
    return _mean([x["score"] for x in pairs]), pairs


def child_aggregates(schema: Schema, child_name: str, fk: ForeignKey, frames: dict[str, pd.DataFrame],
                     prefix: str = "") -> pd.DataFrame:
    """Per parent row: how many children, the mean of each numeric child column, the distinct
    count of each categorical one (aligned with the parent frame's rows)."""
    child_t = schema.tables[child_name]
    child, parent = frames[child_name], frames[fk.ref_table]
    rows = match_rows(child, fk.columns, parent, fk.ref_columns)
    ok = rows >= 0
    n = len(parent)
    out = {f"{prefix}count": np.bincount(rows[ok], minlength=n).astype(np.float64)}
    for c in comparable_columns(child_t, frames[child_name]):
        kind = child_t.column(c).kind
        if kind in NUMERIC_KINDS or kind == "boolean":
            x = numeric_values(child[c])[ok]
            present = ~np.isnan(x)
            sums = np.bincount(rows[ok][present], weights=x[present], minlength=n)
            cnt = np.bincount(rows[ok][present], minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"{prefix}mean({c})"] = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
        else:
            pairs = pd.DataFrame({"r": rows[ok], "v": child[c].to_numpy(dtype=object)[ok]}).dropna()
            distinct = pairs.drop_duplicates().groupby("r").size()
            col = np.zeros(n)
            col[distinct.index.to_numpy(dtype=np.int64)] = distinct.to_numpy()
            out[f"{prefix}distinct({c})"] = col
    return pd.DataFrame(out)


def aggregate_trends(schema: Schema, child_name: str, fk: ForeignKey, real: dict[str, pd.DataFrame],
                     synth: dict[str, pd.DataFrame], limit: int = 12) -> tuple[float | None, list[dict[str, Any]]]:
    """Pair scores of (parent column, child aggregate) over parent rows."""
    parent_t = schema.tables[fk.ref_table]
    pcols = comparable_columns(parent_t, real[fk.ref_table])[:limit]
    if not pcols or not len(real[fk.ref_table]) or not len(synth[fk.ref_table]):
        return None, []
    ar = child_aggregates(schema, child_name, fk, real)
    as_ = child_aggregates(schema, child_name, fk, synth)
    pr, ps = real[fk.ref_table].reset_index(drop=True), synth[fk.ref_table].reset_index(drop=True)
    pairs = []
    for p in pcols:
        for agg in ar.columns:
            scored = pair_score(pr[p], ar[agg], ps[p], as_[agg], parent_t.column(p).kind, "float")
            if scored is not None:
                pairs.append({"parent_column": p, "aggregate": agg, **scored})
    pairs.sort(key=lambda x: x["score"])
    return _mean([x["score"] for x in pairs]), pairs


@dataclass
class TableScores:
    """Compact fidelity scores of one table (None where a family does not apply)."""

    rows_real: int
    rows_synthetic: int
    column_shapes: dict[str, float] = field(default_factory=dict)
    pair_trend: float | None = None
    cardinality: float | None = None
    pairs: int = 0

    @property
    def shape(self) -> float | None:
        return _mean(list(self.column_shapes.values()))


#: Rows of each side the compact summary scores shapes and pairs on (a random sample beyond it).
SUMMARY_ROWS = 20_000


def at_most(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``frame``, or a fixed random sample of ``n`` of its rows (in their order) when longer."""
    if len(frame) <= n:
        return frame
    pick = np.sort(np.random.default_rng(len(frame)).choice(len(frame), n, replace=False))
    return frame.iloc[pick].reset_index(drop=True)


def fidelity_summary(schema: Schema, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame],
                     real_keys: dict[str, pd.DataFrame] | None = None,
                     partial: set[str] | None = None) -> dict[str, TableScores]:
    """Compact scores for every table of ``schema`` present in both ``real`` and ``synth`` (what
    ``clone`` prints; :func:`relsynth.evaluate` gives the full report).

    Shapes and pairs are scored on at most :data:`SUMMARY_ROWS` rows of each side. With
    ``real_keys`` (the key columns of every real row, when ``real`` is a fitting sample),
    children-per-parent counts of the real side come from them. Tables in ``partial`` hold part
    of the synthetic output (one partition: whole families of their driver parent), so their
    counts under a parent outside ``partial`` are not scored. Row counts are ``synth``'s.
    """
    partial = partial or set()
    out: dict[str, TableScores] = {}
    for name, table in schema.tables.items():
        if name not in real or name not in synth:
            continue
        r, s = at_most(real[name], SUMMARY_ROWS), at_most(synth[name], SUMMARY_ROWS)
        scores = TableScores(len(real_keys[name]) if real_keys and name in real_keys else len(real[name]),
                             len(synth[name]))
        if len(r) and len(s):
            columns = comparable_columns(table, r)  # once: it looks for personal data in every text column
            for col in columns:
                value = column_shape(r[col], s[col], table.column(col).kind)
                if value is not None:
                    scores.column_shapes[col] = value
            scores.pair_trend, pairs = pair_trends(r, s, table, columns)
            scores.pairs = len(pairs)
            cards = []
            for fk in table.foreign_keys:
                if fk.ref_table in real and fk.ref_table in synth and (name not in partial or fk.ref_table in partial):
                    known = real_keys if real_keys and name in real_keys and fk.ref_table in real_keys else real
                    card = cardinality(children_per_parent(known[name], fk, known[fk.ref_table]),
                                       children_per_parent(synth[name], fk, synth[fk.ref_table]))
                    if card is not None:
                        cards.append(card["score"])
            scores.cardinality = _mean(cards)
        out[name] = scores
    return out
