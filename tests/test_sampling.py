"""Fit and sample in memory on the demo hospital: integrity, sizes, correlations, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import relsynth

from relsynth.data import build_hospital, hospital_schema
from relsynth.errors import ConfigError, ModelError
from relsynth.models import copula
from relsynth.models.relational import fit_model, load_model
from relsynth.schema.model import CheckConstraint, Column, ForeignKey, Schema, Table
from relsynth.transform.keys import match_rows


@pytest.fixture(scope="module")
def real() -> dict[str, pd.DataFrame]:
    return build_hospital(5000, seed=0)


@pytest.fixture(scope="module")
def model(real: dict[str, pd.DataFrame]):
    return fit_model(hospital_schema(), real, seed=0)


@pytest.fixture(scope="module")
def synth(model) -> dict[str, pd.DataFrame]:
    return model.sample(seed=11)


def _labs_per_patient(fr: dict[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    p = fr["patients"]
    n = fr["lab_results"].groupby("patient_id").size().reindex(p["patient_id"], fill_value=0)
    return p["age"].to_numpy(dtype=float), n.to_numpy(dtype=float)


def test_every_fk_points_at_a_synthetic_parent(synth: dict[str, pd.DataFrame]) -> None:
    schema = hospital_schema()
    for name, table in schema.tables.items():
        frame = synth[name]
        for fk in table.foreign_keys:
            rows = match_rows(frame, fk.columns, synth[fk.ref_table], fk.ref_columns)
            assert (rows >= 0).all(), f"{name}.{fk.label} has dangling values"
        assert not frame[table.primary_key].duplicated().any()
        for col in table.columns:
            if not col.nullable:
                assert frame[col.name].notna().all(), f"{name}.{col.name} has NULLs"


def test_row_counts_scale(model, real, synth) -> None:
    for name in real:
        assert abs(len(synth[name]) - len(real[name])) <= 0.1 * len(real[name])
    double = model.sample(scale=2.0, seed=3)
    for name in ("patients", "lab_results", "treatments"):
        assert abs(len(double[name]) / len(real[name]) - 2.0) < 0.2


def test_correlations_survive(real, synth) -> None:
    a, n = _labs_per_patient(real)
    b, m = _labs_per_patient(synth)
    assert abs(np.corrcoef(a, n)[0, 1] - np.corrcoef(b, m)[0, 1]) < 0.1

    def lab_bmi(fr: dict[str, pd.DataFrame], test: str | None) -> float:
        j = fr["lab_results"].merge(fr["patients"], on="patient_id")
        if test:
            j = j[j["test"] == test]
        return np.corrcoef(j["bmi"], j["value"])[0, 1]

    for test in (None, "glucose", "hba1c", "hemoglobin"):
        assert abs(lab_bmi(real, test) - lab_bmi(synth, test)) < 0.1, test


def test_category_dependent_values_and_functional_columns(real, synth) -> None:
    r = real["lab_results"].groupby("test")["value"].median()
    s = synth["lab_results"].groupby("test")["value"].median()
    assert ((s - r).abs() / r < 0.15).all()
    # unit is a function of test in the source, and stays one.
    assert synth["lab_results"].groupby("test")["unit"].nunique().max() == 1
    dose_r = real["treatments"].groupby("drug")["dose_mg"].median()
    dose_s = synth["treatments"].groupby("drug")["dose_mg"].median()
    assert ((dose_s - dose_r).abs() / dose_r < 0.25).all()


def test_child_dates_never_precede_parent_dates(synth) -> None:
    p = synth["patients"][["patient_id", "admission_date"]]
    for child, col in (("lab_results", "taken_at"), ("treatments", "start_date")):
        j = synth[child].merge(p, on="patient_id")
        assert (j[col] >= j["admission_date"]).all()
    d = synth["patients"].dropna(subset=["discharge_date"])
    assert (d["discharge_date"] >= d["admission_date"]).all()


def test_types_precision_and_ranges(real, synth) -> None:
    p, q = real["patients"], synth["patients"]
    assert str(q["age"].dtype) == "Int64" and str(q["smoker"].dtype) == "boolean"
    assert q["age"].between(p["age"].min(), p["age"].max()).all()
    assert np.allclose(q["bmi"], q["bmi"].round(1))
    assert set(q["sex"]) <= set(p["sex"])
    assert q["discharge_date"].isna().mean() == pytest.approx(p["discharge_date"].isna().mean(), abs=0.03)
    assert set(synth["departments"]["name"]) == set(real["departments"]["name"])


def _by_diagnosis(fr: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
    """Share of each drug within each diagnosis, and treatments per patient by diagnosis."""
    p = fr["patients"]
    t = fr["treatments"].merge(p[["patient_id", "diagnosis"]], on="patient_id")
    per_patient = p["patient_id"].map(fr["treatments"].groupby("patient_id").size()).fillna(0)
    return pd.crosstab(t["diagnosis"], t["drug"], normalize="index"), per_patient.groupby(p["diagnosis"]).mean()


def test_child_categories_and_counts_follow_the_parents_category(model, real, synth, monkeypatch) -> None:
    """A treatment's drug follows its patient's diagnosis, and so does the number of treatments
    (fewest for pneumonia, which sits mid-way in the diagnoses' order): one latent score per
    category cannot carry either, encoding per parent category and counting per category can."""
    columns = {c.name: c for c in model.tables["treatments"].columns}
    assert columns["drug"].given == "parent:diagnosis"
    assert "diagnosis" in model.tables["patients"].count_givens.values()
    # 8 departments: each name, floor or size is one department, no basis for a case mix.
    assert not any((c.given or "").startswith("parent:") for c in model.tables["patients"].columns)

    drugs_r, counts_r = _by_diagnosis(real)
    drugs_s, counts_s = _by_diagnosis(synth)
    tv = 0.5 * (drugs_r - drugs_s.reindex_like(drugs_r).fillna(0)).abs().sum(axis=1)
    assert (tv < 0.06).all(), tv.to_dict()
    assert ((counts_s - counts_r).abs() / counts_r < 0.05).all(), (counts_r.to_dict(), counts_s.to_dict())

    monkeypatch.setattr(copula, "CONDITION_MIN_V", 2.0)
    monkeypatch.setattr(copula, "COUNT_MIN_GAP", 2.0)
    drugs_p, counts_p = _by_diagnosis(fit_model(hospital_schema(), real, seed=0).sample(seed=11))
    tv_plain = 0.5 * (drugs_r - drugs_p.reindex_like(drugs_r).fillna(0)).abs().sum(axis=1)
    assert tv_plain.max() > 2 * tv.max()
    assert abs(counts_p["pneumonia"] - counts_r["pneumonia"]) / counts_r["pneumonia"] > 0.15


def test_same_seed_same_output_and_save_load(model, tmp_path) -> None:
    a = model.sample(seed=5)
    b = model.sample(seed=5)
    c = model.sample(seed=6)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["patients"].equals(c["patients"])
    path = model.save(tmp_path / "m.rsm")
    loaded = load_model(path)
    d = loaded.sample(seed=5)
    for name in a:
        pd.testing.assert_frame_equal(a[name], d[name])


def test_bad_scale_and_bad_model_file(model, tmp_path) -> None:
    for bad in (-1, 0, "x", float("nan")):
        with pytest.raises(ConfigError, match="scale"):
            model.sample(scale=bad)
    junk = tmp_path / "junk.rsm"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable relsynth model"):
        load_model(junk)
    good = model.save(tmp_path / "ok.rsm")
    truncated = tmp_path / "trunc.rsm"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelError):
        load_model(truncated)


def test_categories_that_determine_each_other_do_not_chain() -> None:
    """Three columns, each a function of the others: one is learned, the others derived from it."""
    i = np.arange(300)
    frame = pd.DataFrame({"id": i, "a": np.array(["x", "y", "z"])[i % 3], "b": np.array(["p", "q", "r"])[i % 3],
                          "c": np.array(["u", "v", "w"])[i % 3]})
    out = relsynth.fit({"t": frame}).sample(seed=1)["t"]
    assert set(map(tuple, out[["a", "b", "c"]].drop_duplicates().to_numpy())) <= {("x", "p", "u"), ("y", "q", "v"), ("z", "r", "w")}


def test_derived_column_keeps_the_value_of_a_null_source() -> None:
    """adventureworkslt Customer: NameStyle is 0 whatever the Title, NULL titles included."""
    i = np.arange(400)
    title = pd.Series(np.where(i % 4 == 0, None, np.array(["Mr.", "Ms.", "Dr."])[i % 3]), dtype=object)
    frame = pd.DataFrame({"id": i, "title": title, "style": np.where(title.isna(), "none", "formal")})
    out = relsynth.fit({"t": frame}).sample(seed=3)["t"]
    assert out["title"].isna().any()
    assert out["style"].notna().all()
    assert (out.loc[out["title"].isna(), "style"] == "none").all()


def _plan_table(n: int, seed: int) -> tuple[pd.DataFrame, Schema]:
    """Members whose plan is 'senior' exactly from age 65 on; below, 'gold' goes with income."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = np.round(rng.lognormal(10, 0.5, n) * (1 + (age - 50) / 100), 2)
    plan = np.where(age >= 65, "senior", np.where(income > 30000, "gold", "basic"))
    # plan comes before age: the decoding order follows what depends on what, not the columns'.
    frame = pd.DataFrame({"id": np.arange(1, n + 1), "plan": plan, "age": age, "income": income,
                          "region": rng.choice(["n", "s", "e", "w"], n)})
    table = Table("members", [Column("id", "integer", nullable=False), Column("plan", "string", nullable=False),
                              Column("age", "integer", nullable=False), Column("income", "float", nullable=False),
                              Column("region", "string", nullable=False)],
                  primary_key=["id"],
                  # Holds in the source; synthetic rows that break it are redrawn (scores, then decoding).
                  checks=[CheckConstraint("plan <> 'basic' OR income <= 30000", name="ck_basic")])
    return frame, Schema({"members": table})


def test_category_that_steps_with_a_numeric_keeps_the_step(tmp_path, monkeypatch) -> None:
    """plan = 'senior' iff age >= 65: one latent score smooths the step into a probit (about a
    quarter of the rows on the wrong side); plan encoded per age bin keeps it."""
    frame, schema = _plan_table(3000, seed=4)

    def violations(out: pd.DataFrame) -> float:
        return float(((out["age"] >= 65) != (out["plan"] == "senior")).mean())

    model = fit_model(schema, {"members": frame}, seed=0)
    plan = next(c for c in model.tables["members"].columns if c.name == "plan")
    assert plan.given == "age"
    out = model.sample(seed=2)["members"]
    # About a tenth of the rows break the CHECK and are redrawn: their plan follows their new age too.
    assert not ((out["plan"] == "basic") & (out["income"] > 30000)).any()
    assert violations(out) < 0.01
    # Below 65 the plan still follows income (through the copula, within the age bins).
    young = out[out["age"] < 65].groupby("plan")["income"].median()
    assert young["gold"] > 1.3 * young["basic"]
    loaded = load_model(model.save(tmp_path / "plans.rsm"))
    pd.testing.assert_frame_equal(loaded.sample(seed=2)["members"], out)

    monkeypatch.setattr(copula, "CONDITION_MIN_V", 2.0)  # no per-bin encoding: the plain copula
    plain = fit_model(schema, {"members": frame}, seed=0)
    assert violations(plain.sample(seed=2)["members"]) > 0.1


def test_dates_stay_in_their_range_and_after_what_they_follow() -> None:
    """Orders of two years, after the hire dates of their employees (hired over two years, born
    over thirty): as offsets from a birth or hire date the synthetic dates spread over decades;
    encoded as themselves, raised to the reference where needed, they keep range and order."""
    rng = np.random.default_rng(5)
    day = np.timedelta64(1, "D")
    n_emp, n_ord = 60, 3000
    birth = np.datetime64("1940-01-01") + rng.integers(0, 30 * 365, n_emp) * day
    hire = np.datetime64("1992-01-01") + rng.integers(0, 2 * 365, n_emp) * day
    employees = pd.DataFrame({"id": np.arange(1, n_emp + 1), "birth": birth.astype("datetime64[us]"),
                              "hire": hire.astype("datetime64[us]")})
    emp = rng.integers(0, n_emp, n_ord)
    ordered = np.datetime64("1996-01-01") + rng.integers(0, 2 * 365, n_ord) * day
    orders = pd.DataFrame({"id": np.arange(1, n_ord + 1), "employee_id": emp + 1,
                           "ordered": ordered.astype("datetime64[us]")})
    schema = Schema({
        "employees": Table("employees", [Column("id", "integer", nullable=False), Column("birth", "date", nullable=False),
                                         Column("hire", "date", nullable=False)], primary_key=["id"]),
        "orders": Table("orders", [Column("id", "integer", nullable=False), Column("employee_id", "integer", nullable=False),
                                   Column("ordered", "date", nullable=False)], primary_key=["id"],
                        foreign_keys=[ForeignKey(["employee_id"], "employees", ["id"])]),
    })
    model = fit_model(schema, {"employees": employees, "orders": orders}, seed=0)
    cols = {(t, c.name): c for t, tm in model.tables.items() for c in tm.columns}
    assert cols[("employees", "hire")].offset_ref is None and cols[("employees", "hire")].after == "self:birth"
    assert cols[("orders", "ordered")].offset_ref is None and cols[("orders", "ordered")].after == "parent:hire"
    out = model.sample(seed=1)
    for table, col, real in (("employees", "hire", employees), ("orders", "ordered", orders)):
        assert out[table][col].between(real[col].min(), real[col].max()).all(), col
    joined = out["orders"].merge(out["employees"], left_on="employee_id", right_on="id")
    assert (joined["ordered"] >= joined["hire"]).all() and (out["employees"]["hire"] >= out["employees"]["birth"]).all()


def test_finalized_text_is_python_values_with_none_and_cut_to_the_column_length() -> None:
    from relsynth.sampling.relational import _finalize

    table = Table("t", [Column("code", "string", length=3), Column("note", "string")])
    drawn = pd.DataFrame({"code": pd.Series(["abcdef", None, np.nan, "ab", 12345], dtype=object),
                          "note": pd.Series(["long enough", np.nan, "x", None, "y"], dtype=object)})
    out = _finalize(drawn, table)
    assert out["code"].tolist() == ["abc", None, None, "ab", "123"]
    assert out["note"].tolist() == ["long enough", None, "x", None, "y"]
    assert drawn["code"].tolist()[0] == "abcdef" and drawn["note"].isna().sum() == 2  # the drawn frame is left alone
