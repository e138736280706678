"""relsynth.config: YAML files, interpolation, checked keys and types, per-table scale, column
overrides and virtual foreign keys, through the library."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import relsynth
from relsynth.config import Config, config_problems, interpolate, load_config
from relsynth.data import write_hospital_sqlite
from relsynth.errors import ConfigError
from relsynth.evaluate.metrics import cardinality, children_per_parent
from relsynth.schema import Schema, Table, read_schema, read_tables

from conftest import dataset


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "hospital.db"
    write_hospital_sqlite(path, n_patients=400, seed=0)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def chinook_without_fks(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Chinook's Artist, Album, Track, Genre, MediaType written with no FOREIGN KEY declared."""
    src = f"sqlite:///{dataset('chinook')}"
    schema = read_schema(src, include=["Artist", "Album", "Track", "Genre", "MediaType"])
    bare = Schema({n: Table(t.name, t.columns, t.primary_key, [], t.unique, t.checks) for n, t in schema.tables.items()},
                  dialect=schema.dialect)
    url = f"sqlite:///{tmp_path_factory.mktemp('nofk') / 'chinook_nofk.db'}"
    relsynth.write(read_tables(src, schema), url, bare)
    return url


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relsynth.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _frames(url: str) -> dict[str, pd.DataFrame]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {n: pd.read_sql_table(n, conn) for n in names}


# ------------------------------------------------------------------------ interpolation
def test_interpolation_set_unset_default_and_escape() -> None:
    env = {"PGPASS": "s3cret", "EMPTY": ""}
    assert interpolate("postgresql://u:${PGPASS}@h/db", env) == "postgresql://u:s3cret@h/db"
    assert interpolate("${MISSING:-sqlite:///x.db}", env) == "sqlite:///x.db"
    assert interpolate("${EMPTY:-fallback}", env) == "fallback"  # :- also covers set-but-empty
    assert interpolate("${PGPASS:-unused}", env) == "s3cret"
    assert interpolate("a$$b ${EMPTY}", env) == "a$b "
    with pytest.raises(ConfigError, match=r"environment variable MISSING is not set; set it or write \$\{MISSING:-default\}"):
        interpolate("x ${MISSING} y", env)


def test_load_config_interpolates_every_string_and_types_whole_placeholders(tmp_path: Path) -> None:
    path = _write(tmp_path, "source: sqlite:///${DB_DIR}/a.db\ntarget: ${TARGET:-sqlite:///b.db}\n"
                            "scale: ${SCALE:-2}\nseed: ${SEED}\ninclude: ['${T1}', t2]\n")
    config = load_config(path, env={"DB_DIR": "/data", "SEED": "7", "T1": "patients"})
    assert config.source == "sqlite:////data/a.db" and config.target == "sqlite:///b.db"
    assert config.scale == 2.0 and config.seed == 7 and config.include == ["patients", "t2"]
    assert config.given == {"source", "target", "scale", "seed", "include"}
    with pytest.raises(ConfigError, match=r"relsynth.yaml: seed: environment variable SEED is not set"):
        load_config(path, env={"DB_DIR": "/data", "T1": "x"})


def test_empty_file_is_the_default_configuration(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "# nothing yet\n"))
    assert config.clone_kwargs() == Config().clone_kwargs() and config.given == frozenset()


