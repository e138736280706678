"""The bundled hospital demo: determinism, integrity, planted dependencies, SQLite output."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from relsynth.data import build_hospital, hospital_schema, write_hospital_sqlite
from relsynth.errors import ConfigError
from relsynth.schema.model import Schema


@pytest.fixture(scope="module")
def db() -> dict[str, pd.DataFrame]:
    start = time.perf_counter()
    frames = build_hospital(n_patients=5000, seed=0)
    # Reported, not asserted: timing assertions are flaky on shared CI machines.
    print(f"\nbuild_hospital(5000): {time.perf_counter() - start:.3f} s, "
          f"{ {k: len(v) for k, v in frames.items()} }")
    return frames


@pytest.fixture(scope="module")
def labs_joined(db: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return db["lab_results"].merge(db["patients"], on="patient_id", how="left", validate="many_to_one")


def test_same_seed_identical_other_seed_different() -> None:
    a, b, c = build_hospital(800, seed=7), build_hospital(800, seed=7), build_hospital(800, seed=8)
    assert list(a) == ["departments", "patients", "lab_results", "treatments"]
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    for name in ("patients", "lab_results", "treatments"):
        assert not a[name].equals(c[name]), name


def test_bad_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="n_patients"):
        build_hospital(0)


def test_row_counts(db: dict[str, pd.DataFrame]) -> None:
    assert 6 <= len(db["departments"]) <= 10
    assert len(db["patients"]) == 5000
    assert 25_000 <= len(db["lab_results"]) <= 35_000
    assert 8_000 <= len(db["treatments"]) <= 12_000
    # Zero children allowed and present.
    assert (~db["patients"]["patient_id"].isin(db["lab_results"]["patient_id"])).sum() > 0
    assert (~db["patients"]["patient_id"].isin(db["treatments"]["patient_id"])).sum() > 0


def test_frame_convention_and_schema_agree(db: dict[str, pd.DataFrame]) -> None:
    schema = hospital_schema()
    assert isinstance(schema, Schema)
    expected = {"integer": "Int64", "float": "float64", "boolean": "boolean"}
    for name, table in schema.tables.items():
        frame = db[name]
        assert table.row_count is None
        assert list(frame.columns) == table.column_names, name
        for col in table.columns:
            s = frame[col.name]
            if col.kind in expected:
                assert str(s.dtype) == expected[col.kind], (name, col.name, s.dtype)
            elif col.kind == "string":
                assert s.dtype == object, (name, col.name, s.dtype)
                assert s.dropna().map(type).eq(str).all()
            else:
                assert col.kind in ("date", "datetime")
                assert s.dtype.kind == "M" and getattr(s.dtype, "tz", None) is None, (name, col.name)
                if col.kind == "date":
                    assert (s.dropna() == s.dropna().dt.normalize()).all()
            if not col.nullable:
                assert s.notna().all(), (name, col.name)
    assert db["patients"]["discharge_date"].isna().any()
    # Schema survives its own JSON round trip.
    assert Schema.from_dict(schema.to_dict()) == schema


def test_keys_and_dates(db: dict[str, pd.DataFrame]) -> None:
    dep, pat, lab, trt = db["departments"], db["patients"], db["lab_results"], db["treatments"]
    for frame, pk in ((dep, "department_id"), (pat, "patient_id"), (lab, "lab_id"), (trt, "treatment_id")):
        assert frame[pk].is_unique and frame[pk].notna().all()
    assert dep["name"].is_unique
    assert pat["department_id"].isin(dep["department_id"]).all()
    assert lab["patient_id"].isin(pat["patient_id"]).all()
    assert trt["patient_id"].isin(pat["patient_id"]).all()

    adm = pat["admission_date"]
    assert adm.min() >= pd.Timestamp("2022-01-01") and adm.max() <= pd.Timestamp("2024-12-31")
    discharged = pat.dropna(subset=["discharge_date"])
    assert (discharged["discharge_date"] >= discharged["admission_date"]).all()
    assert 0.05 <= pat["discharge_date"].isna().mean() <= 0.12

    admit_by_pid = pat.set_index("patient_id")["admission_date"]
    lab_adm = lab["patient_id"].map(admit_by_pid)
    assert (lab["taken_at"] >= lab_adm).all()
    assert (lab["taken_at"] < lab_adm + pd.Timedelta(days=31)).all()
    # Skewed early: most labs in the first few days.
    assert ((lab["taken_at"] - lab_adm) < pd.Timedelta(days=3)).mean() > 0.5
    assert (trt["start_date"] >= trt["patient_id"].map(admit_by_pid)).all()


def test_patient_dependencies(db: dict[str, pd.DataFrame]) -> None:
    pat = db["patients"]
    age, bmi = pat["age"].astype(float), pat["bmi"]
    assert age.between(18, 95).all() and set(pat["sex"]) == {"F", "M"}
    shares = pat["diagnosis"].value_counts(normalize=True)
    assert len(shares) == 6 and 0.02 <= shares.min() <= 0.08  # one rare category
    assert pat["systolic_bp"].astype(float).corr(age) > 0.3
    assert pat["systolic_bp"].astype(float).corr(bmi) > 0.2
    diabetic = pat["diagnosis"] == "diabetes"
    assert bmi[diabetic].mean() > bmi[~diabetic].mean() + 1.5
    copd = pat["diagnosis"] == "copd"
    assert pat.loc[copd, "smoker"].mean() > 2 * pat.loc[~copd, "smoker"].mean()
    # Department follows diagnosis: the commonest department per diagnosis holds most patients.
    top = pd.crosstab(pat["diagnosis"], pat["department_id"], normalize="index").max(axis=1)
    assert (top > 0.45).all()


def test_lab_dependencies(db: dict[str, pd.DataFrame], labs_joined: pd.DataFrame) -> None:
    pat, lab = db["patients"], db["lab_results"]
    per_patient = lab.groupby("patient_id").size().reindex(pat["patient_id"], fill_value=0)
    r_age = np.corrcoef(pat["age"].astype(float), per_patient.to_numpy())[0, 1]
    print(f"corr(age, labs per patient) = {r_age:.3f}")
    assert r_age > 0.2

    j = labs_joined
    for test in ("glucose", "hba1c"):
        sub = j[j["test"] == test]
        r = sub["bmi"].corr(sub["value"])
        print(f"corr(bmi, {test}) = {r:.3f}")
        assert r > 0.2, test
    # The value's scale is set by the test.
    medians = lab.groupby("test")["value"].median()
    assert 11 < medians["hemoglobin"] < 16 and 80 < medians["glucose"] < 130
    assert 90 < medians["ldl"] < 150 and 0.6 < medians["creatinine"] < 1.6 and medians["hba1c"] < 9
    crp = lab.loc[lab["test"] == "crp", "value"]
    assert crp.mean() > 1.5 * crp.median()  # right-skewed
    # Unit is a function of the test.
    assert (lab.groupby("test")["unit"].nunique() == 1).all()
    # Patient effects: smoking raises CRP, age raises creatinine.
    c = j[j["test"] == "crp"]
    assert c.loc[c["smoker"], "value"].median() > 1.3 * c.loc[~c["smoker"], "value"].median()
    cr = j[j["test"] == "creatinine"]
    assert cr["age"].astype(float).corr(cr["value"]) > 0.2
    # abnormal is exactly the per-test threshold rule.
    hgb = lab["test"] == "hemoglobin"
    thresholds = lab["test"].map({"glucose": 140, "hba1c": 6.5, "ldl": 160, "creatinine": 1.3, "crp": 10})
    expected = np.where(hgb, lab["value"] < 12.0, lab["value"] > thresholds)
    assert (lab["abnormal"].to_numpy(dtype=bool) == expected).all()


def test_treatment_dependencies(db: dict[str, pd.DataFrame]) -> None:
    pat, trt = db["patients"], db["treatments"]
    assert 6 <= trt["drug"].nunique() <= 10
    mean_dose = trt.groupby("drug")["dose_mg"].mean()
    print("mean dose by drug:", mean_dose.round(2).to_dict())
    assert mean_dose["metformin"] > 2 * mean_dose["atorvastatin"]
    assert mean_dose.max() > 100 * mean_dose.min()
    met = trt.loc[trt["drug"] == "metformin", "dose_mg"]
    assert set(met) <= {500.0, 850.0, 1000.0}

    # Drug choice follows diagnosis.
    diag = trt["patient_id"].map(pat.set_index("patient_id")["diagnosis"])
    share = pd.crosstab(diag, trt["drug"], normalize="index")
    assert share.loc["diabetes", ["metformin", "insulin"]].sum() > 0.4
    assert share.loc["pneumonia", "amoxicillin"] > 0.4
    assert share.loc["cancer", "paclitaxel"] > 0.3 and share.drop("cancer")["paclitaxel"].max() == 0

    # Cost = dose x duration x per-drug price, plus noise: tight within every drug.
    dd = trt["dose_mg"] * trt["duration_days"].astype(float)
    r = trt.assign(dd=dd).groupby("drug")[["cost", "dd"]].apply(lambda g: g["cost"].corr(g["dd"]))
    print("corr(cost, dose*duration) by drug:", r.round(3).to_dict())
    assert (r > 0.8).all()
    assert (trt["cost"] > 0).all() and (trt["cost"] == trt["cost"].round(2)).all()


def test_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "hospital.db"
    counts = write_hospital_sqlite(path, n_patients=600, seed=3)
    frames = build_hospital(600, seed=3)
    assert counts == {name: len(frame) for name, frame in frames.items()}

    # Autocommit, so the foreign_keys pragma takes effect (it is a no-op inside a transaction).
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for name, n in counts.items():
            assert conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] == n
        ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        row = conn.execute("SELECT admission_date, smoker FROM patients LIMIT 1").fetchone()
        taken = conn.execute("SELECT taken_at FROM lab_results LIMIT 1").fetchone()[0]
        # The declared CHECKs are live: a bad row is refused.
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE patients SET age = 200 WHERE patient_id = 1")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO treatments VALUES (999999, 999999, 'metformin', 500, '2023-01-01', 30, 1.0)")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO departments VALUES (99, 'Cardiology', 1, 10)")
    finally:
        conn.close()

    assert len(row[0]) == 10 and row[0][4] == "-" and row[1] in (0, 1)
    assert len(taken) == 19
    schema = hospital_schema()
    for name, table in schema.tables.items():
        sql = ddl[name]
        assert "PRIMARY KEY" in sql
        for check in table.checks:
            assert f"CHECK ({check.sqltext})" in sql
        for fk in table.foreign_keys:
            assert f'REFERENCES "{fk.ref_table}"' in sql
    assert "UNIQUE" in ddl["departments"] and "NOT NULL" in ddl["patients"]
    assert "sex IN ('F', 'M')" in ddl["patients"] and "age BETWEEN 0 AND 120" in ddl["patients"]
    assert "dose_mg > 0" in ddl["treatments"]

    # SQLAlchemy reflects the declared types as the intended kinds.
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        insp = sa.inspect(engine)
        types = {c["name"]: c["type"] for c in insp.get_columns("lab_results")}
        assert isinstance(types["taken_at"], sa.DateTime) and isinstance(types["abnormal"], sa.Boolean)
        assert isinstance(types["value"], sa.Float) and isinstance(types["lab_id"], sa.Integer)
        ptypes = {c["name"]: c["type"] for c in insp.get_columns("patients")}
        assert isinstance(ptypes["admission_date"], sa.Date) and isinstance(ptypes["sex"], sa.String)
        assert insp.get_pk_constraint("patients")["constrained_columns"] == ["patient_id"]
        assert insp.get_foreign_keys("lab_results")[0]["referred_table"] == "patients"
        assert [c["sqltext"] for c in insp.get_check_constraints("treatments")]
    finally:
        engine.dispose()


def test_sqlite_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "hospital.db"
    write_hospital_sqlite(path, n_patients=100, seed=1)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="overwrite=True") as info:
        write_hospital_sqlite(path, n_patients=100, seed=2)
    assert "\n" not in str(info.value) and "--force" in str(info.value)
    assert path.read_bytes() == before
    counts = write_hospital_sqlite(path, n_patients=120, seed=2, overwrite=True)
    assert counts["patients"] == 120
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM patients").fetchone()[0] == 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hospital.db"]  # no temp file left
    with pytest.raises(ConfigError, match="directory"):
        write_hospital_sqlite(tmp_path, n_patients=10)
