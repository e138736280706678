"""Fidelity metrics on frames (real vs synthetic), the same families SDV's QualityReport uses.

- column shape: 1 − Kolmogorov–Smirnov statistic (numeric, dates) or 1 − total variation
  distance (categories), per column;
- column pair trend: 1 − |Δ correlation| / 2 over numeric-like pairs within a table;
- cardinality: 1 − KS of the children-per-parent distributions of each FK.

Each score is in [0, 1], 1 meaning identical. Columns that are keys or generated text (names,
codes) are not compared: their values are new by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from relsynth.schema.model import Schema, Table
from relsynth.transform.keys import match_rows

__all__ = ["ks_statistic", "column_shape", "pair_trends", "cardinality_shape", "TableScores", "fidelity_summary"]

_NUMERIC = {"integer", "float", "decimal", "date", "datetime"}
_CATEGORY_LIMIT = 50


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical CDFs.

    (numpy only: importing scipy.stats costs half a second of every CLI start.)
    """
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(gap).max())


def _as_number(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dropna().to_numpy(dtype="datetime64[us]").astype(np.int64).astype(np.float64)
    return pd.to_numeric(s.dropna(), errors="coerce").dropna().to_numpy(dtype=np.float64)


def column_shape(real: pd.Series, synth: pd.Series, kind: str) -> float | None:
    """Similarity of one column's distribution (None if either side has no values)."""
    if real.notna().sum() == 0 or synth.notna().sum() == 0:
        return None
    if kind in _NUMERIC:
        a, b = _as_number(real), _as_number(synth)
        if a.size == 0 or b.size == 0:
            return None
        return float(1.0 - ks_statistic(a, b))
    p = real.dropna().astype(str).value_counts(normalize=True)
    q = synth.dropna().astype(str).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def _comparable_columns(table: Table, real: pd.DataFrame) -> list[str]:
    keys = set(table.primary_key) | table.fk_columns
    out = []
    for col in table.columns:
        if col.name in keys or col.kind in ("binary", "json", "uuid", "time"):
            continue
        if col.kind in ("string", "boolean"):
            n_distinct = real[col.name].nunique()
            if n_distinct > _CATEGORY_LIMIT or n_distinct > 0.5 * max(real[col.name].notna().sum(), 1):
                continue  # free text: generated, not learned
        out.append(col.name)
    return out


def _codes(s: pd.Series, kind: str) -> pd.Series:
    if kind == "boolean":
        return s.astype("boolean").astype("Float64")
    if kind in _NUMERIC:
        if pd.api.types.is_datetime64_any_dtype(s):
            return pd.Series(s.to_numpy(dtype="datetime64[us]").astype(np.int64), index=s.index).where(s.notna())
        return pd.to_numeric(s, errors="coerce").astype("float64")
    return s.astype(str).where(s.notna())


def pair_trends(real: pd.DataFrame, synth: pd.DataFrame, table: Table) -> float | None:
    """Mean over numeric-like column pairs of 1 − |Δ Spearman correlation| / 2."""
    cols = [c for c in _comparable_columns(table, real) if table.column(c).kind in _NUMERIC | {"boolean"}]
    if len(cols) < 2 or len(synth) < 3:
        return None
    def corr(df: pd.DataFrame) -> np.ndarray:
        num = pd.DataFrame({c: _codes(df[c], table.column(c).kind).astype("float64") for c in cols})
        return num.corr(method="spearman").to_numpy()
    a, b = corr(real), corr(synth)
    iu = np.triu_indices(len(cols), 1)
    diff = np.abs(np.nan_to_num(a[iu]) - np.nan_to_num(b[iu]))
    return float(np.mean(1.0 - diff / 2.0))


def cardinality_shape(schema: Schema, name: str, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame]) -> float | None:
    """Mean over the table's FKs of 1 − KS between children-per-parent distributions."""
    table = schema.tables[name]
    scores = []
    for fk in table.foreign_keys:
        per = []
        for frames in (real, synth):
            child, parent = frames[name], frames[fk.ref_table]
            if len(parent) == 0:
                break
            rows = match_rows(child, fk.columns, parent, fk.ref_columns)
            per.append(np.bincount(rows[rows >= 0], minlength=len(parent)))
        if len(per) == 2 and per[0].size and per[1].size:
            scores.append(1.0 - ks_statistic(per[0], per[1]))
    return float(np.mean(scores)) if scores else None


@dataclass
class TableScores:
    """Fidelity scores of one table (None where a family does not apply)."""

    rows_real: int
    rows_synthetic: int
    column_shapes: dict[str, float] = field(default_factory=dict)
    pair_trend: float | None = None
    cardinality: float | None = None

    @property
    def shape(self) -> float | None:
        vals = [v for v in self.column_shapes.values() if v is not None]
        return float(np.mean(vals)) if vals else None


def fidelity_summary(schema: Schema, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame]) -> dict[str, TableScores]:
    """Scores for every table of ``schema`` present in both ``real`` and ``synth``."""
    out: dict[str, TableScores] = {}
    for name, table in schema.tables.items():
        if name not in real or name not in synth:
            continue
        r, s = real[name], synth[name]
        scores = TableScores(len(r), len(s))
        if len(r) and len(s):
            for col in _comparable_columns(table, r):
                value = column_shape(r[col], s[col], table.column(col).kind)
                if value is not None:
                    scores.column_shapes[col] = value
            scores.pair_trend = pair_trends(r, s, table)
            scores.cardinality = cardinality_shape(schema, name, real, synth)
        out[name] = scores
    return out
