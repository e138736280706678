"""The bundled demo database: a small hospital, simulated by explicit rules.

Four tables — ``departments`` → ``patients`` → ``lab_results`` / ``treatments`` — with the
kinds of dependencies a synthesizer has to reproduce to be useful: within-row correlations
(age and BMI drive blood pressure and diagnosis), a rare category (cancer, ~5%), a nullable
column (discharge_date, NULL while a patient is still admitted), child counts that depend on
the parent (older, heavier, sicker patients get more labs), child values that depend on both a
child category and the parent (a lab value's scale is set by the test, then shifted by the
patient's BMI, smoking, age and diagnosis), and dates that must stay ordered across tables.

Everything is vectorized numpy driven by one ``np.random.default_rng(seed)``, so the same seed
always gives the same database and 5,000 patients take a few tens of milliseconds.

Frames follow relsynth's frame convention: integer → ``Int64``, float → ``float64``,
boolean → ``boolean``, text → ``object`` of ``str`` (``None`` for NULL), date → ``datetime64``
at midnight, timestamp → naive ``datetime64``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relsynth.errors import ConfigError
from relsynth.schema.model import CheckConstraint, Column, ForeignKey, Schema, Table, UniqueConstraint

__all__ = ["build_hospital", "hospital_schema", "write_hospital_sqlite"]

# Frame datetime resolution: microseconds, what pandas 3 itself produces when parsing dates.
_DT = "datetime64[us]"

# --------------------------------------------------------------------------------------------
# Vocabulary. Orders matter: the probability tables below are indexed by these positions.
# --------------------------------------------------------------------------------------------

_DEPARTMENTS: list[tuple[int, str, int, int]] = [
    (1, "Cardiology", 3, 40),
    (2, "Endocrinology", 4, 20),
    (3, "Pulmonology", 5, 30),
    (4, "Oncology", 6, 36),
    (5, "Infectious Diseases", 2, 24),
    (6, "Internal Medicine", 1, 60),
    (7, "Nephrology", 4, 18),
    (8, "Geriatrics", 2, 32),
]

_DIAGNOSES = ["hypertension", "diabetes", "heart_failure", "copd", "pneumonia", "cancer"]
_HYP, _DIA, _HF, _COPD, _PNEU, _CAN = range(len(_DIAGNOSES))

# Department probabilities per diagnosis (rows) over _DEPARTMENTS (columns). Mostly the
# specialty ward, with overflow to Internal Medicine and a renal share for the cardiometabolic
# diagnoses, so department follows diagnosis strongly but not deterministically.
_DEPT_BY_DIAG = np.array(
    [
        # Card  Endo  Pulm  Onco  Infect IntMed Neph  Geri
        [0.70, 0.02, 0.01, 0.00, 0.00, 0.17, 0.08, 0.02],  # hypertension
        [0.04, 0.70, 0.01, 0.00, 0.00, 0.15, 0.08, 0.02],  # diabetes
        [0.78, 0.01, 0.02, 0.00, 0.00, 0.12, 0.05, 0.02],  # heart_failure
        [0.02, 0.00, 0.78, 0.00, 0.03, 0.15, 0.00, 0.02],  # copd
        [0.01, 0.00, 0.30, 0.00, 0.50, 0.17, 0.00, 0.02],  # pneumonia
        [0.00, 0.00, 0.03, 0.88, 0.00, 0.08, 0.00, 0.01],  # cancer
    ]
)

_INSURANCE = ["Medicare", "Private", "Medicaid", "Self-pay"]

_TESTS = ["glucose", "hba1c", "ldl", "creatinine", "crp", "hemoglobin"]
_GLU, _A1C, _LDL, _CRE, _CRP, _HGB = range(len(_TESTS))
_UNITS = np.array(["mg/dL", "%", "mg/dL", "mg/dL", "mg/L", "g/dL"], dtype=object)
# Abnormal when above the threshold, except hemoglobin, which is abnormal when below it.
_ABN_THRESHOLD = np.array([140.0, 6.5, 160.0, 1.3, 10.0, 12.0])
_ABN_LOW = np.array([False, False, False, False, False, True])
_DECIMALS = np.array([0, 1, 0, 2, 1, 1])

# Which tests get ordered, per diagnosis (rows) over _TESTS (columns).
_TEST_BY_DIAG = np.array(
    [
        # glu   a1c   ldl   cre   crp   hgb
        [0.20, 0.06, 0.22, 0.24, 0.08, 0.20],  # hypertension
        [0.30, 0.25, 0.15, 0.12, 0.06, 0.12],  # diabetes
        [0.16, 0.05, 0.18, 0.30, 0.11, 0.20],  # heart_failure
        [0.18, 0.05, 0.10, 0.15, 0.30, 0.22],  # copd
        [0.16, 0.03, 0.06, 0.15, 0.38, 0.22],  # pneumonia
        [0.14, 0.03, 0.06, 0.20, 0.22, 0.35],  # cancer
    ]
)

_DRUGS = ["metformin", "insulin", "atorvastatin", "lisinopril", "furosemide", "prednisone",
          "amoxicillin", "paclitaxel"]
_MET, _INS, _ATO, _LIS, _FUR, _PRED, _AMOX, _PACLI = range(len(_DRUGS))

# Drug probabilities per diagnosis (rows) over _DRUGS (columns), before the age/BMI tilts.
_DRUG_BY_DIAG = np.array(
    [
        # met   ins   ato   lis   fur   pred  amox  pacli
        [0.05, 0.01, 0.30, 0.45, 0.12, 0.02, 0.05, 0.00],  # hypertension
        [0.45, 0.20, 0.15, 0.12, 0.03, 0.02, 0.03, 0.00],  # diabetes
        [0.03, 0.02, 0.25, 0.25, 0.40, 0.02, 0.03, 0.00],  # heart_failure
        [0.03, 0.01, 0.08, 0.06, 0.04, 0.48, 0.30, 0.00],  # copd
        [0.02, 0.01, 0.04, 0.04, 0.03, 0.16, 0.70, 0.00],  # pneumonia
        [0.02, 0.01, 0.04, 0.03, 0.04, 0.26, 0.10, 0.50],  # cancer
    ]
)

# Tablet strengths for the drugs dosed in discrete levels (insulin and paclitaxel are dosed by
# body size instead). Heavier patients land on higher levels.
_DOSE_LEVELS: dict[int, list[float]] = {
    _MET: [500.0, 850.0, 1000.0],
    _ATO: [10.0, 20.0, 40.0, 80.0],
    _LIS: [5.0, 10.0, 20.0, 40.0],
    _FUR: [20.0, 40.0, 80.0],
    _PRED: [5.0, 10.0, 20.0, 40.0],
    _AMOX: [250.0, 500.0, 875.0],
}
# Price per mg per day of treatment, in currency units.
_PRICE_PER_MG_DAY = np.array([0.0003, 3.0, 0.004, 0.01, 0.003, 0.01, 0.0008, 0.045])

_START = np.datetime64("2022-01-01", "D")
_END = np.datetime64("2024-12-31", "D")
# Data cut-off: a stay that runs past it has no discharge date yet.
_CUTOFF = np.datetime64("2025-01-15", "D")

# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


def _col(name: str, kind: str, sql_type: str, nullable: bool = True) -> Column:
    return Column(name=name, kind=kind, nullable=nullable, sql_type=sql_type)  # type: ignore[arg-type]


def _in_list(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def hospital_schema() -> Schema:
    """Describe the demo hospital database.

    Primary keys, foreign keys, NOT NULL, the UNIQUE department name and CHECK constraints are
    all declared; every CHECK is plain, portable SQL that the data from :func:`build_hospital`
    satisfies. ``row_count`` is left ``None``.

    Returns:
        The schema of ``departments``, ``patients``, ``lab_results`` and ``treatments``, in
        parent-before-child order.
    """
    departments = Table(
        name="departments",
        columns=[
            _col("department_id", "integer", "INTEGER", nullable=False),
            _col("name", "string", "TEXT", nullable=False),
            _col("floor", "integer", "INTEGER"),
            _col("beds", "integer", "INTEGER"),
        ],
        primary_key=["department_id"],
        unique=[UniqueConstraint(["name"], name="uq_departments_name")],
        checks=[
            CheckConstraint("floor >= 0", name="ck_departments_floor"),
            CheckConstraint("beds > 0", name="ck_departments_beds"),
        ],
    )
    patients = Table(
        name="patients",
        columns=[
            _col("patient_id", "integer", "INTEGER", nullable=False),
            _col("department_id", "integer", "INTEGER", nullable=False),
            _col("sex", "string", "TEXT", nullable=False),
            _col("age", "integer", "INTEGER", nullable=False),
            _col("bmi", "float", "REAL", nullable=False),
            _col("smoker", "boolean", "BOOLEAN", nullable=False),
            _col("diagnosis", "string", "TEXT", nullable=False),
            _col("admission_date", "date", "DATE", nullable=False),
            _col("insurance", "string", "TEXT", nullable=False),
            _col("systolic_bp", "integer", "INTEGER", nullable=False),
            _col("discharge_date", "date", "DATE", nullable=True),
        ],
        primary_key=["patient_id"],
        foreign_keys=[
            ForeignKey(["department_id"], "departments", ["department_id"], name="fk_patients_department"),
        ],
        checks=[
            CheckConstraint("sex IN ('F', 'M')", name="ck_patients_sex"),
            CheckConstraint("age BETWEEN 0 AND 120", name="ck_patients_age"),
            CheckConstraint("bmi BETWEEN 10 AND 80", name="ck_patients_bmi"),
            CheckConstraint(_in_list("diagnosis", _DIAGNOSES), name="ck_patients_diagnosis"),
            CheckConstraint(_in_list("insurance", _INSURANCE), name="ck_patients_insurance"),
            CheckConstraint("systolic_bp BETWEEN 50 AND 300", name="ck_patients_systolic_bp"),
            CheckConstraint(
                "discharge_date IS NULL OR discharge_date >= admission_date", name="ck_patients_discharge"
            ),
        ],
    )
    lab_results = Table(
        name="lab_results",
        columns=[
            _col("lab_id", "integer", "INTEGER", nullable=False),
            _col("patient_id", "integer", "INTEGER", nullable=False),
            _col("test", "string", "TEXT", nullable=False),
            _col("value", "float", "REAL", nullable=False),
            _col("unit", "string", "TEXT", nullable=False),
            _col("taken_at", "datetime", "TIMESTAMP", nullable=False),
            _col("abnormal", "boolean", "BOOLEAN", nullable=False),
        ],
        primary_key=["lab_id"],
        foreign_keys=[ForeignKey(["patient_id"], "patients", ["patient_id"], name="fk_lab_results_patient")],
        checks=[
            CheckConstraint(_in_list("test", _TESTS), name="ck_lab_results_test"),
            CheckConstraint("value >= 0", name="ck_lab_results_value"),
        ],
    )
    treatments = Table(
        name="treatments",
        columns=[
            _col("treatment_id", "integer", "INTEGER", nullable=False),
            _col("patient_id", "integer", "INTEGER", nullable=False),
            _col("drug", "string", "TEXT", nullable=False),
            _col("dose_mg", "float", "REAL", nullable=False),
            _col("start_date", "date", "DATE", nullable=False),
            _col("duration_days", "integer", "INTEGER", nullable=False),
            _col("cost", "float", "REAL", nullable=False),
        ],
        primary_key=["treatment_id"],
        foreign_keys=[ForeignKey(["patient_id"], "patients", ["patient_id"], name="fk_treatments_patient")],
        checks=[
            CheckConstraint(_in_list("drug", _DRUGS), name="ck_treatments_drug"),
            CheckConstraint("dose_mg > 0", name="ck_treatments_dose"),
            CheckConstraint("duration_days > 0", name="ck_treatments_duration"),
            CheckConstraint("cost >= 0", name="ck_treatments_cost"),
        ],
    )
    return Schema({t.name: t for t in (departments, patients, lab_results, treatments)})


# --------------------------------------------------------------------------------------------
# Simulation helpers
# --------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one category index per row of a (rows, categories) probability matrix."""
    probs = probs / probs.sum(axis=1, keepdims=True)
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    # Clamp so float round-off in the last cumulative value can never index past the end.
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1)


