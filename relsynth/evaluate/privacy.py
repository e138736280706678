"""Privacy figures: does the synthetic data repeat the real rows and values it was made from?

- **Distance to closest record (DCR)**: rows are encoded (numbers and dates scaled by the
  real column's 1st–99th percentile range, categories one-hot with each mismatch counting
  as one full range, NULL its own value), and each synthetic row's Euclidean distance to its
  nearest training row is measured; with a *holdout* (real rows the model never saw), the
  same for holdout rows. Synthetic rows sitting much closer to the training rows than fresh
  real rows do are memorised ones.
- **Closer-to-train share**: the share of synthetic rows whose nearest training row is
  nearer than their nearest holdout row (ties count half), training and holdout sampled to
  the same size. About 0.5 is ideal: the synthetic rows are no closer to what the model saw
  than to what it did not. Without a holdout it is not computed, rather than guessed.
- **Exact copies**: synthetic rows equal to a real row on every non-key column, as written (a
  hash join over all rows; the sampler redraws such rows, see :mod:`relsynth.transform.copies`), and whether the table's domain forces them (the real rows already take up
  most of the possible combinations, as in a table of two booleans).
- **Personal data**: per column found to hold it (:func:`~relsynth.transform.pii.detect_pii`
  on the real side), how many distinct synthetic values equal a real value of the column
  (compared case-insensitively); should be 0.

At most :data:`PRIVACY_ROWS` rows per side are used for the distances.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from relsynth.evaluate.metrics import NUMERIC_KINDS, comparable_columns
from relsynth.schema.frames import numeric_values
from relsynth.schema.model import Schema, Table
from relsynth.transform.copies import copy_columns, domain_forced, row_hashes
from relsynth.transform.pii import detect_pii

__all__ = ["PRIVACY_ROWS", "table_privacy", "privacy_section", "exact_copies", "nearest_distances", "pii_leaks"]

#: Rows per side used for the distances (a uniform sample of larger tables).
PRIVACY_ROWS = 5_000
#: Most one-hot categories per column (the rest share one "other" column).
_MAX_CATEGORIES = 50


def _encode(frames: list[pd.DataFrame], table: Table, columns: list[str]) -> list[np.ndarray]:
    """The same columns of several frames as float matrices; the first frame (the training
    rows) sets the scales and categories."""
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for col in columns:
        kind = table.column(col).kind
        if kind in NUMERIC_KINDS or kind == "boolean":
            xs = [numeric_values(f[col]) if kind != "boolean" else
                  f[col].map({True: 1.0, False: 0.0}).to_numpy(dtype=np.float64, na_value=np.nan) for f in frames]
            ref = xs[0][~np.isnan(xs[0])]
            lo, hi = (np.percentile(ref, [1, 99]) if ref.size else (0.0, 1.0))
            span = hi - lo if hi > lo else (float(np.ptp(ref)) if ref.size and np.ptp(ref) > 0 else 1.0)
            for b, x in zip(blocks, xs):
                missing = np.isnan(x)
                b.append(np.where(missing, 0.0, (x - lo) / span)[:, None])
                b.append(missing.astype(np.float64)[:, None])
            continue
        texts = [f[col].astype(str).where(f[col].notna(), "\x00null") for f in frames]
        top = list(texts[0].value_counts().index[:_MAX_CATEGORIES])
        for b, t in zip(blocks, texts):
            codes = pd.Index(top).get_indexer(t)  # -1: beyond the top categories
            onehot = np.zeros((len(t), len(top) + 1))
            onehot[np.arange(len(t)), np.where(codes < 0, len(top), codes)] = np.sqrt(0.5)
            b.append(onehot)
    return [np.hstack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)]


def nearest_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance from each row of ``a`` to its nearest row of ``b`` (scikit-learn's
    NearestNeighbors when installed, else blocks of numpy distance matrices)."""
    if len(a) == 0 or len(b) == 0:
        return np.full(len(a), np.nan)
    try:
        from sklearn.neighbors import NearestNeighbors
    except ImportError:
        out = np.empty(len(a))
        bb = (b * b).sum(axis=1)
        for start in range(0, len(a), 1024):
            block = a[start:start + 1024]
            d2 = (block * block).sum(axis=1)[:, None] - 2 * block @ b.T + bb[None, :]
            out[start:start + 1024] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
        return out
    dist, _ = NearestNeighbors(n_neighbors=1).fit(b).kneighbors(a)
    return dist[:, 0]


def exact_copies(table: Table, real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, Any]:
    """Synthetic rows equal to a real row on every non-key, non-binary column (NULL equals NULL),
    values compared as they are written (:func:`relsynth.transform.copies.row_hashes`).

    Returns:
        ``{"columns", "copies", "rate", "domain_forced"}``: ``domain_forced`` when the real rows
        already take up at least half of all combinations of the columns' values (and no column
        is mostly distinct values; :func:`relsynth.transform.copies.domain_forced`), so a
        synthetic row of real values can hardly avoid being one.
    """
    columns = copy_columns(table, real, synth)
    if not columns or not len(synth) or not len(real):
        return {"columns": len(columns), "copies": 0, "rate": 0.0, "domain_forced": False}
    real_rows = row_hashes(table, real, columns)
    copies = int(np.isin(row_hashes(table, synth, columns), real_rows).sum())
    return {"columns": len(columns), "copies": copies, "rate": round(copies / len(synth), 6),
            "domain_forced": domain_forced(real, columns, pd.unique(real_rows).size)}


