"""The fidelity report on constructed data where the right answer is known.

Identical data must score perfectly; each kind of damage must show in the metric family that
measures it, and only there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth.data import build_hospital, hospital_schema, write_hospital_sqlite
from relsynth.errors import ConfigError, SourceError
from relsynth.evaluate.detection import detection_auc, family_detection_auc
from relsynth.evaluate.integrity import frame_integrity
from relsynth.evaluate.metrics import cardinality, learned_kinds, pair_score

N_PATIENTS = 600


@pytest.fixture(scope="module")
def real() -> dict[str, pd.DataFrame]:
    return build_hospital(N_PATIENTS, seed=1)


def _copy(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {k: v.copy() for k, v in frames.items()}


def test_identical_data_scores_perfectly(real: dict[str, pd.DataFrame]) -> None:
    report = relsynth.evaluate(real, _copy(real), schema=hospital_schema(), detection=False)
    s = report.summary
    for key in ("column_shapes", "column_pair_trends", "cardinality", "parent_child_trends", "overall"):
        assert s[key] == pytest.approx(1.0), key
    assert s["integrity"] == 1.0 and s["integrity_violations"] == 0
    for rel in report.relationships:
        assert rel["cardinality"]["real"] == rel["cardinality"]["synthetic"]


def _halves(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Two independent samples of one process: odd and even patients, each with its children."""
    out = []
    for parity in (0, 1):
        keep = frames["patients"]["patient_id"] % 2 == parity
        part = {"departments": frames["departments"].copy(), "patients": frames["patients"][keep].reset_index(drop=True)}
        for child in ("lab_results", "treatments"):
            rows = frames[child]["patient_id"] % 2 == parity
            part[child] = frames[child][rows].reset_index(drop=True)
        out.append(part)
    return out[0], out[1]


def test_detection_is_at_chance_between_two_samples_of_one_process() -> None:
    first, second = _halves(build_hospital(2 * N_PATIENTS, seed=4))
    schema = hospital_schema()
    kinds = learned_kinds(schema.tables["patients"], first["patients"])
    assert detection_auc(first["patients"], second["patients"], kinds)["auc"] < 0.6
    fk = schema.tables["lab_results"].foreign_keys[0]
    assert family_detection_auc(schema, "lab_results", fk, first, second)["auc"] < 0.6
    # A copy of the data is no more detectable than chance, whatever the trees memorize.
    copy = detection_auc(first["patients"], first["patients"].copy(), kinds)
    assert copy["auc"] == 0.5 and copy["raw_auc"] < 0.5