def _levels(latent: np.ndarray, n_levels: int) -> np.ndarray:
    """Cut a standard-normal-ish latent into ``n_levels`` ordered, roughly equal-mass bins."""
    # Fixed cut points (not per-sample quantiles) keep a row's level independent of the others.
    cuts = np.array([-0.8, 0.0, 0.8]) if n_levels == 4 else np.array([-0.5, 0.5])
    return np.searchsorted(cuts, latent)


def _text(values: np.ndarray) -> pd.Series:
    """An object-dtype Series of str: pandas 3 would otherwise infer its own "str" dtype."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def _int(values: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.int64), dtype="Int64")


def _date(days: np.ndarray, mask: np.ndarray | None = None) -> pd.Series:
    """Dates from datetime64[D] values; rows where ``mask`` is True become NaT."""
    out = np.asarray(days, dtype="datetime64[D]").astype(_DT)
    if mask is not None:
        out = out.copy()
        out[mask] = np.datetime64("NaT")
    return pd.Series(out, dtype=_DT)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _departments() -> pd.DataFrame:
    ids, names, floors, beds = zip(*_DEPARTMENTS, strict=True)
    return pd.DataFrame(
        {
            "department_id": _int(np.array(ids)),
            "name": _text(np.array(names, dtype=object)),
            "floor": _int(np.array(floors)),
            "beds": _int(np.array(beds)),
        }
    )


def _patients(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Simulate patients; also return hidden per-patient arrays the child tables depend on."""
    male = rng.random(n) < 0.48
    # Skewed toward older adults, as a hospital population is.
    age = (18 + np.floor(rng.beta(2.2, 1.6, n) * 78)).astype(np.int64)
    age = np.clip(age, 18, 95)
    # BMI peaks in middle age; clipped to a physiologically plausible band.
    bmi = 27.0 + 0.06 * (age - 55) - 0.0025 * (age - 55) ** 2 + rng.normal(0, 5.0, n)
    bmi = np.round(np.clip(bmi, 16.0, 50.0), 1)
    # Height is not a column but drives weight-based dosing (weight = bmi * height^2).
    height_m = np.where(male, rng.normal(1.77, 0.07, n), rng.normal(1.63, 0.07, n))
    weight_kg = bmi * height_m**2
    p_smoke = 1 / (1 + np.exp(-(-1.25 + 0.45 * male - 0.025 * (age - 50))))
    smoker = rng.random(n) < p_smoke

    a, b, s = (age - 60) / 10.0, bmi - 27.0, smoker.astype(float)
    # Multinomial-logit diagnosis: intercepts tuned for a rare (~5%) cancer category.
    logits = np.column_stack(
        [
            0.55 + 0.25 * a + 0.05 * b,            # hypertension: age, a little BMI
            0.10 + 0.15 * a + 0.17 * b,            # diabetes: strongly BMI
            -0.90 + 0.55 * a + 0.05 * b,           # heart failure: strongly age
            -1.10 + 0.30 * a + 2.00 * s,           # COPD: strongly smoking
            -0.20 - 0.05 * a + 0.60 * s,           # pneumonia: smoking, younger too
            -1.45 + 0.30 * a + 0.70 * s,           # cancer: rare, age and smoking
        ]
    )
    diag = _pick(rng, np.exp(logits - logits.max(axis=1, keepdims=True)))

    dept_p = _DEPT_BY_DIAG[diag].copy()
    # The very old are often admitted to Geriatrics whatever the diagnosis.
    dept_p[:, 7] += np.where(age >= 80, 0.35, 0.0)
    dept = _pick(rng, dept_p) + 1

    admit = _START + rng.integers(0, int((_END - _START).astype(int)) + 1, n).astype("timedelta64[D]")

    ins_p = np.where((age >= 65)[:, None], [0.84, 0.11, 0.04, 0.01], [0.04, 0.62, 0.24, 0.10])
    insurance = np.array(_INSURANCE, dtype=object)[_pick(rng, ins_p)]

    sbp = (
        100 + 0.45 * age + 1.1 * b + 4.0 * male
        + np.where(diag == _HYP, 18.0, 0.0) + np.where(diag == _HF, 6.0, 0.0)
        + rng.normal(0, 11.0, n)
    )
    sbp = np.clip(np.round(sbp), 85, 230).astype(np.int64)

    # Length of stay: lognormal, longer for the old and for cancer/heart failure/pneumonia.
    los_log = (
        np.log(3.5) + 0.08 * a
        + np.array([0.0, 0.05, 0.35, 0.2, 0.3, 0.55])[diag]
        + rng.normal(0, 0.6, n)
    )
    los = np.clip(np.round(np.exp(los_log)), 0, 90).astype(np.int64)
    discharge = admit + los.astype("timedelta64[D]")
    # Still admitted: stays that run past the data cut-off, plus long stays (e.g. awaiting
    # transfer) that have no discharge recorded yet.
    still_in = (discharge > _CUTOFF) | (rng.random(n) < 0.085)

    frame = pd.DataFrame(
        {
            "patient_id": _int(np.arange(1, n + 1)),
            "department_id": _int(dept),
            "sex": _text(np.where(male, "M", "F").astype(object)),
            "age": _int(age),
            "bmi": pd.Series(bmi, dtype="float64"),
            "smoker": pd.Series(smoker, dtype="boolean"),
            "diagnosis": _text(np.array(_DIAGNOSES, dtype=object)[diag]),
            "admission_date": _date(admit),
            "insurance": _text(insurance),
            "systolic_bp": _int(sbp),
            "discharge_date": _date(discharge, still_in),
        }
    )
    # Child events fall inside the stay: up to discharge, or for those still admitted up to
    # the cut-off; never more than 30 days after admission.
    last_day = np.where(still_in, (_CUTOFF - admit).astype(np.int64), los)
    hidden = {
        "age": age, "bmi": bmi, "male": male, "smoker": smoker, "diag": diag,
        "weight": weight_kg, "height": height_m, "admit": admit,
        "max_offset": np.minimum(last_day, 30),
    }
    return frame, hidden


