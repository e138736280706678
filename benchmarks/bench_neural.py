"""Benchmark: the Gaussian copula vs the neural synthesizer vs ``auto`` (neural where it pays), per table.

For each input it fits relsynth three times (``synthesizer`` = ``copula``, ``neural``, ``auto``;
seed 0, the default neural budget unless ``--epochs``/``--seconds`` say otherwise), samples once
(seed 1, scale 1) and reports:

* fit seconds per table and in total (on this machine, whatever else runs on it);
* integrity violations of the synthetic database (keys, FKs, NOT NULL, UNIQUE, CHECK);
* relsynth's fidelity report (``relsynth.evaluate``: overall, column shapes, pair trends,
  cardinality, parent-child trends);
* SDV's evaluator (``sdv.evaluation.evaluate_quality``, overall score and its properties) when
  the ``sdv`` extra is installed (see benchmarks/sdv_compare.py for the environment);
* non-monotone pairs: every pair of numeric columns of a table whose real dependence (mutual
  information in 10 × 10 quantile bins) exceeds what a monotone relation of its Spearman rho
  carries (the Gaussian ``-½ log(1 - ρ²)``) by at least ``NONLINEAR_MIN_NATS``; per such pair the
  similarity of the synthetic 2-D histogram to the real one (1 - total variation, on the real
  data's bins), and the mean over them.

and draws a non-monotone pair (the demo's treatments.dose_mg × cost: each drug its own doses and
price per day; chinook's Track.Milliseconds × Bytes: bytes per second by media type) real vs
copula vs neural into a PNG per input (needs matplotlib).

Inputs: ``demo`` (the hospital, 5,000 patients) and the sample databases' subsets that SDV's
evaluator accepts (``northwind``, ``sakila``, ``chinook``, ``adventureworkslt``; see
benchmarks/sdv_compare.py), all read from ``shared/datasets``.

    python benchmarks/bench_neural.py [--inputs demo,northwind,sakila] [--epochs 40] [--seconds 60]
        [--out benchmarks/results/bench_neural.json] [--plots benchmarks/results]

Figures, not assertions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import relsynth
from relsynth.config import NEURAL_EPOCHS, NEURAL_SECONDS
from relsynth.evaluate.integrity import frame_integrity, violations
from relsynth.models.neural import NeuralOptions
from relsynth.models.relational import fit_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sdv_compare import load_input, sdv_frames, sdv_metadata, sdv_score  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_neural.json"
DEFAULT_PLOTS = ROOT / "benchmarks" / "results"
SYNTHESIZERS = ("copula", "neural", "auto")
NUMERIC = {"integer", "float", "decimal", "date", "datetime"}
#: A pair is non-monotone where its binned mutual information exceeds the monotone share by this.
NONLINEAR_MIN_NATS = 0.05
BINS = 10
#: One non-monotone pair per input, drawn real vs copula vs neural into ``neural_pair_<input>.png``.
PLOT_PAIRS = {"demo": ("treatments", "dose_mg", "cost"), "chinook": ("Track", "Milliseconds", "Bytes")}


def numbers(s: pd.Series) -> np.ndarray:
    """A column as float64 (dates and datetimes as seconds), NaN where NULL."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.astype("datetime64[ns]").astype("int64").astype(np.float64) / 1e9
        return np.where(s.isna(), np.nan, out)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)


def _bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.searchsorted(edges, x, side="right")


def _edges(x: np.ndarray) -> np.ndarray:
    return np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1)[1:-1]))


def histogram(x: np.ndarray, y: np.ndarray, ex: np.ndarray, ey: np.ndarray) -> np.ndarray:
    ok = ~(np.isnan(x) | np.isnan(y))
    h = np.zeros((ex.size + 1, ey.size + 1))
    np.add.at(h, (_bins(x[ok], ex), _bins(y[ok], ey)), 1.0)
    return h / max(h.sum(), 1.0)


def nonmonotone_nats(x: np.ndarray, y: np.ndarray) -> float:
    """Binned mutual information less the Gaussian information of the pair's Spearman rho."""
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 200 or np.unique(x[ok]).size < BINS or np.unique(y[ok]).size < BINS:
        return 0.0
    h = histogram(x, y, _edges(x[ok]), _edges(y[ok]))
    px, py = h.sum(axis=1, keepdims=True), h.sum(axis=0, keepdims=True)
    nz = h > 0
    mi = float((h[nz] * np.log(h[nz] / (px @ py)[nz])).sum())
    rho = float(pd.Series(x[ok]).rank().corr(pd.Series(y[ok]).rank()))
    # The binned information of a monotone (Gaussian) pair, measured the same way, is below the
    # continuous value: compare like with like by binning a Gaussian pair of the same rho.
    rng = np.random.default_rng(0)
    g = rng.standard_normal((int(ok.sum()), 2)) @ np.linalg.cholesky([[1, rho], [rho, 1 + 1e-12]]).T
    hg = histogram(g[:, 0], g[:, 1], _edges(g[:, 0]), _edges(g[:, 1]))
    gx, gy = hg.sum(axis=1, keepdims=True), hg.sum(axis=0, keepdims=True)
    gz = hg > 0
    mi_monotone = float((hg[gz] * np.log(hg[gz] / (gx @ gy)[gz])).sum())
    return mi - mi_monotone