# ------------------------------------------------------------------------ keys and types
@pytest.mark.parametrize(("text", "message"), [
    ("scal: 2\n", "unknown key 'scal' (did you mean 'scale'?); keys are: source, target"),
    ("tables:\n  patients:\n    scael: 2\n", "tables.patients: unknown key 'scael' (did you mean 'scale'?)"),
    ("tables:\n  patients:\n    columns:\n      age: {mni: 3}\n",
     "tables.patients.columns.age: unknown key 'mni' (did you mean 'min'?); keys are: skip, value, values, min, max"),
    ("foreign_keys:\n  - {table: a, column: [x], ref_table: b}\n",
     "foreign_keys[0]: unknown key 'column' (did you mean 'columns'?)"),
    ("if_exists: replase\n", "if_exists must be fail, truncate, append or replace, got 'replase' (did you mean 'replace'?)"),
    ("file_format: parqet\n", "file_format must be csv or parquet, got 'parqet' (did you mean 'parquet'?)"),
    ("pii:\n  patients.email: emial\n", "pii.patients.email: unknown kind 'emial' (did you mean 'email'?); kinds are: "),
    ("tables:\n  p:\n    columns:\n      a: {faker: ful_name}\n",
     "tables.p.columns.a.faker: unknown kind 'ful_name' (did you mean 'full_name'?); kinds are: first_name, "),
    ("rare_categry_threshold: 3\n", "unknown key 'rare_categry_threshold' (did you mean 'rare_category_threshold'?)"),
])
def test_unknown_keys_and_choices_say_did_you_mean(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("scale: two\n", "scale must be a positive number, e.g. 0.5 or 2, got 'two'"),
    ("scale: -1\n", "scale must be a positive number"),
    ("seed: 1.5\n", "seed must be a whole number ≥ 0, got 1.5"),
    ("fit_rows: -3\n", "fit_rows must be 0 (no limit) or a number of rows, got -3"),
    ("source: 5\n", "source must be a database URL (text), got 5"),
    ("include: patients\n", "include must be a list of table names, e.g. [a, b], got 'patients'"),
    ("tables: [patients]\n", "tables must be a mapping of key: value"),
    ("tables:\n  patients:\n    scale: 0\n", "tables.patients.scale must be a positive number"),
    ("tables:\n  p:\n    columns:\n      a: {skip: yes please}\n", "tables.p.columns.a.skip must be true or false"),
    ("tables:\n  p:\n    columns:\n      a: {value: [1, 2]}\n", "tables.p.columns.a.value must be one value"),
    ("tables:\n  p:\n    columns:\n      a: {values: []}\n", "tables.p.columns.a.values is empty"),
    ("tables:\n  p:\n    columns:\n      a: {values: {x: -1}}\n", "a weight must be a number ≥ 0, got -1"),
    ("tables:\n  p:\n    columns:\n      a: {min: 5, max: 1}\n", "min 5 is above max 1; swap them"),
    ("tables:\n  p:\n    columns:\n      a: {skip: true, value: 1}\n", "skip and value cannot be combined"),
    ("foreign_keys: {table: a}\n", "foreign_keys must be a list"),
    ("foreign_keys:\n  - {table: a, columns: [x]}\n", "foreign_keys[0]: `ref_table` is missing"),
    ("foreign_keys:\n  - {table: a, columns: [x, y], ref_table: b, ref_columns: [z]}\n",
     "2 columns but 1 ref_columns"),
    ("source: [unclosed\n", "not valid YAML at line 2"),
    ("- just\n- a list\n", "must be a mapping of key: value"),
    ("rare_category_threshold: -1\n", "rare_category_threshold must be 0 (keep every category) or a number of rows"),
    ("locale: 5\n", "locale must be a Faker locale such as en_US (text), got 5"),
    ("metadata: [a]\n", "metadata must be a metadata file path (text)"),
    ("pii:\n  email: text\n", "pii: key 'email' must be Table.Column"),
    ("tables:\n  p:\n    columns:\n      a: {rule: 5}\n", "tables.p.columns.a.rule must be a condition in SQL"),
    ("tables:\n  p:\n    columns:\n      a: {faker: email, value: x}\n", "value and faker cannot be combined"),
])
def test_wrong_types_are_one_line_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_file_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; write one with `relsynth init SRC -o"):
        load_config(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------ against the schema
def test_names_and_values_are_checked_against_the_schema(hospital: str) -> None:
    schema = read_schema(hospital)
    tables = {
        "patient": {"scale": 2},
        "patients": {"columns": {
            "agee": {"min": 1},
            "patient_id": {"value": 3},
            "admission_date": {"skip": True},
            "sex": {"value": "X"},
            "age": {"value": "old"},
            "smoker": {"values": [1, 2]},
            "bmi": {"min": "2020-01-01"},
        }},
        "departments": {"columns": {"name": {"value": "Cardiology"}, "floor": {"values": [-1, 2]}}},
    }
    fks = [{"table": "treatments", "columns": ["patient_id"], "ref_table": "patients"}]
    problems = config_problems(schema, tables, fks)
    expected = [
        "foreign_keys[0]: treatments(patient_id) -> patients is already declared by the database",
        "tables.patient: no table 'patient' in the source (did you mean 'patients'?)",
        "tables.patients.columns.agee: table 'patients' has no column 'agee' (did you mean 'age'?)",
        "tables.patients.columns.patient_id: patient_id is a key column",
        "tables.patients.columns.admission_date: skip leaves the column NULL but patients.admission_date is NOT NULL",
        "tables.patients.columns.sex: 'X' break(s) patients: CHECK",
        "tables.patients.columns.age: 'old' is not a number but age is integer",
        "tables.patients.columns.smoker: 1 is not true/false but smoker is boolean",
        "tables.patients.columns.bmi: '2020-01-01' is not a number but bmi is float",
        "tables.departments.columns.name: name is UNIQUE, so one fixed value would leave a single row",
        "tables.departments.columns.floor: -1 break(s) departments: CHECK",
    ]
    assert len(problems) == len(expected)
    for line, start in zip(problems, expected):
        assert start in line, (line, start)
    # tables left out by include/exclude are not errors; typos still are
    sub = read_schema(hospital, include=["departments", "patients"])
    assert config_problems(sub, {"treatments": {"scale": 2}}, include=["departments", "patients"]) == []
    assert config_problems(read_schema(hospital, exclude=["treatments"]), {"treatmnts": {}}, exclude=["treatments"])


def test_bad_config_writes_nothing(hospital: str, tmp_path: Path) -> None:
    target = tmp_path / "never.db"
    with pytest.raises(ConfigError, match="no table 'patinets'"):
        relsynth.clone(hospital, f"sqlite:///{target}", tables={"patinets": {"scale": 2}})
    with pytest.raises(ConfigError, match="unknown key 'vlaue'"):
        relsynth.clone(hospital, f"sqlite:///{target}", tables={"patients": {"columns": {"sex": {"vlaue": "F"}}}})
    assert not target.exists()


# ------------------------------------------------------------------------ effects in the target
def test_table_scale_and_column_overrides_reach_the_target(hospital: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'out.db'}"
    path = _write(tmp_path, f"""
source: {hospital}
target: {target}
seed: 5
tables:
  patients:
    scale: 2
    columns:
      discharge_date: {{skip: true}}
      insurance: {{value: Private}}
      sex: {{values: {{F: 3, M: 1}}}}
      diagnosis: {{values: [diabetes, copd]}}
      age: {{min: 30, max: 60}}
      admission_date: {{min: 2023-06-01}}
  lab_results:
    columns:
      value: {{max: 50}}
""")
    result = load_config(path).clone()
    assert result.violations == 0
    source = _frames(hospital)
    out = _frames(target)
    assert len(out["patients"]) == 2 * len(source["patients"])
    assert len(out["departments"]) == len(source["departments"])
    # children follow their parents: about twice the source's lab results and treatments
    for child in ("lab_results", "treatments"):
        assert abs(len(out[child]) / len(source[child]) - 2) < 0.1
    p = out["patients"]
    assert p["discharge_date"].isna().all()
    assert set(p["insurance"]) == {"Private"}
    assert set(p["diagnosis"]) == {"diabetes", "copd"}
    assert p["age"].between(30, 60).all() and (p["age"] == 30).any()
    assert (pd.to_datetime(p["admission_date"]) >= "2023-06-01").all()
    assert abs((p["sex"] == "F").mean() - 0.75) < 0.05
    assert out["lab_results"]["value"].max() <= 50
    # the CHECK constraints still hold: lab values stay >= 0
    assert (out["lab_results"]["value"] >= 0).all()


def test_sample_takes_table_options_from_a_saved_model(hospital: str, tmp_path: Path) -> None:
    model = relsynth.fit(hospital)
    model.save(tmp_path / "m.rsm")
    model = relsynth.load(tmp_path / "m.rsm")
    tables = model.sample(seed=1, tables={"departments": {"scale": 3, "columns": {"beds": {"value": 12}}},
                                          "treatments": {"scale": 0.5}})
    assert len(tables["departments"]) == 24 and set(tables["departments"]["beds"]) == {12}
    assert len(tables["treatments"]) == round(model.tables["treatments"].n_rows * 0.5)
    assert tables["departments"]["name"].is_unique  # UNIQUE enforced after the overrides
    with pytest.raises(ConfigError, match="no column 'bedz'"):
        model.sample(tables={"departments": {"columns": {"bedz": {"value": 1}}}})


# ------------------------------------------------------------------------ virtual foreign keys
def test_virtual_foreign_keys_are_learned_and_enforced(chinook_without_fks: str, tmp_path: Path) -> None:
    assert all(not t.foreign_keys for t in read_schema(chinook_without_fks).tables.values())
    path = _write(tmp_path, f"""
source: {chinook_without_fks}
target: sqlite:///{tmp_path / 'copy.db'}
seed: 2
foreign_keys:
  - {{table: Album, columns: ArtistId, ref_table: Artist}}
  - {{table: Track, columns: [AlbumId], ref_table: Album, ref_columns: [AlbumId]}}
  - {{table: Track, columns: [GenreId], ref_table: Genre}}
""")
    config = load_config(path)
    result = config.clone()
    assert result.violations == 0
    # learned: Track is generated under Album, with the children-per-album distribution
    model = config.fit()
    assert model.plan.tables["Track"].driver is not None
    # (Not the table's score, the mean of both FKs': GenreId's, over 25 genres, swings 0.6-0.92
    # from one seed to the next, with the same mean over 13 seeds before and after a change of
    # the sampler's random draws.)
    real, target = read_tables(chinook_without_fks, read_schema(chinook_without_fks)), read_schema(config.target)
    (by_album,) = [fk for fk in target.tables["Track"].foreign_keys if fk.ref_table == "Album"]
    out = read_tables(config.target, target)
    assert cardinality(children_per_parent(real["Track"], by_album, real["Album"]),
                       children_per_parent(out["Track"], by_album, out["Album"]))["score"] > 0.95
    # kept: declared as real FKs in the target, every value has its parent row
    declared = {n: {fk.label for fk in t.foreign_keys} for n, t in read_schema(config.target).tables.items()}
    assert declared["Album"] == {"(ArtistId) -> Artist(ArtistId)"}
    assert declared["Track"] == {"(AlbumId) -> Album(AlbumId)", "(GenreId) -> Genre(GenreId)"}
    out = _frames(config.target)
    assert out["Track"]["AlbumId"].dropna().isin(out["Album"]["AlbumId"]).all()
    assert out["Album"]["ArtistId"].isin(out["Artist"]["ArtistId"]).all()
    # enforced by the target: a dangling row is refused
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            conn.execute("INSERT INTO Album (AlbumId, Title, ArtistId) VALUES (999999, 'x', 999999)")


@pytest.mark.parametrize(("fk", "message"), [
    ({"table": "Albun", "columns": ["ArtistId"], "ref_table": "Artist"}, "no table 'Albun' in the source (did you mean 'Album'?)"),
    ({"table": "Album", "columns": ["ArtistID"], "ref_table": "Artist"}, "table 'Album' has no column 'ArtistID' (did you mean 'ArtistId'?)"),
    ({"table": "Album", "columns": ["Title"], "ref_table": "Artist"}, "Album.Title is string but Artist.ArtistId is integer"),
    ({"table": "Album", "columns": ["ArtistId"], "ref_table": "Artist", "ref_columns": ["Name"]},
     "Artist(Name) is neither its primary key nor UNIQUE"),
])
def test_virtual_foreign_key_errors(chinook_without_fks: str, tmp_path: Path, fk: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        relsynth.clone(chinook_without_fks, f"sqlite:///{tmp_path / 'x.db'}", foreign_keys=[fk])
    assert message in str(info.value)
    assert not (tmp_path / "x.db").exists()


def test_options_as_dataclasses(hospital: str) -> None:
    from relsynth.config import ColumnOptions, TableOptions, VirtualForeignKey

    model = relsynth.fit(hospital)
    tables = model.sample(seed=3, tables={
        "departments": TableOptions(columns={"beds": ColumnOptions(value=None), "floor": ColumnOptions(value=2)}),
        "patients": TableOptions(columns={"sex": ColumnOptions(values=["F", "M"], weights=[1, 0])}),
    })
    assert tables["departments"]["beds"].isna().all() and set(tables["departments"]["floor"]) == {2}
    assert set(tables["patients"]["sex"]) == {"F"}
    with pytest.raises(ConfigError, match="need one value each"):
        ColumnOptions(values=["F"], weights=[1, 2])
    fk = VirtualForeignKey("lab_results", ["patient_id"], "patients")
    with pytest.raises(ConfigError, match="already declared by the database"):
        relsynth.fit(hospital, foreign_keys=[fk])


@pytest.mark.postgres
def test_virtual_keys_and_overrides_into_postgres(chinook_without_fks: str, pg_url: str) -> None:
    result = relsynth.clone(chinook_without_fks, pg_url, seed=1,
                            foreign_keys=[{"table": "Track", "columns": ["AlbumId"], "ref_table": "Album"}],
                            tables={"Album": {"scale": 2},
                                    "Track": {"columns": {"Composer": {"skip": True}, "Milliseconds": {"max": 300000}}}})
    assert result.violations == 0 and result.rows_written["Album"] == 2 * 347
    assert [fk.label for fk in read_schema(pg_url).tables["Track"].foreign_keys] == ["(AlbumId) -> Album(AlbumId)"]
    track = _frames(pg_url)["Track"]
    assert track["Composer"].isna().all() and track["Milliseconds"].max() <= 300000
    assert abs(len(track) / 3503 - 2) < 0.1  # Track follows its doubled albums


def test_validate_counts_source_rows_that_break_a_virtual_key(chinook_without_fks: str, tmp_path: Path) -> None:
    from relsynth.config import validate_config

    path = _write(tmp_path, f"""
source: {chinook_without_fks}
foreign_keys:
  - {{table: Album, columns: ArtistId, ref_table: Artist}}
  - {{table: Track, columns: [Milliseconds], ref_table: Album}}
""")
    result = validate_config(load_config(path))
    assert result.dangling == {"Album: (ArtistId) -> Artist(ArtistId)": 0, "Track: (Milliseconds) -> Album(AlbumId)": 3503}
    assert result.problems == ["foreign key Track: (Milliseconds) -> Album(AlbumId): no source row matches a parent "
                               "row; check columns and ref_columns"]
    assert not result.ok and result.trial_rows["Track"] == 200 and result.violations == []


# ------------------------------------------------------------------------ keys = keyword arguments
def test_every_config_key_is_a_keyword_argument_of_clone_or_fit() -> None:
    import inspect

    from relsynth.config import FIT_KEYS, KEYS

    clone_args = set(inspect.signature(relsynth.clone).parameters)
    fit_args = set(inspect.signature(relsynth.fit).parameters)
    fields = {f.name for f in dataclasses.fields(Config)} - {"given", "path"}
    assert set(KEYS) == fields
    assert not set(KEYS) - clone_args - fit_args, set(KEYS) - clone_args - fit_args
    assert set(FIT_KEYS) <= fit_args and set(FIT_KEYS) <= set(KEYS)
    # every keyword argument of clone, but the callback, is a key of the file
    assert clone_args - {"progress"} == set(KEYS)


def test_library_keys_load_and_reach_clone(hospital: str, tmp_path: Path) -> None:
    sdv = tmp_path / "sdv.json"
    sdv.write_text(json.dumps(relsynth.inspect(hospital, integrity=False, pii=False).schema.to_sdv_metadata()))
    out = tmp_path / "out"
    config = load_config(_write(tmp_path, f"source: {hospital}\ntarget: {out}\nseed: 2\nmetadata: {sdv}\n"
                                          "file_format: parquet\nlocale: de_DE\nrare_category_threshold: 0\n"
                                          "pii: {patients.diagnosis: null, patients.insurance: text}\n"))
    assert config.pii == {"patients.diagnosis": None, "patients.insurance": "text"}
    assert (config.locale, config.rare_category_threshold, config.file_format) == ("de_DE", 0, "parquet")
    result = config.clone()
    assert result.violations == 0 and (out / "patients.parquet").is_file()
    assert result.pii["patients"]["insurance"]["kind"] == "text" and "diagnosis" not in result.pii.get("patients", {})
    assert result.rare_categories == {}
    model = config.fit()
    assert model.locale == "de_DE" and model.pii["patients"]["insurance"]["kind"] == "text"


# ------------------------------------------------------------------------ rule and faker
def test_rule_holds_on_every_row_and_is_not_declared(hospital: str, tmp_path: Path) -> None:
    rule = "systolic_bp >= age + 60"
    real = _frames(hospital)["patients"]
    assert (real.systolic_bp < real.age + 60).mean() > 0.05  # the source breaks it often
    target = f"sqlite:///{tmp_path / 'ruled.db'}"
    config = load_config(_write(tmp_path, f"source: {hospital}\ntarget: {target}\nseed: 3\ntables:\n  patients:\n"
                                          f"    columns:\n      systolic_bp: {{rule: '{rule}', max: 250}}\n"))
    result = config.clone()
    assert result.violations == 0
    out = _frames(target)["patients"]
    assert (out.systolic_bp >= out.age + 60).all() and out.systolic_bp.max() <= 250
    assert len(out) >= 0.9 * len(real)  # redrawn, not mostly dropped
    declared = [c["sqltext"] for c in sa.inspect(sa.create_engine(target)).get_check_constraints("patients")]
    assert declared and not any("60" in text for text in declared)  # enforced while sampling, not declared


def test_rule_and_faker_are_checked_against_the_schema(hospital: str) -> None:
    schema = read_schema(hospital)
    problems = config_problems(schema, {"patients": {"columns": {
        "systolic_bp": {"rule": "systolic >= age"},
        "age": {"faker": "email"},
        "bmi": {"rule": "my_udf(bmi) > 1"},
        "patient_id": {"faker": "text"},
        "insurance": {"faker": "full_name"},
    }}})
    assert len(problems) == 5, problems
    assert "rule 'systolic >= age' cannot be enforced: it refers to 'systolic', which is not a column" in problems[0]
    assert "faker makes text, but patients.age is integer" in problems[1]
    assert "rule 'my_udf(bmi) > 1' cannot be enforced" in problems[2]
    assert "patient_id is a key column" in problems[3]
    assert "patients.insurance takes listed values only (an enumeration or a CHECK)" in problems[4]


def test_faker_column_is_generated_as_that_kind(hospital: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'f.db'}"
    config = load_config(_write(tmp_path, f"source: {hospital}\ntarget: {target}\nseed: 1\ntables:\n  lab_results:\n"
                                          "    columns:\n      unit: {faker: first_name}\n"))
    assert config.fit().pii["lab_results"]["unit"]["kind"] == "first_name"
    result = config.clone()
    assert result.pii["lab_results"]["unit"]["kind"] == "first_name" and result.violations == 0
    made = set(_frames(target)["lab_results"]["unit"])
    assert not made & set(_frames(hospital)["lab_results"]["unit"]) and len(made) > 20
    with pytest.raises(ConfigError, match="faker is 'first_name' but pii sets lab_results.unit to 'text'"):
        relsynth.clone(hospital, f"sqlite:///{tmp_path / 'g.db'}", pii={"lab_results.unit": "text"},
                       tables=config.tables)


def test_validate_checks_pii_names_and_uses_the_metadata_file(hospital: str, tmp_path: Path) -> None:
    from relsynth.config import validate_config

    config = load_config(_write(tmp_path, f"source: {hospital}\npii: {{patients.insurence: text}}\n"))
    result = validate_config(config)
    assert not result.ok and result.trial_rows == {}
    assert result.problems == ["pii override 'patients.insurence': patients has no column 'insurence' "
                               "(did you mean 'insurance'?)"]
    # the schema is the metadata file's: without the database's CHECK on systolic_bp, 400 is allowed
    text = f"source: {hospital}\ninclude: [departments, patients]\n" \
           "tables:\n  patients:\n    columns:\n      systolic_bp: {value: 400}\n"
    result = validate_config(load_config(_write(tmp_path, text)))
    assert not result.ok and "400 break(s) patients: CHECK" in result.problems[0]
    schema = read_schema(hospital).to_dict()
    patients = next(t for t in schema["tables"] if t["name"] == "patients")
    patients["checks"] = [c for c in patients["checks"] if "systolic_bp" not in str(c)]
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(schema))
    result = validate_config(load_config(_write(tmp_path, text + f"metadata: {meta}\n")))
    assert result.ok, result.problems
    assert set(result.trial_rows) == {"departments", "patients"} and result.trial_rows["patients"] == 200