def _lab_results(rng: np.random.Generator, p: dict[str, np.ndarray]) -> pd.DataFrame:
    """Simulate lab results: count per patient, test choice, then test- and patient-driven values."""
    n = len(p["age"])
    a, b, s = (p["age"] - 60) / 10.0, p["bmi"] - 27.0, p["smoker"].astype(float)
    diag = p["diag"]
    # Negative binomial count with a mean that grows with age (the main driver), BMI, smoking
    # and sicker diagnoses; r controls over-dispersion (zeros happen for young, healthy ones).
    mu = np.exp(
        np.log(4.7) + 0.19 * a + 0.02 * b + 0.15 * s
        + np.array([0.0, 0.15, 0.25, 0.1, 0.05, 0.3])[diag]
    )
    r = 4.0
    counts = rng.negative_binomial(r, r / (r + mu))
    pid = np.repeat(np.arange(n), counts)
    m = len(pid)

    test = _pick(rng, _TEST_BY_DIAG[diag[pid]])
    age, bmi, male, smoker, dg = p["age"][pid], p["bmi"][pid], p["male"][pid], p["smoker"][pid], diag[pid]
    bc = bmi - 27.0
    is_ = lambda d: (dg == d).astype(float)  # noqa: E731 - short local indicator
    # A per-patient level shared by all that patient's labs, so repeated tests agree.
    patient_level = rng.normal(0, 0.06, n)[pid]
    z = rng.normal(0, 1, m)

    # Each test on its own scale (log-normal around a clinical reference value), shifted by the
    # patient features that drive it.
    log_value = np.select(
        [test == _GLU, test == _A1C, test == _LDL, test == _CRE, test == _CRP, test == _HGB],
        [
            np.log(92) + 0.022 * bc + 0.40 * is_(_DIA) + 0.10 * z,
            np.log(5.3) + 0.014 * bc + 0.30 * is_(_DIA) + 0.05 * z,
            np.log(112) + 0.012 * bc + 0.10 * (is_(_HYP) + is_(_HF)) + 0.2 * z,
            np.log(0.8) + 0.010 * (age - 50) + 0.18 * male + 0.25 * is_(_HF) + 0.15 * z,
            np.log(2.5) + 0.55 * smoker + 1.6 * is_(_PNEU) + 0.5 * is_(_CAN) + 0.9 * z,
            np.log(13.2) + 0.09 * male - 0.15 * is_(_CAN) - 0.002 * (age - 50) + 0.07 * z,
        ],
    ) + patient_level
    value = np.exp(log_value)
    # Round per test (glucose to whole mg/dL, creatinine to 0.01, ...); np.round needs a scalar
    # number of decimals, so scale by 10**d instead.
    scale = 10.0 ** _DECIMALS[test]
    value = np.round(value * scale) / scale
    threshold = _ABN_THRESHOLD[test]
    abnormal = np.where(_ABN_LOW[test], value < threshold, value > threshold)

    # Skewed early in the stay (exponential, mean 3 days), inside the patient's stay window;
    # drawn in the morning-heavy 06:00–22:00 window.
    day = np.minimum(np.floor(rng.exponential(3.0, m)).astype(np.int64), p["max_offset"][pid])
    seconds = (6 * 3600 + rng.beta(1.4, 3.0, m) * 16 * 3600).astype(np.int64)
    taken = (
        p["admit"][pid].astype("datetime64[s]")
        + day.astype("timedelta64[D]")
        + seconds.astype("timedelta64[s]")
    )

    # Order rows as a lab system would number them: by patient, then time.
    order = np.lexsort((taken, pid))
    return pd.DataFrame(
        {
            "lab_id": _int(np.arange(1, m + 1)),
            "patient_id": _int(pid[order] + 1),
            "test": _text(np.array(_TESTS, dtype=object)[test[order]]),
            "value": pd.Series(value[order], dtype="float64"),
            "unit": _text(_UNITS[test[order]]),
            "taken_at": pd.Series(taken[order].astype(_DT), dtype=_DT),
            "abnormal": pd.Series(abnormal[order], dtype="boolean"),
        }
    )


