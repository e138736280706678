"""Fidelity metrics on constructed data where the right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relsynth.data import build_hospital, hospital_schema
from relsynth.evaluate.metrics import column_shape, fidelity_summary, ks_statistic, pair_trends


def test_ks_statistic_known_values() -> None:
    a = np.arange(100, dtype=float)
    assert ks_statistic(a, a.copy()) == 0.0
    assert ks_statistic(a, a + 1000) == 1.0
    assert abs(ks_statistic(a, a + 50) - 0.5) < 1e-12


def test_identical_database_scores_perfectly() -> None:
    real = build_hospital(500, seed=1)
    scores = fidelity_summary(hospital_schema(), real, {k: v.copy() for k, v in real.items()})
    for name, s in scores.items():
        assert all(v == 1.0 for v in s.column_shapes.values()), name
        assert s.pair_trend in (None, 1.0)
        assert s.cardinality in (None, 1.0)


def test_broken_data_scores_lower() -> None:
    real = build_hospital(500, seed=1)
    schema = hospital_schema()
    rng = np.random.default_rng(0)
    shuffled = {k: v.copy() for k, v in real.items()}
    p = shuffled["patients"]
    for col in ("age", "bmi", "systolic_bp"):
        p[col] = rng.permutation(p[col].to_numpy())
    # Only the pairs touching the 3 shuffled columns break; the untouched pairs keep 1.0.
    assert pair_trends(real["patients"], p, schema.tables["patients"])[0] < 0.97
    dropped = {k: v.copy() for k, v in real.items()}
    labs = dropped["lab_results"]
    dropped["lab_results"] = labs[labs["patient_id"] % 2 == 0].reset_index(drop=True)
    assert fidelity_summary(schema, real, dropped)["lab_results"].cardinality < 0.8
    assert column_shape(pd.Series(["a"] * 10), pd.Series(["b"] * 10), "string") == 0.0
