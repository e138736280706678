"""Privacy figures: distance to closest record, closer-to-train share, exact copies, personal data
in the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth.data import build_hospital, hospital_schema
from relsynth.evaluate.privacy import exact_copies, nearest_distances, privacy_section
from relsynth.schema import read_schema, read_tables
from relsynth.schema.model import Column, Table

from conftest import dataset


@pytest.fixture(scope="module")
def demo() -> dict[str, dict[str, pd.DataFrame]]:
    """Training rows, a holdout from the same hospital simulation (another seed), a synthetic copy."""
    schema = hospital_schema()
    train, holdout = build_hospital(3000, seed=0), build_hospital(3000, seed=1)
    synth = relsynth.fit(train, schema=schema).sample(seed=1)
    return {"train": train, "holdout": holdout, "synth": synth}


def test_demo_dcr_share_and_exact_copies(demo: dict[str, dict[str, pd.DataFrame]]) -> None:
    report = relsynth.evaluate(demo["train"], demo["synth"], schema=hospital_schema(), holdout=demo["holdout"],
                               detection=False)
    priv = report.privacy
    assert priv["summary"]["holdout"] is True
    for name in ("patients", "lab_results", "treatments"):
        t = priv["tables"][name]
        assert 0.45 <= t["closer_to_train_share"] <= 0.55, (name, t["closer_to_train_share"])
        # synthetic rows are no nearer the training rows than unseen real rows are
        assert t["dcr_synthetic"]["median"] >= 0.8 * t["dcr_holdout"]["median"], (name, t)
    assert priv["summary"]["closer_to_train_share"] <= 0.55
    assert priv["summary"]["exact_copy_rate"] < 0.001
    assert report.summary["privacy_exact_copies"] == priv["summary"]["exact_copies"]
    assert report.summary["privacy_pii_values_leaked"] == 0


def test_copying_the_training_rows_is_caught(demo: dict[str, dict[str, pd.DataFrame]]) -> None:
    train = demo["train"]
    priv = privacy_section(hospital_schema(), train, train, demo["holdout"])
    t = priv["tables"]["patients"]
    assert t["closer_to_train_share"] == 1.0
    assert t["dcr_synthetic"]["median"] == 0.0
    assert t["exact_copies"]["rate"] == 1.0 and not t["exact_copies"]["domain_forced"]


def test_without_holdout_the_share_is_not_invented(demo: dict[str, dict[str, pd.DataFrame]]) -> None:
    report = relsynth.evaluate(demo["train"], demo["synth"], schema=hospital_schema(), detection=False)
    assert report.privacy["summary"]["closer_to_train_share"] is None
    assert report.privacy["tables"]["patients"]["dcr_synthetic"]["median"] > 0
    assert any("closer-to-train share not computed" in n for n in report.notes)
    as_json = json.loads(report.to_json())
    assert as_json["privacy"]["summary"]["holdout"] is False
    html = report.to_html()
    assert 'id="privacy"' in html and "not computed: it needs a holdout" in html


def test_nearest_distances_without_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(2500, 4))
    with_sklearn = nearest_distances(a, b)
    monkeypatch.setitem(sys.modules, "sklearn.neighbors", None)  # import fails → numpy blocks
    plain = nearest_distances(a, b)
    np.testing.assert_allclose(plain, with_sklearn, atol=1e-9)
    brute = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    np.testing.assert_allclose(plain, brute, atol=1e-9)


def test_exact_copies_and_forced_domains() -> None:
    table = Table("t", [Column("id", "integer"), Column("a", "boolean"), Column("b", "boolean")], primary_key=["id"])
    real = pd.DataFrame({"id": range(4), "a": [True, True, False, False], "b": [True, False, True, False]})
    synth = pd.DataFrame({"id": range(10, 13), "a": [True, False, None], "b": [True, True, None]})
    out = exact_copies(table, real, synth)
    assert out == {"columns": 2, "copies": 2, "rate": round(2 / 3, 6), "domain_forced": True}
    wide = Table("w", [Column("id", "integer"), Column("x", "float"), Column("s", "string")], primary_key=["id"])
    real = pd.DataFrame({"id": range(100), "x": np.arange(100) / 7, "s": ["a", "b"] * 50})
    synth = real.assign(id=real["id"] + 1000).iloc[:10]
    assert exact_copies(wide, real, synth) == {"columns": 2, "copies": 10, "rate": 1.0, "domain_forced": False}


def test_report_lists_pii_columns_and_generators(tmp_path: Path) -> None:
    url = f"sqlite:///{dataset('chinook')}"
    schema = read_schema(url)
    real = read_tables(url, schema)
    model = relsynth.fit(real, schema=schema)
    synth = model.sample(seed=3)
    report = relsynth.evaluate(real, synth, schema=schema, detection=False, pii=model.pii)
    cust = report.privacy["tables"]["Customer"]["pii"]
    assert cust["Email"]["kind"] == "email" and cust["Email"]["real_values_in_synthetic"] == 0
    assert cust["Email"]["generator"].startswith("built from the row's generated names")
    assert report.privacy["summary"]["pii_values_leaked"] == 0
    assert report.privacy["summary"]["pii_columns"] >= 19
    # The personal columns are generated, so they are neither fidelity-scored nor in the distances.
    assert "Email" not in report.tables["Customer"]["columns"]
    assert "Email" not in report.privacy["tables"]["Customer"]["columns"]
    path = report.save(tmp_path / "r.html")
    assert "Personal data" in path.read_text(encoding="utf-8")