def _treatments(rng: np.random.Generator, p: dict[str, np.ndarray]) -> pd.DataFrame:
    """Simulate treatments: count per patient, drug by diagnosis/age, body-size-driven dose."""
    n = len(p["age"])
    diag = p["diag"]
    lam = np.clip(
        np.array([1.8, 2.3, 2.4, 2.0, 1.6, 2.6])[diag] + 0.012 * (p["age"] - 60), 0.3, None
    )
    counts = np.minimum(rng.poisson(lam), 6)
    pid = np.repeat(np.arange(n), counts)
    m = len(pid)
    age, bmi, weight, height = p["age"][pid], p["bmi"][pid], p["weight"][pid], p["height"][pid]

    drug_p = _DRUG_BY_DIAG[diag[pid]].copy()
    # Statins grow more likely with age; glucose-lowering drugs with BMI; insulin with age.
    drug_p[:, _ATO] *= np.clip(1 + 0.04 * (age - 60), 0.2, None)
    drug_p[:, _MET] *= np.clip(1 + 0.05 * (bmi - 27), 0.3, None)
    drug_p[:, _INS] *= np.clip(1 + 0.03 * (age - 60), 0.3, None)
    drug = _pick(rng, drug_p)

    # Discrete strengths: a latent driven by body weight picks the level.
    latent = 0.05 * (weight - 80) + rng.normal(0, 0.8, m)
    dose = np.zeros(m)
    for d, levels in _DOSE_LEVELS.items():  # loop over 6 drugs, not rows
        idx = _levels(latent, len(levels))
        dose = np.where(drug == d, np.asarray(levels)[idx], dose)
    # Insulin: ~0.5 units/kg/day, 1 unit = 0.0347 mg. Paclitaxel: 175 mg per m^2 of body
    # surface area (Mosteller), rounded to 10 mg.
    insulin_mg = np.round(0.0347 * 0.5 * weight * np.exp(rng.normal(0, 0.15, m)), 2)
    bsa = np.sqrt(height * 100 * weight / 3600)
    pacli_mg = np.round(175 * bsa / 10) * 10
    dose = np.where(drug == _INS, insulin_mg, dose)
    dose = np.where(drug == _PACLI, pacli_mg, dose)

    # Duration by drug: chronic drugs in prescription lengths, short courses for antibiotics
    # and steroids, 21-day chemotherapy cycles.
    chronic = np.array([30, 60, 90, 180])[rng.integers(0, 4, m)]
    duration = np.select(
        [drug == _AMOX, drug == _PRED, drug == _FUR, drug == _PACLI],
        [rng.integers(5, 11, m), rng.integers(5, 15, m), rng.integers(7, 31, m), 21 * rng.integers(1, 4, m)],
        chronic,
    ).astype(np.int64)

    cost = np.round(dose * duration * _PRICE_PER_MG_DAY[drug] * np.exp(rng.normal(0, 0.08, m)), 2)
    # Prices are tiny for cheap generics; a treatment still costs at least one cent.
    cost = np.maximum(cost, 0.01)

    day = np.minimum(np.floor(rng.exponential(1.5, m)).astype(np.int64), p["max_offset"][pid])
    start = p["admit"][pid] + day.astype("timedelta64[D]")

    order = np.lexsort((drug, start, pid))
    return pd.DataFrame(
        {
            "treatment_id": _int(np.arange(1, m + 1)),
            "patient_id": _int(pid[order] + 1),
            "drug": _text(np.array(_DRUGS, dtype=object)[drug[order]]),
            "dose_mg": pd.Series(dose[order], dtype="float64"),
            "start_date": _date(start[order]),
            "duration_days": _int(duration[order]),
            "cost": pd.Series(cost[order], dtype="float64"),
        }
    )


