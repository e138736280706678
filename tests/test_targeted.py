"""Targeted generation: conditions carried through the FK graph, rebalancing, exact sizes,
children for existing parents (``Model.sample(conditions=, rebalance=, size=, parents=)``).

The demo database's children follow their patients (older patients have more lab results and
higher creatinine), so a conditioned synthetic database is compared with the real database
filtered the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from scipy.stats import norm
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.config import Condition, Config, Rebalance, parse_target_options
from relsynth.data import build_hospital, hospital_schema
from relsynth.errors import ConfigError
from relsynth.evaluate.integrity import frame_integrity, violations
from relsynth.models.conditioning import truncated_gaussian
from relsynth.models.relational import fit_model

from conftest import dataset


@pytest.fixture(scope="module")
def real() -> dict[str, pd.DataFrame]:
    return build_hospital(5000, 0)


@pytest.fixture(scope="module")
def model(real: dict[str, pd.DataFrame]):
    return fit_model(hospital_schema(), real, seed=0)


def _per_parent(children: pd.DataFrame, parents: pd.DataFrame) -> pd.Series:
    """Children of each parent row (zeros included), indexed like ``parents``."""
    n = children.groupby("patient_id").size()
    return pd.Series(n.reindex(parents["patient_id"]).fillna(0).to_numpy(), index=parents.index)


def _within(synthetic: float, real: float, tolerance: float = 0.10) -> bool:
    return abs(synthetic - real) <= tolerance * abs(real)


# ------------------------------------------------------------------------- the draw itself
def test_truncated_gaussian_is_the_exact_conditional() -> None:
    """z1 | z0 > 1 for correlation 0.6: E[z1] = 0.6 φ(1) / (1 - Φ(1)); a union of two intervals
    gets each piece with its probability mass."""
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.6], [0.6, 1.0]])
    n = 200_000
    z = truncated_gaussian(np.zeros((n, 2)), cov, {0: (np.array([[1.0]]), np.array([[np.inf]]))}, rng)
    assert z[:, 0].min() >= 1.0
    expected = 0.6 * norm.pdf(1) / (1 - norm.cdf(1))
    assert abs(z[:, 1].mean() - expected) < 0.01
    assert abs(z[:, 0].mean() - norm.pdf(1) / (1 - norm.cdf(1))) < 0.01
    # Two constrained dims (Gibbs): both in range, and the free third follows both.
    cov3 = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]])
    bounds = {0: (np.array([[-np.inf, 1.5]]), np.array([[-1.0, np.inf]])),  # z0 < -1 or z0 > 1.5
              1: (np.array([[0.0]]), np.array([[0.5]]))}
    z = truncated_gaussian(np.zeros((n, 3)), cov3, bounds, rng)
    assert ((z[:, 0] < -1.0) | (z[:, 0] > 1.5)).all() and ((z[:, 1] >= 0) & (z[:, 1] <= 0.5)).all()
    # Reference by rejection from the unconstrained normal.
    ref = rng.standard_normal((4_000_000, 3)) @ np.linalg.cholesky(cov3).T
    keep = ((ref[:, 0] < -1.0) | (ref[:, 0] > 1.5)) & (ref[:, 1] >= 0) & (ref[:, 1] <= 0.5)
    assert abs((z[:, 0] > 0).mean() - (ref[keep, 0] > 0).mean()) < 0.01
    assert abs(z[:, 2].mean() - ref[keep, 2].mean()) < 0.02
    # A piece far out in a tail is still reached, without NaNs.
    far = truncated_gaussian(np.zeros((1000, 1)), np.eye(1), {0: (np.array([[9.0]]), np.array([[np.inf]]))}, rng)
    assert np.isfinite(far).all() and (far >= 9.0).all()
    assert ndtr(-9.0) > 0  # the tail has mass the floats can see


# ----------------------------------------------------------------------------- conditions
def test_conditioned_patients_children_follow_as_in_the_real_data(model, real) -> None:
    out = model.sample(seed=1, conditions={"patients": {"age": (70, None)}}, size={"patients": 2000})
    patients = out["patients"]
    assert len(patients) == 2000 and (patients["age"] >= 70).all()
    # The departments (UNIQUE names) are kept whole; the old patients are shared out over them.
    assert sorted(out["departments"]["name"]) == sorted(real["departments"]["name"])
    assert violations(frame_integrity(model.schema, out)) == 0
    rp = real["patients"]
    old = rp[rp["age"] >= 70]
    # Older patients have more lab results and treatments, and higher creatinine.
    for child in ("lab_results", "treatments"):
        real_n = _per_parent(real[child], old).mean()
        synth_n = _per_parent(out[child], patients).mean()
        unconditioned = len(real[child]) / len(rp)
        assert _within(synth_n, real_n), (child, synth_n, real_n)
        if child == "lab_results":
            assert synth_n > unconditioned * 1.15  # the shift, not the average
    labs = real["lab_results"]
    real_crea = labs[labs["patient_id"].isin(old["patient_id"]) & (labs["test"] == "creatinine")]["value"].mean()
    synth_labs = out["lab_results"]
    synth_crea = synth_labs[synth_labs["test"] == "creatinine"]["value"].mean()
    assert _within(synth_crea, real_crea), (synth_crea, real_crea)
    assert synth_crea > labs[labs["test"] == "creatinine"]["value"].mean()


def test_several_conditions_hold_exactly(model) -> None:
    out = model.sample(seed=2, conditions={"patients": {"smoker": True, "age": (70, None),
                                                        "diagnosis": ["copd", "cancer"], "bmi": {"below": 30}}},
                       size={"patients": 500})
    p = out["patients"]
    assert len(p) == 500
    assert p["smoker"].all() and (p["age"] >= 70).all() and (p["bmi"] < 30).all()
    assert set(p["diagnosis"]) == {"copd", "cancer"}
    assert violations(frame_integrity(model.schema, out)) == 0


def test_conditions_on_dates_nulls_and_derived_columns(model) -> None:
    """discharge_date is stored as an offset from admission_date (its range bounds the admission
    date); unit is a function of test (its condition becomes one on test); NULL is a value too."""
    out = model.sample(seed=1, conditions={"patients": {"discharge_date": ("2023-01-01", "2023-01-31"),
                                                        "admission_date": {"min": "2022-12-20"}}},
                       size={"patients": 200})
    p = out["patients"]
    assert len(p) == 200 and p["discharge_date"].between("2023-01-01", "2023-01-31").all()
    assert (p["admission_date"] >= "2022-12-20").all() and (p["discharge_date"] >= p["admission_date"]).all()
    out = model.sample(seed=1, conditions={"patients": {"discharge_date": None, "age": 70}}, size={"patients": 100})
    assert out["patients"]["discharge_date"].isna().all() and (out["patients"]["age"] == 70).all()
    out = model.sample(seed=1, conditions={"lab_results": {"unit": "%"}})
    assert set(out["lab_results"]["test"]) == {"hba1c"} and set(out["lab_results"]["unit"]) == {"%"}
    assert violations(frame_integrity(model.schema, out)) == 0


def test_condition_on_a_category_that_follows_a_number(model) -> None:
    """insurance is encoded per age bin: its latent slice depends on the row's age, so the draw
    uses the union of slices and the sampler checks the decoded rows (bounded redraws)."""
    out = model.sample(seed=3, conditions={"patients": {"insurance": "Self-pay"}}, size={"patients": 300})
    assert (out["patients"]["insurance"] == "Self-pay").all() and len(out["patients"]) == 300


def test_condition_on_a_child_table_chooses_its_parents(model, real) -> None:
    """Lab results with HbA1c above 9 come with patients who have them: mostly diabetics."""
    out = model.sample(seed=6, conditions={"lab_results": {"test": "hba1c", "value": {"above": 9}}})
    labs = out["lab_results"]
    assert len(labs) > 0 and (labs["test"] == "hba1c").all() and (labs["value"] > 9).all()
    assert violations(frame_integrity(model.schema, out)) == 0
    assert labs["patient_id"].isin(out["patients"]["patient_id"]).all()
    assert _per_parent(labs, out["patients"]).min() >= 1  # every chosen patient has such a result
    base = (real["patients"]["diagnosis"] == "diabetes").mean()
    assert (out["patients"]["diagnosis"] == "diabetes").mean() > 2 * base


def test_impossible_conditions_fail_quickly_with_a_clear_error(model) -> None:
    with pytest.raises(ConfigError, match=r"patients.age >= 200 cannot hold.*range from 19 to 95"):
        model.sample(seed=0, conditions={"patients": {"age": (200, None)}})
    with pytest.raises(ConfigError, match=r"diagnosis = 'flu' cannot hold.*'cancer'"):
        model.sample(seed=0, conditions={"patients": {"diagnosis": "flu"}})
    with pytest.raises(ConfigError, match=r"lab_results.value >= 100000.0 cannot hold.*range from"):
        model.sample(seed=0, conditions={"lab_results": {"value": (100000, None)}})
    with pytest.raises(ConfigError, match=r"no column 'agee' \(did you mean 'age'\?\)"):
        model.sample(seed=0, conditions={"patients": {"agee": 3}})
    with pytest.raises(ConfigError, match=r"not a number but age is integer"):
        model.sample(seed=0, conditions={"patients": {"age": "old"}})
    with pytest.raises(ConfigError, match=r"key column"):
        model.sample(seed=0, conditions={"patients": {"patient_id": 3}})
    # Possible in the latent space but not once decoded (insurance follows age in bins; the
    # copula has no Medicare patients of 30): the bounded redraws end in a clear error.
    with pytest.raises(ConfigError, match=r"still broke the condition after 25 redraws.*\(nearly\) impossible"):
        model.sample(seed=1, conditions={"patients": {"insurance": "Medicare", "age": (None, 30)}},
                     size={"patients": 500})


def test_stream_partitions_all_hold_the_condition(model) -> None:
    stream = model.stream(seed=5, partition_rows=3000, conditions={"patients": {"age": (70, None)}},
                          size={"patients": 3000})
    pieces: dict[str, list[pd.DataFrame]] = {}
    for name, frame in stream:
        pieces.setdefault(name, []).append(frame)
    out = {n: pd.concat(p, ignore_index=True) for n, p in pieces.items()}
    assert stream.partitions > 1
    assert len(out["patients"]) == 3000 and (out["patients"]["age"] >= 70).all()
    assert violations(frame_integrity(model.schema, out)) == 0


# ---------------------------------------------------------------------------- rebalancing
def test_rebalanced_rare_category_keeps_its_children(model, real) -> None:
    rp = real["patients"]
    assert 0.03 < (rp["diagnosis"] == "cancer").mean() < 0.07  # a ~5% category ...
    out = model.sample(seed=2, rebalance={"patients": {"diagnosis": {"cancer": 0.5}}})
    p = out["patients"]
    assert abs((p["diagnosis"] == "cancer").mean() - 0.5) < 0.01  # ... becomes half of the rows
    assert len(p) == len(rp)
    assert violations(frame_integrity(model.schema, out)) == 0
    # Per-category child statistics as in the real data: treatments per patient, the drugs.
    real_n = _per_parent(real["treatments"], rp).groupby(rp["diagnosis"]).mean()
    synth_n = _per_parent(out["treatments"], p).groupby(p["diagnosis"]).mean()
    for diagnosis in real_n.index:
        assert _within(synth_n[diagnosis], real_n[diagnosis]), (diagnosis, synth_n[diagnosis], real_n[diagnosis])

    def drugs(db: dict[str, pd.DataFrame]) -> pd.Series:
        t = db["treatments"].merge(db["patients"][["patient_id", "diagnosis"]], on="patient_id")
        return t[t["diagnosis"] == "cancer"]["drug"].value_counts(normalize=True)

    gap = drugs(out).sub(drugs(real), fill_value=0).abs()
    assert gap.max() < 0.05, gap
    # The other categories keep their learned proportions among themselves.
    rest_real = rp["diagnosis"][rp["diagnosis"] != "cancer"].value_counts(normalize=True)
    rest = p["diagnosis"][p["diagnosis"] != "cancer"].value_counts(normalize=True)
    assert rest.sub(rest_real).abs().max() < 0.03


def test_rebalance_to_equal_shares_and_bad_categories(model) -> None:
    out = model.sample(seed=3, rebalance={"patients": "diagnosis"}, size={"patients": 600})
    shares = out["patients"]["diagnosis"].value_counts()
    assert len(shares) == 6 and (shares == 100).all()
    with pytest.raises(ConfigError, match=r"no category 'cancr' \(did you mean 'cancer'\?\)"):
        model.sample(seed=0, rebalance={"patients": {"diagnosis": {"cancr": 0.5}}})
    with pytest.raises(ConfigError, match=r"sum to 1.2, above 1"):
        model.sample(seed=0, rebalance={"patients": {"diagnosis": {"cancer": 0.6, "copd": 0.6}}})
    with pytest.raises(ConfigError, match=r"does not learn it as a category"):
        model.sample(seed=0, rebalance={"patients": "bmi"})


# ----------------------------------------------------------------------------- exact sizes
@pytest.mark.parametrize("name", ["chinook", "sakila"])
def test_exact_sizes_on_sample_databases(name: str) -> None:
    model = relsynth.fit(f"sqlite:///{dataset(name)}")
    sizes = {n: int(tm.n_rows * 1.7) + 3 for n, tm in model.tables.items()}
    out = model.sample(seed=0, size=sizes)
    for table, wanted in sizes.items():
        assert abs(len(out[table]) - wanted) <= 0.01 * wanted, (table, len(out[table]), wanted)
    assert violations(frame_integrity(model.schema, out)) == 0
    # One table's size alone: its children follow by their learned counts.
    child = {"chinook": ("Invoice", "InvoiceLine"), "sakila": ("customer", "rental")}[name]
    out = model.sample(seed=1, size={child[0]: 1000})
    assert len(out[child[0]]) == 1000
    per_parent = model.tables[child[1]].n_rows / model.tables[child[0]].n_rows
    assert abs(len(out[child[1]]) / 1000 - per_parent) < 0.15 * per_parent


# ------------------------------------------------------------------------ existing parents
def test_children_for_fifty_given_patients(model, real) -> None:
    given = real["patients"].sample(50, random_state=0).reset_index(drop=True)
    given["patient_id"] = np.arange(90_001, 90_051)
    out = model.sample(seed=4, parents={"patients": given})
    assert set(out) == {"patients", "lab_results", "treatments"}
    pd.testing.assert_frame_equal(out["patients"], given, check_dtype=False)
    for child in ("lab_results", "treatments"):
        assert out[child]["patient_id"].isin(given["patient_id"]).all() and len(out[child]) > 0
    assert violations(frame_integrity(model.schema, out)) == 0
    # Children follow each given patient: the old ones get more lab results, diagnoses their drugs.
    labs = _per_parent(out["lab_results"], given)
    assert labs[given["age"] >= 70].mean() > labs[given["age"] < 50].mean()
    t = out["treatments"].merge(given[["patient_id", "diagnosis"]], on="patient_id")
    assert (t[t["drug"] == "paclitaxel"]["diagnosis"] == "cancer").all()
    with pytest.raises(ConfigError, match=r"rows repeat \(patient_id\)"):
        model.sample(seed=0, parents={"patients": pd.concat([given, given.iloc[:1]])})
    with pytest.raises(ConfigError, match=r"no table 'patient'"):
        model.sample(seed=0, parents={"patient": given})


# ------------------------------------------------------------------------ config and CLI
def test_config_keys_and_command_line_forms() -> None:
    cfg = Config.from_dict({"tables": {"patients": {
        "size": 100, "condition": {"age": {"min": 70}, "smoker": True, "diagnosis": ["copd", "cancer"]},
        "rebalance": {"insurance": {"Self-pay": 0.5}}}}})
    options = cfg.tables["patients"]
    assert options.size == 100 and options.targeted
    assert options.condition["age"] == Condition("age", min=70)
    assert options.condition["smoker"] == Condition("smoker", values=[True])
    assert options.condition["diagnosis"] == Condition("diagnosis", values=["copd", "cancer"])
    assert options.rebalance == Rebalance("insurance", {"Self-pay": 0.5})
    with pytest.raises(ConfigError, match=r"scale and size cannot be combined"):
        Config.from_dict({"tables": {"patients": {"size": 10, "scale": 2}}})
    with pytest.raises(ConfigError, match=r"unknown key 'mni' \(did you mean 'min'\?\)"):
        Config.from_dict({"tables": {"patients": {"condition": {"age": {"mni": 3}}}}})
    parsed = parse_target_options(["patients.age>=70", "patients.diagnosis=copd,cancer", "lab_results.value>9"],
                                  ["patients=1000"], ["patients.diagnosis=cancer:0.5"])
    assert parsed["conditions"]["patients"]["age"] == Condition("age", min=70)
    assert parsed["conditions"]["patients"]["diagnosis"] == Condition("diagnosis", values=["copd", "cancer"])
    assert parsed["conditions"]["lab_results"]["value"] == Condition("value", min=9, strict_min=True)
    assert parsed["size"] == {"patients": 1000}
    assert parsed["rebalance"] == {"patients": {"diagnosis": {"cancer": 0.5}}}
    with pytest.raises(ConfigError, match=r"not TABLE.COLUMN OP VALUE"):
        parse_target_options(["age>=70"])


def test_cli_sample_with_condition_and_size(model, tmp_path: Path) -> None:
    path = model.save(tmp_path / "model.rsm")
    db = tmp_path / "out.db"
    result = CliRunner().invoke(app, ["sample", str(path), "--to", f"sqlite:///{db}", "--seed", "3",
                                      "--condition", "patients.age>=70", "--condition", "patients.smoker=true",
                                      "--size", "patients=1000"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as con:
        n, youngest, smokers = con.execute("SELECT count(*), min(age), avg(smoker) FROM patients").fetchone()
        orphans = con.execute("SELECT count(*) FROM lab_results l LEFT JOIN patients p USING (patient_id) "
                              "WHERE p.patient_id IS NULL").fetchone()[0]
    assert (n, youngest >= 70, smokers, orphans) == (1000, True, 1.0, 0)
    bad = CliRunner().invoke(app, ["sample", str(path), "--to", f"sqlite:///{tmp_path / 'x.db'}",
                                   "--condition", "patients.age>=200"])
    assert bad.exit_code == 2 and "cannot hold" in bad.output
