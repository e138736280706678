"""Measure: relsynth's empirical marginals vs the `copulas` package's univariate fitting.

Issue 2 asks to use `copulas` where it serves (e.g. univariate marginals) and to measure that it
does not slow fitting down. This script fits every numeric column of the demo hospital database
both ways and prints seconds and a quality figure (KS distance of 20,000 draws to the data).

`copulas` is BUSL-1.1 and pins pandas<3, so it is not a relsynth dependency: run this script in
a separate environment that has both installed, e.g.

    python -m venv /tmp/cvenv && /tmp/cvenv/bin/pip install copulas -e .
    /tmp/cvenv/bin/python benchmarks/copulas_marginals.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from relsynth.data import build_hospital
from relsynth.transform.encoders import NumericEncoder


def main() -> None:
    from copulas.univariate import Univariate

    frames = build_hospital(5000, seed=0)
    rng = np.random.default_rng(0)
    rows = []
    for table, frame in frames.items():
        for col in frame.columns:
            if frame[col].dtype.kind not in "if" and str(frame[col].dtype) not in ("Int64", "Float64"):
                continue
            if col.endswith("_id"):
                continue
            x = frame[col].dropna().to_numpy(dtype=np.float64)
            t = time.perf_counter()
            enc, _ = NumericEncoder.fit_transform(x, rng)
            t_ours = time.perf_counter() - t
            ks_ours = stats.ks_2samp(x, enc.decode(rng.standard_normal(20000))).statistic
            t = time.perf_counter()
            uni = Univariate()
            uni.fit(x)
            t_cop = time.perf_counter() - t
            ks_cop = stats.ks_2samp(x, np.asarray(uni.sample(20000)).ravel()).statistic
            rows.append((f"{table}.{col}", x.size, t_ours, t_cop, ks_ours, ks_cop, type(uni._instance).__name__))
    print(f"{'column':28} {'rows':>7} {'ours s':>8} {'copulas s':>9} {'ratio':>7} {'KS ours':>8} {'KS copulas':>10}  copulas picked")
    for name, n, a, b, ka, kb, kind in rows:
        print(f"{name:28} {n:7d} {a:8.4f} {b:9.3f} {b / a:6.0f}x {ka:8.3f} {kb:10.3f}  {kind}")
    ta, tb = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{'total':28} {'':7} {ta:8.4f} {tb:9.3f} {tb / ta:6.0f}x")


if __name__ == "__main__":
    main()