def nonmonotone_pairs(schema: relsynth.Schema, real: dict[str, pd.DataFrame]) -> list[tuple[str, str, str, float]]:
    out = []
    for name, table in schema.tables.items():
        keys = set(table.primary_key) | table.fk_columns
        cols = [c.name for c in table.columns if c.kind in NUMERIC and c.name not in keys]
        for i, a in enumerate(cols):
            for b in cols[i + 1:]:
                nats = nonmonotone_nats(numbers(real[name][a]), numbers(real[name][b]))
                if nats >= NONLINEAR_MIN_NATS:
                    out.append((name, a, b, nats))
    return out


def pair_similarity(real: pd.DataFrame, synth: pd.DataFrame, a: str, b: str) -> float:
    """1 - total variation between the real and synthetic 2-D histograms (real quantile bins)."""
    x, y = numbers(real[a]), numbers(real[b])
    ok = ~(np.isnan(x) | np.isnan(y))
    ex, ey = _edges(x[ok]), _edges(y[ok])
    return 1.0 - 0.5 * float(np.abs(histogram(x, y, ex, ey) - histogram(numbers(synth[a]), numbers(synth[b]), ex, ey)).sum())


def fit_timed(schema, frames, synthesizer: str, options: NeuralOptions):  # noqa: ANN001, ANN201
    """Fit with per-table seconds (from the fit's own per-table progress calls)."""
    starts: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    model = fit_model(schema, frames, seed=0, progress=lambda name: starts.append((name, time.perf_counter())),
                      synthesizers=dict.fromkeys(schema.tables, synthesizer), neural=options)
    total = time.perf_counter() - t0
    ends = [t for _, t in starts[1:]] + [t0 + total]
    per_table = {name: round(end - start, 2) for (name, start), end in zip(starts, ends)}
    return model, total, per_table