def build_hospital(n_patients: int = 5000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Simulate the demo hospital database.

    Args:
        n_patients: Number of patients; lab results (~6 per patient) and treatments (~2 per
            patient) scale with it.
        seed: Seed of ``np.random.default_rng``; the same seed gives identical frames.

    Returns:
        Frames keyed by table name, in parent-before-child order: ``departments``,
        ``patients``, ``lab_results``, ``treatments``, following relsynth's frame convention.

    Raises:
        ConfigError: If ``n_patients`` is not a positive integer.
    """
    if isinstance(n_patients, bool) or not isinstance(n_patients, (int, np.integer)) or n_patients < 1:
        raise ConfigError(f"n_patients must be a positive integer, got {n_patients!r}; use e.g. --patients 500")
    rng = np.random.default_rng(seed)
    patients, hidden = _patients(rng, int(n_patients))
    return {
        "departments": _departments(),
        "patients": patients,
        "lab_results": _lab_results(rng, hidden),
        "treatments": _treatments(rng, hidden),
    }


# --------------------------------------------------------------------------------------------
# SQLite writer
# --------------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_table_sql(table: Table) -> str:
    """CREATE TABLE text with every constraint of ``table`` declared inline."""
    parts = [
        f"{_quote(c.name)} {c.sql_type or 'TEXT'}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    ]
    if table.primary_key:
        parts.append(f"PRIMARY KEY ({', '.join(map(_quote, table.primary_key))})")
    for u in table.unique:
        prefix = f"CONSTRAINT {_quote(u.name)} " if u.name else ""
        parts.append(f"{prefix}UNIQUE ({', '.join(map(_quote, u.columns))})")
    for fk in table.foreign_keys:
        prefix = f"CONSTRAINT {_quote(fk.name)} " if fk.name else ""
        parts.append(
            f"{prefix}FOREIGN KEY ({', '.join(map(_quote, fk.columns))}) "
            f"REFERENCES {_quote(fk.ref_table)} ({', '.join(map(_quote, fk.ref_columns))})"
        )
    for ck in table.checks:
        prefix = f"CONSTRAINT {_quote(ck.name)} " if ck.name else ""
        parts.append(f"{prefix}CHECK ({ck.sqltext})")
    body = ",\n    ".join(parts)
    return f"CREATE TABLE {_quote(table.name)} (\n    {body}\n)"


def _sqlite_values(series: pd.Series, column: Column) -> list[Any]:
    """One column as the Python values sqlite3 binds (None for NULL)."""
    if column.kind == "date":
        series = series.dt.strftime("%Y-%m-%d")
    elif column.kind == "datetime":
        series = series.dt.strftime("%Y-%m-%d %H:%M:%S")
    elif column.kind == "boolean":
        series = series.astype("Int64")  # True/False -> 1/0, NA stays NA
    elif column.kind == "float":
        series = series.astype(object).where(series.notna(), None)
    # to_numpy(object, na_value=None) yields plain int/float/str or None, all sqlite3 can bind.
    return series.to_numpy(dtype=object, na_value=None).tolist()


def write_hospital_sqlite(
    path: str | Path, n_patients: int = 5000, seed: int = 0, overwrite: bool = False
) -> dict[str, int]:
    """Write the demo hospital database to a SQLite file, constraints included.

    The DDL declares primary keys, foreign keys, NOT NULL, UNIQUE and CHECK constraints, with
    column types INTEGER/REAL/TEXT/DATE/TIMESTAMP/BOOLEAN so SQLAlchemy reflects the right
    kinds. Dates are stored as ``'YYYY-MM-DD'``, timestamps as ``'YYYY-MM-DD HH:MM:SS'`` and
    booleans as 0/1. All rows go in one transaction, into a temporary file that replaces
    ``path`` only once complete, so a failure never leaves a half-written database.

    Args:
        path: Target SQLite file; missing parent folders are created.
        n_patients: Number of patients (see :func:`build_hospital`).
        seed: Random seed (see :func:`build_hospital`).
        overwrite: Replace ``path`` if it already exists.

    Returns:
        Rows written per table.

    Raises:
        ConfigError: If ``path`` exists and ``overwrite`` is false, or is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target} is a directory; give a file path for the demo database")
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists; pass --force (overwrite=True) or choose another path")
    target.parent.mkdir(parents=True, exist_ok=True)

    schema = hospital_schema()
    frames = build_hospital(n_patients=n_patients, seed=seed)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        # isolation_level=None: transactions are explicit, so the whole load is one BEGIN/COMMIT.
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN")
            for name, table in schema.tables.items():  # parents first, so FKs check as we go
                conn.execute(_create_table_sql(table))
                frame = frames[name]
                columns = [_sqlite_values(frame[c.name], c) for c in table.columns]
                placeholders = ", ".join("?" for _ in table.columns)
                conn.executemany(
                    f"INSERT INTO {_quote(name)} ({', '.join(_quote(c.name) for c in table.columns)}) "
                    f"VALUES ({placeholders})",
                    zip(*columns, strict=True),
                )
                counts[name] = len(frame)
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return counts