def test_shuffled_columns_break_pair_trends_only(real: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(0)
    damaged = _copy(real)
    p = damaged["patients"]
    for col in ("age", "bmi", "systolic_bp", "diagnosis"):
        p[col] = rng.permutation(p[col].to_numpy())
    report = relsynth.evaluate(real, damaged, schema=hospital_schema(), detection=False)
    patients = report.tables["patients"]
    assert patients["column_shapes"] == pytest.approx(1.0)  # every marginal is intact
    assert patients["pair_trends"] < 0.95
    broken = {tuple(p["columns"]) for p in patients["pairs"] if p["score"] < 0.9}
    assert ("age", "systolic_bp") in broken or ("systolic_bp", "age") in broken
    untouched = [p for p in patients["pairs"] if not {"age", "bmi", "systolic_bp", "diagnosis"} & set(p["columns"])]
    assert untouched and all(p["score"] == pytest.approx(1.0) for p in untouched)


def test_dropped_children_break_cardinality(real: dict[str, pd.DataFrame]) -> None:
    damaged = _copy(real)
    labs = damaged["lab_results"]
    damaged["lab_results"] = labs[labs["patient_id"] % 2 == 0].reset_index(drop=True)
    report = relsynth.evaluate(real, damaged, schema=hospital_schema(), detection=False)
    rel = next(r for r in report.relationships if r["child"] == "lab_results")
    assert rel["cardinality"]["score"] < 0.8
    assert rel["cardinality"]["mean_synthetic"] < rel["cardinality"]["mean_real"]
    assert report.tables["patients"]["column_shapes"] == pytest.approx(1.0)


def test_children_moved_to_random_parents_break_parent_child_trends(real: dict[str, pd.DataFrame]) -> None:
    """Same child rows, same parents, same counts: only who belongs to whom changes."""
    rng = np.random.default_rng(0)
    damaged = _copy(real)
    labs = damaged["lab_results"]
    labs["patient_id"] = rng.permutation(labs["patient_id"].to_numpy())
    report = relsynth.evaluate(real, damaged, schema=hospital_schema(), detection=False)
    rel = next(r for r in report.relationships if r["child"] == "lab_results")
    good = relsynth.evaluate(real, _copy(real), schema=hospital_schema(), detection=False)
    good_rel = next(r for r in good.relationships if r["child"] == "lab_results")
    assert report.tables["lab_results"]["column_shapes"] == pytest.approx(1.0)
    assert report.tables["lab_results"]["pair_trends"] == pytest.approx(1.0)
    assert rel["parent_child_trends"]["score"] < good_rel["parent_child_trends"]["score"] - 0.03
    assert rel["aggregate_trends"]["score"] < good_rel["aggregate_trends"]["score"] - 0.03


def test_families_that_do_not_belong_together_are_detected() -> None:
    """One half's lab results moved to random patients of that half: the flat rows are as real
    as ever, the families are not; only the relational detector can tell."""
    schema = hospital_schema()
    first, second = _halves(build_hospital(2 * N_PATIENTS, seed=4))
    labs = second["lab_results"]
    # Rows are grouped by the patient they were drawn for (their values cluster by patient).
    by_patient = tuple(f["lab_results"]["patient_id"].to_numpy(dtype=np.int64) for f in (first, second))
    labs["patient_id"] = np.random.default_rng(0).permutation(labs["patient_id"].to_numpy())
    fk = schema.tables["lab_results"].foreign_keys[0]
    assert family_detection_auc(schema, "lab_results", fk, first, second)["auc"] > 0.65
    kinds = learned_kinds(schema.tables["lab_results"], first["lab_results"])
    assert detection_auc(first["lab_results"], second["lab_results"], kinds, groups=by_patient)["auc"] < 0.6


def test_shifted_column_is_detected() -> None:
    first, second = _halves(build_hospital(2 * N_PATIENTS, seed=4))  # no row has a twin
    second["patients"]["bmi"] = second["patients"]["bmi"] + 8.0
    schema = hospital_schema()
    report = relsynth.evaluate(first, second, schema=schema, detection=False)
    patients = report.tables["patients"]
    assert patients["columns"]["bmi"]["score"] < 0.6
    assert patients["columns"]["age"]["score"] > 0.9
    kinds = learned_kinds(schema.tables["patients"], first["patients"])
    assert detection_auc(first["patients"], second["patients"], kinds)["auc"] > 0.8


def test_pair_score_known_values() -> None:
    x = pd.Series(np.arange(100, dtype=float))
    same = pair_score(x, x * 2, x, x * 2, "float", "float")
    assert same["metric"] == "correlation" and same["score"] == pytest.approx(1.0)
    flipped = pair_score(x, x, x, -x, "float", "float")
    assert flipped["score"] == pytest.approx(0.0)  # ρ = 1 vs ρ = −1
    a = pd.Series(["u", "v"] * 50)
    b = pd.Series(["p", "q"] * 50)
    assert pair_score(a, b, a, b, "string", "string")["score"] == pytest.approx(1.0)
    # (u,p),(v,q) against (u,q),(v,p): disjoint cells, total variation 1.
    assert pair_score(a, b, a, b[::-1].reset_index(drop=True), "string", "string")["score"] == pytest.approx(0.0)
    assert pair_score(a, b, a, b, "string", "string")["statistic"] == "cramers_v"


def test_cardinality_histogram_and_score() -> None:
    same = cardinality(np.array([0, 1, 1, 2, 5]), np.array([0, 1, 1, 2, 5]))
    assert same["score"] == 1.0 and same["real"] == same["synthetic"]
    assert same["labels"][0] == "0"
    apart = cardinality(np.full(10, 3), np.full(10, 30))
    assert apart["score"] == 0.0
    wide = cardinality(np.arange(0, 1000), np.arange(0, 1000))
    assert len(wide["labels"]) <= 31 and "–" in wide["labels"][1]


def test_frame_integrity_counts_each_kind_of_violation(real: dict[str, pd.DataFrame]) -> None:
    schema = hospital_schema()
    bad = _copy(real)
    p = bad["patients"]
    p.loc[2, "sex"] = None                                   # NULL in a NOT NULL column
    p.loc[3, "age"] = 200                                    # CHECK age BETWEEN 0 AND 120
    bad["patients"] = pd.concat([p, p.iloc[[0]]], ignore_index=True)  # duplicate key
    labs = bad["lab_results"]
    labs.loc[0, "patient_id"] = 10**9                        # points at no patient
    rows = {(r["table"], r["kind"]): r["violations"] for r in frame_integrity(schema, bad)}
    assert rows[("patients", "primary_key")] == 1
    assert rows[("patients", "not_null")] == 1
    assert rows[("lab_results", "foreign_key")] == 1
    checks = [r for r in frame_integrity(schema, bad) if r["table"] == "patients" and r["kind"] == "check"]
    assert sum(r["violations"] for r in checks) == 1
    clean = frame_integrity(schema, real)
    assert clean and all(r["violations"] == 0 for r in clean)


def test_ml_efficacy_and_its_errors(real: dict[str, pd.DataFrame]) -> None:
    report = relsynth.evaluate(real, _copy(real), schema=hospital_schema(), detection=False,
                               target="patients.diagnosis")
    e = report.ml_efficacy
    assert e["task"] == "classification" and e["metric"] == "macro F1"
    assert e["real"] > 0.2 and e["synthetic"] >= e["real"]  # trained on all rows, test ones included
    with pytest.raises(ConfigError, match="TABLE.COLUMN"):
        relsynth.evaluate(real, real, schema=hospital_schema(), detection=False, target="diagnosis")
    with pytest.raises(ConfigError, match="did you mean"):
        relsynth.evaluate(real, real, schema=hospital_schema(), detection=False, target="patients.diagnosys")


def test_report_serializes_to_json_and_html(real: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    report = relsynth.evaluate(real, _copy(real), schema=hospital_schema(), detection=False)
    data = json.loads(report.to_json())
    assert set(data) >= {"summary", "integrity", "tables", "relationships", "notes"}
    assert data["tables"]["patients"]["columns"]["age"]["plot"]["type"] == "histogram"
    assert data["tables"]["patients"]["columns"]["sex"]["plot"]["type"] == "bars"
    html = report.save(tmp_path / "r.html").read_text()
    assert "<svg" in html and "lab_results" in html and "http://" not in html
    assert json.loads(report.save(tmp_path / "r.json").read_text())["summary"] == data["summary"]


def test_missing_table_on_one_side_is_one_clear_error(real: dict[str, pd.DataFrame]) -> None:
    partial = {k: v for k, v in real.items() if k != "treatments"}
    with pytest.raises(ConfigError, match="lack table"):
        relsynth.evaluate(real, partial, schema=hospital_schema())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relsynth", *args], capture_output=True, text=True, timeout=900)


def test_cli_report_on_a_clone(tmp_path: Path) -> None:
    src = tmp_path / "hospital.db"
    write_hospital_sqlite(src, n_patients=N_PATIENTS, seed=2)
    dst = f"sqlite:///{tmp_path / 'copy.db'}"
    relsynth.clone(f"sqlite:///{src}", dst, seed=1)
    html = tmp_path / "report.html"
    done = _cli("report", f"sqlite:///{src}", dst, "-o", str(html), "--target", "patients.diagnosis")
    assert done.returncode == 0, done.stderr
    assert "fidelity" in done.stdout and "detection AUC" in done.stdout and "0 violating rows" in done.stdout
    page = html.read_text()
    assert "patients" in page and "<svg" in page
    done = _cli("report", f"sqlite:///{src}", dst, "--format", "json", "--no-detection")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["summary"]["overall"] > 0.85 and data["summary"]["integrity_violations"] == 0
    assert data["summary"]["detection_auc"] is None


def test_cli_report_errors_are_one_line(tmp_path: Path) -> None:
    src = tmp_path / "hospital.db"
    write_hospital_sqlite(src, n_patients=50, seed=2)
    empty = tmp_path / "empty.db"
    import sqlite3

    sqlite3.connect(empty).close()
    done = _cli("report", f"sqlite:///{src}", f"sqlite:///{empty}")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "has no table(s)" in done.stderr
    assert "Traceback" not in done.stderr
    done = _cli("report", f"sqlite:///{src}", f"sqlite:///{src}", "--target", "nope")
    assert done.returncode == 2 and "TABLE.COLUMN" in done.stderr


def test_report_reads_a_postgres_copy(tmp_path: Path, pg_url: str) -> None:
    """The real side in SQLite, the synthetic one written to PostgreSQL and read back."""
    src = tmp_path / "hospital.db"
    write_hospital_sqlite(src, n_patients=N_PATIENTS, seed=3)
    relsynth.clone(f"sqlite:///{src}", pg_url, seed=1)
    report = relsynth.evaluate(f"sqlite:///{src}", pg_url, detection=False)
    assert report.summary["integrity_violations"] == 0
    assert report.summary["column_shapes"] > 0.9
    assert report.tables["patients"]["rows_synthetic"] == N_PATIENTS
    with pytest.raises(SourceError):
        relsynth.evaluate(f"sqlite:///{src}", f"sqlite:///{tmp_path / 'missing.db'}", detection=False)


def test_all_null_column_does_not_break_detection() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    frames = {"t": pd.DataFrame({"id": pd.array(range(1, 201), dtype="Int64"), "x": x, "y": x + rng.normal(size=200),
                                 "empty": pd.array([pd.NA] * 200, dtype="Int64")})}
    schema = relsynth.schema.schema_from_dataframes(frames, primary_keys={"t": "id"})
    synthetic = relsynth.fit(frames, schema=schema).sample(seed=1)
    report = relsynth.evaluate(frames, synthetic, schema=schema, target="t.x")
    assert report.tables["t"]["detection"]["auc"] < 0.75


def test_detection_survives_few_families_and_sparse_aggregates() -> None:
    """Every child row under one parent (no grouping possible); an aggregate with 2 values."""
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    real = pd.DataFrame({"x": x, "sparse": np.where(np.arange(n) < 2, 1.0, np.nan)})
    synth = pd.DataFrame({"x": rng.normal(size=n), "sparse": np.where(np.arange(n) < 2, 1.0, np.nan)})
    one_family = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    result = detection_auc(real, synth, {"x": "float", "sparse": "float"}, groups=one_family)
    assert result is not None and result["auc"] < 0.65
