"""Classifier-based checks: can a model tell real rows from synthetic ones, and does a model
trained on synthetic rows work on real ones?

- :func:`detection_auc`: a gradient-boosted tree classifier (scikit-learn's
  ``HistGradientBoostingClassifier``, categories handled natively, NULLs kept as NULLs) is
  cross-validated on a balanced mix of real and synthetic rows; its ROC AUC is the score. 0.5:
  indistinguishable; 1.0: every row is told apart. Run on parent rows widened with their
  children's aggregates (:func:`relsynth.evaluate.metrics.child_aggregates`) it also sees
  whether families look real, as in SyntheRela's relational detection.
- :func:`ml_efficacy`: train on synthetic, test on held-out real rows, against training on the
  other real rows.

scikit-learn is an optional dependency (``pip install 'relsynth[report]'``); without it both
functions raise :class:`~relsynth.errors.ConfigError` and the report says why they are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import ConfigError
from relsynth.evaluate.metrics import NUMERIC_KINDS, child_aggregates, learned_kinds
from relsynth.schema.frames import numeric_values
from relsynth.schema.model import ForeignKey, Schema

__all__ = ["sklearn_available", "feature_matrix", "detection_auc", "family_detection_auc", "ml_efficacy"]

#: Rows per side used for detection (a uniform sample of larger tables).
DETECTION_ROWS = 5_000
_MAX_CATEGORIES = 250  # HistGradientBoosting takes at most 255 category codes per feature
_FOLDS = 3
#: Fewest families per side for grouped folds.
_MIN_GROUPS = 50


def sklearn_available() -> bool:
    """Whether scikit-learn (the ``report`` extra) is installed, without importing it."""
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None


def _require_sklearn() -> None:
    if not sklearn_available():
        raise ConfigError("detection and ML efficacy need scikit-learn; install it with: pip install 'relsynth[report]'")


def feature_matrix(frames: list[pd.DataFrame], kinds: dict[str, str]) -> tuple[list[np.ndarray], np.ndarray]:
    """Encode the same columns of several frames into float matrices with shared category codes.

    Args:
        frames: Frames holding every column of ``kinds``.
        kinds: Column → logical kind (numbers and dates become floats, booleans 0/1, anything
            else a category; NULL stays NaN).

    Returns:
        One matrix per frame, and a boolean mask of the categorical features.
    """
    columns = list(kinds)
    mats = [np.empty((len(f), len(columns))) for f in frames]
    categorical = np.zeros(len(columns), dtype=bool)
    for j, col in enumerate(columns):
        kind = kinds[col]
        if kind in NUMERIC_KINDS:
            for m, f in zip(mats, frames):
                m[:, j] = numeric_values(f[col])
            continue
        categorical[j] = True
        texts = [f[col].astype(str).astype(object).where(f[col].notna()) for f in frames]  # NaN for NULL
        top = texts[0].value_counts().index[:_MAX_CATEGORIES]
        for m, t in zip(mats, texts):
            codes = pd.Categorical(t, categories=top).codes.astype(np.float64)
            codes[codes < 0] = len(top)  # a category beyond the first side's most frequent ones
            codes[t.isna().to_numpy()] = np.nan
            m[:, j] = codes
    return mats, categorical


def _balanced(real: np.ndarray, synth: np.ndarray, rng: np.random.Generator, limit: int,
              groups: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    n = min(len(real), len(synth), limit)
    a = rng.choice(len(real), n, replace=False)
    b = rng.choice(len(synth), n, replace=False)
    g = None
    if groups is not None:
        # Distinct ids on the two sides: a real family and a synthetic one never share a fold slot.
        g = np.r_[groups[0][a], groups[1][b] + int(groups[0].max(initial=0)) + 1]
    return np.vstack([real[a], synth[b]]), np.r_[np.zeros(n), np.ones(n)], g


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run scikit-learn's OpenMP loops on one thread.

    On small frames the trees' OpenMP threads mostly spin-wait on each other: measured here, 3
    fits on 7,000 rows took 0.4 s of CPU on one thread and 11.5 s (42 s wall) on two threads
    of a 2-core machine that was busy with other work.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def detection_auc(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], seed: int = 0,
                  limit: int = DETECTION_ROWS, groups: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> dict[str, Any] | None:
    """Cross-validated ROC AUC of a classifier telling ``real`` rows from ``synth`` rows.

    ``groups`` (an integer id per row of each side, e.g. the parent each child row belongs to)
    keeps a whole family in one fold: rows of one family share values (a patient's lab results
    all fall within the stay), and trees that saw the family's siblings in training would
    recognise it in testing; measured on two halves of the demo hospital that alone gives an
    AUC of 0.69 where the truth is 0.5.

    Returns ``{"auc", "raw_auc", "rows", "features"}`` (``rows``: per side), or None with fewer
    than 20 rows on a side or no feature columns. ``auc`` is at least 0.5 (see below).
    """
    _require_sklearn()
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if not kinds or min(len(real), len(synth)) < 20:
        return None
    (mr, ms), categorical = feature_matrix([real, synth], kinds)
    # A feature that is NULL on every row of both sides tells nothing (and the trees refuse it).
    informative = ~(np.isnan(mr).all(axis=0) & np.isnan(ms).all(axis=0))
    if not informative.any():
        return None
    mr, ms, categorical = mr[:, informative], ms[:, informative], categorical[informative]
    rng = np.random.default_rng(seed)
    x, y, g = _balanced(mr, ms, rng, limit, groups)
    proba = np.empty(len(y))
    # Grouping is for many small families (a patient's lab results). A few big ones (8
    # departments, one language for all films) would put whole populations in one fold and
    # push the AUC below chance: measured 0.29–0.42 on the demo's patients by department.
    if g is not None and min(np.unique(g[y == 0]).size, np.unique(g[y == 1]).size) >= _MIN_GROUPS:
        splits = StratifiedGroupKFold(_FOLDS, shuffle=True, random_state=seed).split(x, y, g)
    else:
        splits = StratifiedKFold(_FOLDS, shuffle=True, random_state=seed).split(x, y)
    with _one_thread():
        for train, test in splits:
            # The trees refuse a feature with no value among the training rows (a child
            # aggregate that exists for 2 parents of 600 can miss a fold entirely).
            keep = ~np.isnan(x[train]).all(axis=0)
            if not keep.any():
                proba[test] = 0.5
                continue
            clf = HistGradientBoostingClassifier(max_iter=100, categorical_features=categorical[keep],
                                                 early_stopping=False, random_state=seed)
            clf.fit(x[train][:, keep], y[train])
            proba[test] = clf.predict_proba(x[test][:, keep])[:, 1]
    raw = float(roc_auc_score(y, proba))
    # Below 0.5 only happens when rows of one side are copies of the other's: the trees learn
    # the copy in training and predict its label for the twin held out. Such rows cannot be
    # told apart, so the score is chance (0.5); ``raw_auc`` keeps what was measured.
    return {"auc": round(max(raw, 0.5), 4), "raw_auc": round(raw, 4), "rows": int(len(y) // 2),
            "features": len(kinds)}


def family_detection_auc(schema: Schema, child: str, fk: ForeignKey, real: dict[str, pd.DataFrame],
                         synth: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, Any] | None:
    """:func:`detection_auc` on parent rows widened with aggregates of their ``child`` rows
    (how many, the mean of each number, the distinct count of each category)."""
    parent = fk.ref_table
    kinds = learned_kinds(schema.tables[parent], real[parent])
    wide = []
    for frames in (real, synth):
        aggs = child_aggregates(schema, child, fk, frames, prefix="children.")
        wide.append(pd.concat([frames[parent][list(kinds)].reset_index(drop=True), aggs], axis=1))
    kinds |= {c: "float" for c in wide[0].columns if c not in kinds}
    return detection_auc(wide[0], wide[1], kinds, seed=seed)


def ml_efficacy(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], target: str,
                seed: int = 0) -> dict[str, Any]:
    """Train on synthetic, test on real, against train on real, test on real (a 70/30 split).

    A categorical target is scored by macro F1, a numeric one by R². The synthetic data was
    usually learned from all real rows, held-out ones included, so the synthetic score is an
    upper estimate.

    Raises:
        ConfigError: ``target`` is not a column of ``kinds`` or has no values.
    """
    _require_sklearn()
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    if target not in kinds:
        raise ConfigError(f"target column {target!r} is not a learned column of its table; "
                          f"choose one of: {', '.join(kinds)}")
    features = {c: k for c, k in kinds.items() if c != target}
    if not features:
        raise ConfigError(f"target column {target!r} is the only learned column of its table; nothing to predict from")
    real = real[real[target].notna()].reset_index(drop=True)
    synth = synth[synth[target].notna()].reset_index(drop=True)
    if len(real) < 20 or len(synth) < 20:
        raise ConfigError(f"target column {target!r} has fewer than 20 non-NULL values on one side")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    cut = int(0.7 * len(real))
    train, test = real.iloc[order[:cut]], real.iloc[order[cut:]]
    (x_train, x_test, x_synth), categorical = feature_matrix([train, test, synth], features)
    usable = ~(np.isnan(x_train).all(axis=0) | np.isnan(x_synth).all(axis=0))
    if not usable.any():
        raise ConfigError(f"no column beside {target!r} has values on both sides; nothing to predict from")
    x_train, x_test, x_synth, categorical = x_train[:, usable], x_test[:, usable], x_synth[:, usable], categorical[usable]
    classification = kinds[target] not in NUMERIC_KINDS
    if classification:
        def label(f: pd.DataFrame) -> np.ndarray:
            return f[target].astype(str).to_numpy()

        def model() -> Any:
            return HistGradientBoostingClassifier(max_iter=100, categorical_features=categorical, random_state=seed)

        def score(y: np.ndarray, p: np.ndarray) -> float:
            return float(f1_score(y, p, average="macro"))
        metric = "macro F1"
    else:
        def label(f: pd.DataFrame) -> np.ndarray:
            return numeric_values(f[target])

        def model() -> Any:
            return HistGradientBoostingRegressor(max_iter=100, categorical_features=categorical, random_state=seed)

        def score(y: np.ndarray, p: np.ndarray) -> float:
            return float(r2_score(y, p))
        metric = "R²"
    y_test = label(test)
    with _one_thread():
        on_real = score(y_test, model().fit(x_train, label(train)).predict(x_test))
        on_synth = score(y_test, model().fit(x_synth, label(synth)).predict(x_test))
    ratio = on_synth / on_real if on_real > 0 else None
    return {"target": target, "task": "classification" if classification else "regression", "metric": metric,
            "real": round(on_real, 4), "synthetic": round(on_synth, 4),
            "ratio": None if ratio is None else round(float(ratio), 4), "rows_test": int(len(test))}
