"""SDV metadata interop: read SDV's multi-table metadata as a schema, export one, clone from it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.data import hospital_schema, write_hospital_sqlite
from relsynth.errors import SchemaError
from relsynth.schema import (
    Column,
    ForeignKey,
    Schema,
    Table,
    UniqueConstraint,
    from_sdv_metadata,
    read_tables,
    schema_from_metadata,
    to_sdv_metadata,
)

FIXTURE = Path(__file__).parent / "fixtures" / "hospital_sdv_metadata.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sdv") / "hospital.db"
    write_hospital_sqlite(path, n_patients=1500, seed=4)
    return f"sqlite:///{path}"


def _keys(schema: Schema) -> dict[str, tuple]:
    return {n: (t.primary_key, sorted((fk.columns, fk.ref_table, fk.ref_columns) for fk in t.foreign_keys),
                sorted(u.columns for u in t.unique))
            for n, t in schema.tables.items()}


def test_sdv_fixture_reads_as_the_demo_schema() -> None:
    sdv = from_sdv_metadata(FIXTURE)
    demo = hospital_schema()
    assert list(sdv.tables) == list(demo.tables)
    for name, table in demo.tables.items():
        assert [(c.name, c.kind) for c in sdv.tables[name].columns] == [(c.name, c.kind) for c in table.columns]
    assert _keys(sdv) == _keys(demo)
    patients = sdv.tables["patients"]
    assert patients.column("age").precision == 32
    assert not patients.column("patient_id").nullable and patients.column("discharge_date").nullable
    # The generic metadata reader recognises SDV's format by itself.
    assert _keys(schema_from_metadata(FIXTURE)) == _keys(demo)


def test_clone_from_sdv_metadata_equals_clone_from_live_schema(hospital: str, tmp_path: Path) -> None:
    live = relsynth.clone(hospital, f"sqlite:///{tmp_path / 'live.db'}", seed=11)
    from_sdv = relsynth.clone(hospital, f"sqlite:///{tmp_path / 'sdv.db'}", seed=11, metadata=FIXTURE)
    assert live.violations == 0 and from_sdv.violations == 0
    assert live.rows_written == from_sdv.rows_written
    schema = hospital_schema()
    a = read_tables(f"sqlite:///{tmp_path / 'live.db'}", schema)
    b = read_tables(f"sqlite:///{tmp_path / 'sdv.db'}", schema)
    for name in schema.tables:
        assert len(a[name]) > 0
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_cli_clone_with_sdv_metadata(hospital: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["inspect", hospital, "--metadata", str(FIXTURE), "--format", "json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["plan"]["order"][0] == "departments" and info["source_integrity"]["dangling_rows"] == 0
    assert info["tables"]["patients"]["checks"] == []  # the SDV file has none; the database's are not read
    r = runner.invoke(app, ["clone", hospital, f"sqlite:///{tmp_path / 'c.db'}", "--metadata", str(FIXTURE),
                            "--seed", "1", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["violations"] == 0


def test_export_and_read_back(hospital: str, tmp_path: Path) -> None:
    schema = relsynth.inspect(hospital, integrity=False).schema
    doc = schema.to_sdv_metadata()
    assert doc["METADATA_SPEC_VERSION"] == "V1"
    assert doc["tables"]["patients"]["primary_key"] == "patient_id"
    assert doc["tables"]["patients"]["columns"]["admission_date"] == {"sdtype": "datetime",
                                                                     "datetime_format": "%Y-%m-%d"}
    assert doc["tables"]["lab_results"]["columns"]["value"]["sdtype"] == "numerical"
    assert doc["tables"]["departments"]["alternate_keys"] == ["name"]
    assert {"parent_table_name": "patients", "parent_primary_key": "patient_id",
            "child_table_name": "treatments", "child_foreign_key": "patient_id"} in doc["relationships"]
    back = from_sdv_metadata(json.loads(json.dumps(doc)))
    assert _keys(back) == _keys(schema)
    for name, table in schema.tables.items():
        assert [(c.name, c.kind) for c in back.tables[name].columns] == [(c.name, c.kind) for c in table.columns]
    # The CLI writes the same document, and relsynth's own schema JSON.
    r = runner.invoke(app, ["inspect", hospital, "--sdv-metadata", str(tmp_path / "sdv.json"),
                            "--schema-json", str(tmp_path / "rs.json"), "--no-integrity"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "sdv.json").read_text()) == doc
    assert _keys(schema_from_metadata(tmp_path / "rs.json")) == _keys(schema)


def test_export_leaves_out_what_sdv_cannot_say(caplog: pytest.LogCaptureFixture) -> None:
    parent = Table("p", [Column("a", "integer", nullable=False), Column("b", "string", nullable=False),
                         Column("u", "uuid")], primary_key=["a", "b"], unique=[UniqueConstraint(["u"])])
    child = Table("c", [Column("id", "integer", nullable=False), Column("a", "integer"), Column("b", "string"),
                        Column("t", "time"), Column("blob", "binary"), Column("d", "decimal", precision=8, scale=2)],
                  primary_key=["id"], foreign_keys=[ForeignKey(["a", "b"], "p", ["a", "b"])])
    with caplog.at_level(logging.WARNING, logger="relsynth"):
        doc = to_sdv_metadata(Schema({"p": parent, "c": child}))
    assert "primary_key" not in doc["tables"]["p"] and doc["relationships"] == []
    assert "composite primary key" in caplog.text and "foreign key" in caplog.text
    assert doc["tables"]["p"]["columns"]["u"]["sdtype"] == "id"
    assert doc["tables"]["p"]["alternate_keys"] == ["u"]
    cols = doc["tables"]["c"]["columns"]
    assert cols["t"] == {"sdtype": "categorical"} and cols["blob"] == {"sdtype": "unknown"}
    assert cols["d"] == {"sdtype": "numerical", "computer_representation": "Float"}
    back = from_sdv_metadata(doc)
    assert back.tables["p"].column("u").kind == "uuid"


def test_sdtype_mapping() -> None:
    doc = {"METADATA_SPEC_VERSION": "V1", "tables": {"t": {"primary_key": "code", "columns": {
        "code": {"sdtype": "id", "regex_format": "[A-Z]{5}"},
        "email": {"sdtype": "email", "pii": True},
        "phone": {"sdtype": "phone_number"},
        "notes": {"sdtype": "text"},
        "n": {"sdtype": "numerical", "computer_representation": "UInt8"},
        "x": {"sdtype": "numerical"},
        "at": {"sdtype": "datetime", "datetime_format": "%d/%m/%Y %H:%M"},
        "day": {"sdtype": "datetime", "datetime_format": "%d/%m/%Y"},
        "when": {"sdtype": "datetime"},
        "flag": {"sdtype": "boolean"},
    }}}}
    kinds = {c.name: c.kind for c in from_sdv_metadata(doc).tables["t"].columns}
    assert kinds == {"code": "string", "email": "string", "phone": "string", "notes": "string", "n": "integer",
                     "x": "float", "at": "datetime", "day": "date", "when": "datetime", "flag": "boolean"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"METADATA_SPEC_VERSION": "V1", "tables": {"t": {"columns": {"a": {}}}}}, "has no sdtype"),
    ({"METADATA_SPEC_VERSION": "V1", "tables": {"t": {"columns": {}}}}, "no \"columns\""),
    ({"METADATA_SPEC_VERSION": "V9", "tables": {"t": {"columns": {"a": {"sdtype": "id"}}}}}, "not supported"),
    ({"METADATA_SPEC_VERSION": "SINGLE_TABLE_V1", "columns": {"a": {"sdtype": "id"}}}, "single-table"),
    ({"tables": {"t": {"primary_key": "id", "columns": {"a": {"sdtype": "id"}}}}}, "no column 'id'"),
    ({"tables": {"patients": {"primary_key": "a", "columns": {"a": {"sdtype": "id"}}}},
      "relationships": [{"parent_table_name": "patient", "parent_primary_key": "a",
                         "child_table_name": "patients", "child_foreign_key": "a"}]}, "did you mean 'patients'"),
    ({"tables": {"t": {"columns": {"a": {"sdtype": "id"}}}}, "relationships": [{"parent_table_name": "t"}]},
     "needs parent_table_name"),
])
def test_malformed_sdv_metadata(doc: dict, message: str) -> None:
    with pytest.raises(SchemaError, match="^.*" + message.replace("(", r"\(")) as info:
        from_sdv_metadata(doc)
    assert "\n" not in str(info.value)
