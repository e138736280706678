"""Table directories: CSV/Parquet files plus metadata.json as target and as source."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.data import build_hospital, hospital_schema, write_hospital_sqlite
from relsynth.errors import ConfigError, MissingExtraError, SinkError, SourceError, TargetNotEmptyError
from relsynth.schema import Column, ForeignKey, Schema, Table, coerce_frame
from relsynth.sinks.files import METADATA_FILE, is_directory, read_files, verify_files

runner = CliRunner()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command line as a user runs it (errors become exit codes there)."""
    return subprocess.run([sys.executable, "-m", "relsynth", *args], capture_output=True, text=True)
FORMATS = ["csv", "parquet"]


@pytest.fixture(scope="module")
def hospital_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("files") / "hospital.db"
    write_hospital_sqlite(path, n_patients=800, seed=3)
    return f"sqlite:///{path}"


def _typed_schema() -> Schema:
    """One column of every kind a file must keep, NULLs allowed in each."""
    parent = Table("parent", [Column("id", "integer", nullable=False), Column("code", "uuid")], primary_key=["id"])
    child = Table("child", [
        Column("id", "integer", nullable=False),
        Column("parent_id", "integer"),
        Column("price", "decimal", precision=10, scale=2),
        Column("ratio", "float"),
        Column("ok", "boolean"),
        Column("day", "date"),
        Column("at", "datetime"),
        Column("at_utc", "datetime", timezone=True),
        Column("clock", "time"),
        Column("blob", "binary"),
        Column("doc", "json"),
        Column("label", "string"),
    ], primary_key=["id"], foreign_keys=[ForeignKey(["parent_id"], "parent", ["id"])])
    return Schema({"parent": parent, "child": child})


def _typed_frames(schema: Schema) -> dict[str, pd.DataFrame]:
    parent = pd.DataFrame({"id": [1, 2], "code": ["0b6f1c2e-9a5d-4d7e-8f3a-2c4b6d8e0f1a", None]})
    child = pd.DataFrame({
        "id": [10, 11, 12],
        "parent_id": [1, None, 2],
        "price": [12.34, None, 0.1],
        "ratio": [1 / 3, float("nan"), 2.5e-12],
        "ok": [True, None, False],
        "day": ["2024-02-29", None, "1999-12-31"],
        "at": ["2024-02-29 13:45:01.250000", None, "2001-01-01 00:00:00"],
        "at_utc": ["2024-02-29 13:45:01", "2020-06-01 00:00:00", None],
        "clock": [dt.time(9, 30), None, dt.time(23, 59, 59, 500)],
        "blob": [b"\x00\xffab", None, b""],
        "doc": ['{"a": [1, 2]}', None, "null"],
        "label": ["NA", None, "0042, \"quoted\"\nline"],
    })
    return {"parent": coerce_frame(parent, schema.tables["parent"]), "child": coerce_frame(child, schema.tables["child"])}


@pytest.mark.parametrize("file_format", FORMATS)
def test_round_trip_keeps_kinds_and_nulls(tmp_path: Path, file_format: str) -> None:
    schema = _typed_schema()
    frames = _typed_frames(schema)
    written = relsynth.write(frames, tmp_path / "out", schema, file_format=file_format)
    assert written == {"parent": 2, "child": 3}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["child." + file_format, "parent." + file_format, METADATA_FILE])
    back_schema, back = read_files(tmp_path / "out")
    assert back_schema.tables["child"].column("price").scale == 2
    assert back_schema.tables["child"].row_count == 3
    if file_format == "csv":
        # An empty CSV field is NULL: empty text and empty bytes read back as NULL (Parquet keeps them).
        assert back["child"]["blob"][2] is None
        back["child"].loc[2, "blob"] = b""
    for name in frames:
        pd.testing.assert_frame_equal(back[name], frames[name], obj=name)
    assert back["child"]["clock"][2] == dt.time(23, 59, 59, 500)
    assert back["child"]["blob"][0] == b"\x00\xffab"
    assert back["child"]["label"][0] == "NA"  # a value, not a NULL