def _sampled(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))].reset_index(drop=True)


def _quantiles(d: np.ndarray) -> dict[str, float | None]:
    d = d[~np.isnan(d)]
    if not d.size:
        return {"median": None, "p05": None}
    return {"median": round(float(np.median(d)), 5), "p05": round(float(np.percentile(d, 5)), 5)}


def table_privacy(table: Table, real: pd.DataFrame, synth: pd.DataFrame, holdout: pd.DataFrame | None = None,
                  skip: set[str] = frozenset(), seed: int = 0) -> dict[str, Any]:
    """DCR figures and exact copies of one table (see the module docstring).

    Args:
        table: The table's schema.
        real: The real rows the model was fitted on.
        synth: The synthetic rows.
        holdout: Real rows the model never saw (same columns), or None.
        skip: Columns left out of the distances (personal data: generated, so never close).
        seed: Seed of the row samples.
    """
    rng = np.random.default_rng(seed)
    columns = [c for c in comparable_columns(table, real) if c not in skip]
    out: dict[str, Any] = {"columns": columns, "dcr_synthetic": None, "dcr_holdout": None,
                           "closer_to_train_share": None, "exact_copies": exact_copies(table, real, synth)}
    if not columns or not len(real) or not len(synth):
        return out
    if holdout is not None and len(holdout):
        m = min(len(real), len(holdout), PRIVACY_ROWS)
        train, hold = _sampled(real, m, rng), _sampled(holdout, m, rng)
    else:
        train, hold = _sampled(real, PRIVACY_ROWS, rng), None
    syn = _sampled(synth, PRIVACY_ROWS, rng)
    mats = _encode([train, syn] + ([hold] if hold is not None else []), table, columns)
    to_train = nearest_distances(mats[1], mats[0])
    out["dcr_synthetic"] = _quantiles(to_train)
    if hold is not None:
        out["dcr_holdout"] = _quantiles(nearest_distances(mats[2], mats[0]))
        to_hold = nearest_distances(mats[1], mats[2])
        share = np.mean(to_train < to_hold) + 0.5 * np.mean(to_train == to_hold)
        out["closer_to_train_share"] = round(float(share), 4)
    return out


def pii_leaks(table: Table, real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per column of ``real`` holding personal data: its kind, why, and how many distinct synthetic
    values of the column equal a real one (stripped, case-insensitive; blanks ignored)."""
    keys = set(table.primary_key) | table.fk_columns
    out = {}
    for col, found in detect_pii(table, real, keys).items():
        if col not in synth:
            continue
        def norm(s: pd.Series) -> set[str]:
            return {v for v in s.dropna().astype(str).str.strip().str.casefold() if v}
        out[col] = {"kind": found.kind, "reason": found.reason,
                    "real_values_in_synthetic": len(norm(real[col]) & norm(synth[col]))}
    return out


def privacy_section(schema: Schema, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame],
                    holdout: dict[str, pd.DataFrame] | None = None,
                    pii: dict[str, dict[str, dict[str, str]]] | None = None, seed: int = 0) -> dict[str, Any]:
    """Every privacy figure of a real/synthetic pair, per table and summed up.

    Args:
        schema: The tables compared.
        real: The real rows (the training rows when a holdout is given).
        synth: The synthetic rows.
        holdout: Real rows the model never saw, per table (any subset of the tables), or None.
        pii: ``Model.pii`` of the model that made ``synth``: how each personal column was
            generated (without it the report lists what it finds in the real data).
        seed: Seed of the row samples.

    Returns:
        ``{"tables": {name: {...}}, "summary": {...}}``; the summary has ``closer_to_train_share``
        (the mean over tables with a holdout, else None), ``exact_copies``, ``exact_copy_rate``
        and ``exact_copies_beyond_domain`` (copies in tables whose domain does not force them),
        ``pii_columns`` and ``pii_values_leaked``, and ``holdout`` (whether one was given).
    """
    tables: dict[str, Any] = {}
    for name, table in schema.tables.items():
        if name not in real or name not in synth:
            continue
        leaks = pii_leaks(table, real[name], synth[name])
        for col, info in leaks.items():
            info["generator"] = ((pii or {}).get(name, {}).get(col) or {}).get("generator")
        hold = (holdout or {}).get(name)
        section = table_privacy(table, real[name], synth[name], hold, skip=set(leaks), seed=seed)
        section["pii"] = leaks
        tables[name] = section
    shares = [t["closer_to_train_share"] for t in tables.values() if t["closer_to_train_share"] is not None]
    copies = sum(t["exact_copies"]["copies"] for t in tables.values())
    rows = sum(len(synth[n]) for n in tables)
    beyond = sum(t["exact_copies"]["copies"] for t in tables.values() if not t["exact_copies"]["domain_forced"])
    summary = {
        "holdout": holdout is not None,
        "closer_to_train_share": round(float(np.mean(shares)), 4) if shares else None,
        "exact_copies": copies,
        "exact_copy_rate": round(copies / rows, 6) if rows else 0.0,
        "exact_copies_beyond_domain": beyond,
        "pii_columns": sum(len(t["pii"]) for t in tables.values()),
        "pii_values_leaked": sum(c["real_values_in_synthetic"] for t in tables.values() for c in t["pii"].values()),
    }
    return {"tables": tables, "summary": summary}