def run_input(name: str, options: NeuralOptions, sdv: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    data = load_input(name, quick=False)
    schema, real = data.schema, data.frames
    pairs = nonmonotone_pairs(schema, real)
    meta = sdv_metadata(schema, real) if sdv else None
    row: dict[str, Any] = {"input": name, "tables": {n: len(f) for n, f in real.items()}, "notes": data.notes,
                           "nonmonotone_pairs": [{"table": t, "a": a, "b": b, "nats": round(v, 3)} for t, a, b, v in pairs],
                           "runs": {}}
    synthetic: dict[str, Any] = {}
    for synthesizer in SYNTHESIZERS:
        model, total, per_table = fit_timed(schema, real, synthesizer, options)
        t0 = time.perf_counter()
        synth = model.sample(seed=1)
        sample_s = time.perf_counter() - t0
        synthetic[synthesizer] = synth
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = relsynth.evaluate(real, synth, schema=schema, detection=False, privacy=False)
        run: dict[str, Any] = {
            "fit_s": round(total, 2), "fit_s_per_table": per_table, "sample_s": round(sample_s, 2),
            "learned_by": {n: tm.synthesizer for n, tm in model.tables.items()},
            "neural": {n: {"epochs": tm.neural.epochs, "train_s": round(tm.neural.seconds, 2),
                           "gain_nats_per_row": None if tm.neural.gain is None else round(tm.neural.gain, 3)}
                       for n, tm in model.tables.items() if tm.neural is not None},
            "integrity_violations": violations(frame_integrity(schema, synth)),
            "relsynth_report": {k: report.summary[k] for k in ("overall", "column_shapes", "column_pair_trends",
                                                                "cardinality", "parent_child_trends")},
            "nonmonotone_similarity": {f"{t}.{a}×{b}": round(pair_similarity(real[t], synth[t], a, b), 4)
                                       for t, a, b, _ in pairs},
        }
        sims = list(run["nonmonotone_similarity"].values())
        run["nonmonotone_similarity_mean"] = round(float(np.mean(sims)), 4) if sims else None
        if sdv:
            score = sdv_score(sdv_frames(real, schema), sdv_frames(synth, schema), meta)
            run["sdv"] = {"score": score.get("score"), "properties": score.get("properties"), "error": score.get("error")}
        row["runs"][synthesizer] = run
        print(f"  {name:10s} {synthesizer:7s} fit {total:6.1f}s  integrity violations {run['integrity_violations']}  "
              f"report {_f(run['relsynth_report']['overall'])}  SDV {_f(run.get('sdv', {}).get('score'))}  "
              f"non-monotone pairs {_f(run['nonmonotone_similarity_mean'])}", flush=True)
    return row, {"real": real, **synthetic}


def _f(v: float | None) -> str:
    return "  n/a " if v is None else f"{v:.4f}"


def plot_pair(frames: dict[str, dict[str, pd.DataFrame]], table: str, a: str, b: str, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
    real = frames["real"][table]
    ex = np.unique(np.quantile(numbers(real[a]), np.linspace(0, 1, 21)))
    rx, ry = numbers(real[a]), numbers(real[b])
    skewed = all(np.nanmin(v) > 0 and np.nanmax(v) > 100 * np.nanmin(v) for v in (rx, ry))
    for ax, label in zip(axes, ("real", "copula", "neural")):
        f = frames[label][table]
        x, y = numbers(f[a]), numbers(f[b])
        ax.scatter(x, y, s=2, alpha=0.25, color="tab:blue" if label == "real" else "tab:orange")
        idx = np.clip(np.searchsorted(ex, x, side="right") - 1, 0, ex.size - 2)
        means = [np.nanmean(y[idx == i]) if (idx == i).any() else np.nan for i in range(ex.size - 1)]
        ax.plot((ex[:-1] + ex[1:]) / 2, means, color="black", lw=2, label=f"mean {b} per {a} bin")
        ridx = np.clip(np.searchsorted(ex, rx, side="right") - 1, 0, ex.size - 2)
        ax.plot((ex[:-1] + ex[1:]) / 2, [np.nanmean(ry[ridx == i]) for i in range(ex.size - 1)],
                color="tab:blue", lw=1.5, ls="--", label="real mean")
        if skewed:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(f"{label}: {table}.{a} × {b}")
        ax.set_xlabel(a)
        ax.legend(loc="lower center", fontsize=8)
    axes[0].set_ylabel(b)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default="demo,northwind,sakila")
    parser.add_argument("--epochs", type=int, default=NEURAL_EPOCHS)
    parser.add_argument("--seconds", type=float, default=NEURAL_SECONDS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--plots", type=Path, default=DEFAULT_PLOTS, help="folder of the PNG plots")
    args = parser.parse_args()
    logging.getLogger("relsynth").setLevel(logging.ERROR)
    has_sdv = importlib.util.find_spec("sdv") is not None
    if not has_sdv:
        print('SDV is not installed: no SDV evaluator scores (pip install "relsynth[sdv]", torch==2.13.0 first)')
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available, "
          f"CUDA {'yes' if torch.cuda.is_available() else 'no'}; neural budget {args.epochs} epochs / {args.seconds:.0f}s per table")
    options = NeuralOptions(epochs=args.epochs, seconds=args.seconds)
    rows = []
    for name in args.inputs.split(","):
        row, frames = run_input(name, options, has_sdv)
        rows.append(row)
        if name in PLOT_PAIRS:
            plot_pair(frames, *PLOT_PAIRS[name], args.plots / f"neural_pair_{name}.png")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"epochs": args.epochs, "seconds": args.seconds, "inputs": rows}, indent=1, default=str))
    print(f"\nresults written to {args.out}\n")
    print("| input | synthesizer | tables learned by the network | fit s (total) | slowest table fit s | integrity violations "
          "| relsynth report overall | pair trends | parent-child trends | SDV score | SDV pair trends | non-monotone pairs |")
    print("|---" * 12 + "|")
    for row in rows:
        for synthesizer, run in row["runs"].items():
            slowest = max(run["fit_s_per_table"].items(), key=lambda kv: kv[1])
            neural = ", ".join(n for n, s in run["learned_by"].items() if s == "neural") or "none"
            scored = run.get("sdv") or {}
            print(f"| {row['input']} | {synthesizer} | {neural} | {run['fit_s']:.1f} | {slowest[0]} {slowest[1]:.1f} | "
                  f"{run['integrity_violations']} | {_f(run['relsynth_report']['overall'])} | "
                  f"{_f(run['relsynth_report']['column_pair_trends'])} | {_f(run['relsynth_report']['parent_child_trends'])} | "
                  f"{_f(scored.get('score'))} | {_f((scored.get('properties') or {}).get('Column Pair Trends'))} | "
                  f"{_f(run['nonmonotone_similarity_mean'])} ({len(run['nonmonotone_similarity'])}) |")


if __name__ == "__main__":
    main()