def test_parquet_column_types(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _typed_schema()
    relsynth.write(_typed_frames(schema), tmp_path, schema, file_format="parquet")
    types = {f.name: f.type for f in pq.read_schema(tmp_path / "child.parquet")}
    assert types["day"] == pa.date32() and types["at"] == pa.timestamp("us")
    assert types["at_utc"] == pa.timestamp("us", tz="UTC") and types["clock"] == pa.time64("us")
    assert types["price"] == pa.decimal128(10, 2) and types["id"] == pa.int64() and types["ok"] == pa.bool_()
    assert str(pq.read_table(tmp_path / "child.parquet")["price"][0]) == "12.34"


def test_csv_text_form(tmp_path: Path) -> None:
    schema = _typed_schema()
    relsynth.write(_typed_frames(schema), tmp_path, schema)
    lines = (tmp_path / "child.csv").read_text().splitlines()
    assert lines[0] == "id,parent_id,price,ratio,ok,day,at,at_utc,clock,blob,doc,label"
    assert lines[1] == ('10,1,12.34,0.3333333333333333,true,2024-02-29,2024-02-29 13:45:01.250,2024-02-29 13:45:01,'
                        '09:30:00,AP9hYg==,"{""a"": [1, 2]}",NA')
    assert lines[2] == "11,,,,,,,2020-06-01 00:00:00,,,,"  # NULLs are empty fields
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    assert [t["name"] for t in meta["tables"]] == ["parent", "child"] and meta["tables"][1]["row_count"] == 3


def test_if_exists_on_directories(tmp_path: Path) -> None:
    schema = hospital_schema()
    frames = build_hospital(200, seed=1)
    out = tmp_path / "out"
    relsynth.write(frames, out, schema)
    with pytest.raises(TargetNotEmptyError, match="not empty .*--if-exists"):
        relsynth.write(frames, out, schema)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(TargetNotEmptyError):
        relsynth.write(frames, tmp_path / "other", schema)
    # append adds rows to the same files; replace swaps the format and leaves other files alone.
    relsynth.write(frames, out, schema, if_exists="append")
    _, back = read_files(out)
    assert len(back["patients"]) == 2 * len(frames["patients"])
    (out / "notes.txt").write_text("mine")
    relsynth.write(frames, out, schema, if_exists="replace", file_format="parquet")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.parquet" for n in schema.tables] + [METADATA_FILE, "notes.txt"])
    with pytest.raises(SinkError, match="cannot append csv rows"):
        relsynth.write(frames, out, schema, if_exists="append", file_format="csv")
    relsynth.write(frames, out, schema, if_exists="truncate", file_format="parquet")
    _, back = read_files(out)
    assert len(back["patients"]) == len(frames["patients"])
    # truncate reuses files only when their columns are the schema's
    narrow = Schema({"departments": Table("departments", schema.tables["departments"].columns[:2],
                                           primary_key=["department_id"])})
    with pytest.raises(SinkError, match="use --if-exists replace"):
        relsynth.write({"departments": frames["departments"].iloc[:, :2]}, out, narrow, if_exists="truncate",
                       file_format="parquet")


def test_failed_write_changes_nothing(tmp_path: Path) -> None:
    schema = hospital_schema()
    frames = build_hospital(100, seed=1)
    relsynth.write(frames, tmp_path, schema)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bad = dict(frames, patients=frames["patients"].assign(age=None))  # NOT NULL column left empty
    with pytest.raises(SinkError, match="NOT NULL"):
        relsynth.write(bad, tmp_path, schema, if_exists="replace")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_verify_files_counts_violations(tmp_path: Path) -> None:
    schema = hospital_schema()
    frames = build_hospital(100, seed=1)
    labs = frames["lab_results"].copy()
    labs.loc[0, "patient_id"] = 10_000  # dangling
    labs.loc[1, "lab_id"] = labs.loc[2, "lab_id"]  # repeated key
    labs.loc[3, "value"] = -1.0  # CHECK (value >= 0)
    relsynth.write(dict(frames, lab_results=labs), tmp_path, schema)
    report = verify_files(tmp_path, schema)
    assert report["lab_results"] == {"rows": len(labs), "pk_duplicates": 1, "not_null_violations": 0,
                                     "unique_duplicates": 0, "fk_violations": 1, "check_violations": 1}
    assert sum(report["patients"].values()) == len(frames["patients"])  # only "rows"
    info = relsynth.inspect(tmp_path)
    assert info.dangling_rows == 1 and info.schema.tables["lab_results"].row_count == len(labs)


def test_missing_pyarrow_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    schema = hospital_schema()
    with pytest.raises(MissingExtraError, match=r'pip install "relsynth\[parquet\]"'):
        relsynth.write(build_hospital(50, seed=1), tmp_path, schema, file_format="parquet")
    assert not any(tmp_path.iterdir())


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        read_files(tmp_path / "nope")
    with pytest.raises(SourceError, match="has no metadata.json; pass --metadata"):
        read_files(tmp_path)
    schema = hospital_schema()
    relsynth.write(build_hospital(50, seed=1), tmp_path, schema)
    (tmp_path / "patients.csv").rename(tmp_path / "patient.csv")
    with pytest.raises(SourceError, match="no patients.csv or patients.parquet .*did you mean 'patient'"):
        read_files(tmp_path)
    (tmp_path / "patient.csv").write_text("patient_id,age\n1,abc\n")
    (tmp_path / "patient.csv").rename(tmp_path / "patients.csv")
    with pytest.raises(SourceError, match="no column 'department_id'"):
        read_files(tmp_path)
    assert is_directory("./out/") and is_directory(tmp_path) and not is_directory("sqlite:///x.db")
    # A SQLite file named without its URL is not taken for a directory.
    with pytest.raises(ConfigError, match="looks like a database file; write sqlite:///copy.db"):
        relsynth.write(build_hospital(50, seed=1), "copy.db", schema)
    with pytest.raises(ConfigError, match="sqlite:///"):
        relsynth.fit(str(tmp_path / "prod.sqlite"))
    (tmp_path / "notes").write_text("x")
    with pytest.raises(SourceError, match="is a file, not a directory"):
        read_files(tmp_path / "notes")


@pytest.mark.parametrize("file_format", FORMATS)
def test_fit_from_files_equals_fit_from_database(hospital_db: str, tmp_path: Path, file_format: str) -> None:
    schema = relsynth.inspect(hospital_db, integrity=False).schema
    frames = relsynth.schema.read_tables(hospital_db, schema)
    relsynth.write(frames, tmp_path, schema, file_format=file_format)
    a = relsynth.fit(hospital_db).sample(seed=5)
    b = relsynth.fit(tmp_path).sample(seed=5)
    for name in schema.tables:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_clone_database_to_files_and_back(hospital_db: str, tmp_path: Path) -> None:
    result = relsynth.clone(hospital_db, tmp_path / "copy", seed=2, file_format="parquet")
    assert result.violations == 0 and set(result.integrity["patients"]) >= {"rows", "fk_violations", "check_violations"}
    assert result.rows_written["lab_results"] == result.integrity["lab_results"]["rows"] > 0
    again = relsynth.clone(tmp_path / "copy", f"sqlite:///{tmp_path / 'again.db'}", seed=3)
    assert again.violations == 0 and again.rows_source == result.rows_written
    with pytest.raises(relsynth.ConfigError, match="is the source"):
        relsynth.clone(tmp_path / "copy", str(tmp_path / "copy") + "/", if_exists="replace")
    with pytest.raises(relsynth.ConfigError, match="applies to directory targets"):
        relsynth.clone(hospital_db, f"sqlite:///{tmp_path / 'x.db'}", file_format="csv")


def test_cli_files_workflow(hospital_db: str, tmp_path: Path) -> None:
    out, model = tmp_path / "out", tmp_path / "m.rsm"
    r = runner.invoke(app, ["clone", hospital_db, str(out), "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "0 violations" in r.output and (out / "patients.csv").is_file()
    r = _cli("clone", hospital_db, str(out), "--seed", "1")
    assert r.returncode == 1 and r.stderr.startswith("error: target directory") and "not empty" in r.stderr
    r = _cli("clone", hospital_db, str(out), "--file-format", "xlsx", "--if-exists", "replace")
    assert r.returncode == 2 and "file format 'xlsx'" in r.stderr
    r = runner.invoke(app, ["fit", str(out), "-o", str(model)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sample", str(model), "--to", str(tmp_path / "pq"), "--file-format", "parquet",
                            "--scale", "0.5", "--seed", "4"])
    assert r.exit_code == 0, r.output
    assert "integrity: 0 violations in the files" in r.output
    r = runner.invoke(app, ["inspect", str(tmp_path / "pq"), "--format", "json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["source_integrity"]["dangling_rows"] == 0 and info["tables"]["patients"]["rows"] > 0
    r = runner.invoke(app, ["report", hospital_db, str(tmp_path / "pq"), "--no-detection", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["summary"]["integrity_violations"] == 0
    r = runner.invoke(app, ["inspect", str(out)])
    assert r.exit_code == 0 and f"{out} (files)" in r.output
    # A directory without metadata.json, described by a metadata file given on the command line.
    (out / METADATA_FILE).rename(tmp_path / "meta.json")
    r = runner.invoke(app, ["fit", str(out), "-o", str(model)])
    assert r.exit_code == 1 and "--metadata" in r.output
    r = runner.invoke(app, ["fit", str(out), "--metadata", str(tmp_path / "meta.json"), "-o", str(model)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["report", str(out), str(tmp_path / "pq"), "--metadata", str(tmp_path / "meta.json"),
                            "--no-detection", "--format", "json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    patients = report["tables"]["patients"]
    assert patients["rows_real"] == 800 and 0.35 < patients["rows_synthetic"] / 800 < 0.65  # --scale 0.5
