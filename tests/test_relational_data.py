"""The Gretel-style library workflow: add tables and keys, fit, sample with a record size ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

import relsynth
from relsynth.data import build_hospital, hospital_schema
from relsynth.errors import ConfigError, SchemaError
from relsynth.evaluate.integrity import frame_integrity, violations


@pytest.fixture(scope="module")
def frames() -> dict:
    return build_hospital(600, seed=7)


def _relational_data(frames: dict) -> relsynth.RelationalData:
    rd = relsynth.RelationalData()
    for name, pk in (("departments", "department_id"), ("patients", "patient_id"), ("lab_results", "lab_id"),
                     ("treatments", "treatment_id")):
        rd.add_table(name, frames[name], primary_key=pk)
    rd.add_foreign_key("patients.department_id", "departments.department_id")
    rd.add_foreign_key("lab_results.patient_id", "patients.patient_id")
    rd.add_foreign_key_constraint("treatments", ["patient_id"], "patients", ["patient_id"])
    return rd


def test_gretel_workflow(frames: dict) -> None:
    rd = _relational_data(frames)
    assert rd.list_all_tables() == ["departments", "patients", "lab_results", "treatments"]
    schema = rd.to_schema()
    demo = hospital_schema()
    for name, table in demo.tables.items():
        assert schema.tables[name].primary_key == table.primary_key
        assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in schema.tables[name].foreign_keys] == \
            [(fk.columns, fk.ref_table, fk.ref_columns) for fk in table.foreign_keys]
        assert [(c.name, c.kind) for c in schema.tables[name].columns] == [(c.name, c.kind) for c in table.columns]
    model = relsynth.fit(rd)
    tables = model.sample(record_size_ratio=2.0, seed=1)
    assert len(tables["departments"]) == 16  # roots are scaled exactly
    assert 1.7 < len(tables["patients"]) / len(frames["patients"]) < 2.3  # children follow their parents
    assert violations(frame_integrity(schema, tables)) == 0
    # record_size_ratio is scale under Gretel's name.
    same = model.sample(scale=2.0, seed=1)
    assert all(same[n].equals(tables[n]) for n in tables)
    report = relsynth.evaluate(rd, tables, detection=False)
    assert report.summary["integrity_violations"] == 0 and report.summary["column_shapes"] > 0.8


def test_tables_from_files(frames: dict, tmp_path: Path) -> None:
    frames["patients"].to_csv(tmp_path / "patients.csv", index=False)
    frames["lab_results"].to_parquet(tmp_path / "labs.parquet")
    rd = relsynth.RelationalData()
    rd.add_table("patients", tmp_path / "patients.csv", primary_key="patient_id")
    rd.add_table("lab_results", str(tmp_path / "labs.parquet"), primary_key="lab_id")
    rd.add_foreign_key("lab_results.patient_id", "patients.patient_id")
    schema = rd.to_schema()
    assert schema.tables["lab_results"].column("taken_at").kind == "datetime"
    assert schema.tables["patients"].column("age").kind == "integer"
    out = relsynth.fit(rd).sample(seed=2)
    assert out["lab_results"]["patient_id"].isin(out["patients"]["patient_id"]).all()


def test_errors_name_the_fix(frames: dict, tmp_path: Path) -> None:
    rd = relsynth.RelationalData()
    rd.add_table("patients", frames["patients"], primary_key="patient_id")
    with pytest.raises(SchemaError, match="'lab_results.patient_id' names no added table; .*: patients$"):
        rd.add_foreign_key("lab_results.patient_id", "patients.patient_id")
    rd.add_table("lab_results", frames["lab_results"])
    with pytest.raises(SchemaError, match="'patient.id' names no added table.*did you mean 'patients'"):
        rd.add_foreign_key("lab_results.patient_id", "patient.id")
    with pytest.raises(SchemaError, match="no table 'labs'"):
        rd.add_foreign_key_constraint("labs", ["patient_id"], "patients", ["patient_id"])
    with pytest.raises(ConfigError, match="does not exist"):
        rd.add_table("x", tmp_path / "missing.csv")
    rd.add_foreign_key("lab_results.patient", "patients.patient_id")
    with pytest.raises(SchemaError, match="did you mean 'patient_id'"):
        rd.to_schema()
