"""The configuration workflow on the command line: init → validate → clone, --config on clone,
fit and sample, global options, environment variables and exit codes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from rich.console import Console
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.config import load_config
from relsynth.data import write_hospital_sqlite

from conftest import dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "hospital.db"
    write_hospital_sqlite(path, n_patients=300, seed=1)
    return f"sqlite:///{path}"


def _frames(url: str) -> dict[str, pd.DataFrame]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        return {n: pd.read_sql_table(n, conn) for n in sorted(sa.inspect(conn).get_table_names())}


def _run(*args: str, env: dict[str, str] | None = None):  # noqa: ANN202 - click's Result
    return runner.invoke(app, list(args), env=env)


@pytest.mark.parametrize("name", ["demo", "chinook"])
def test_init_validate_clone_round_trip(name: str, hospital: str, tmp_path: Path) -> None:
    source = hospital if name == "demo" else f"sqlite:///{dataset('chinook')}"
    config = tmp_path / "relsynth.yaml"
    r = _run("init", source, "-o", str(config))
    assert r.exit_code == 0, r.output
    text = config.read_text()
    schema_tables = yaml.safe_load(text)["tables"]
    assert set(schema_tables) == set(_frames(source))
    assert "# 300 rows" in text if name == "demo" else "# 3,503 rows" in text  # row counts; Track has 3,503
    r = _run("validate", "--config", str(config))
    assert r.exit_code == 0, r.output
    assert "trial sample:" in r.output and "integrity of the trial sample: 0 violations" in r.output
    assert "the configuration is valid" in r.output
    with_config, without = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    r = _run("--config", str(config), "clone", "--seed", "4", env={"RELSYNTH_TARGET": with_config})
    assert r.exit_code == 0, r.output
    r = _run("clone", source, without, "--seed", "4")
    assert r.exit_code == 0, r.output
    a, b = _frames(with_config), _frames(without)
    assert a.keys() == b.keys()
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table])


def test_init_replaces_the_password_and_refuses_to_overwrite(tmp_path: Path, pg_url: str, hospital: str) -> None:
    from relsynth.data import build_hospital, hospital_schema
    import relsynth

    relsynth.write(build_hospital(50, 0), pg_url, hospital_schema())
    with_password = sa.make_url(pg_url).set(password="s3cr$t")
    config = tmp_path / "pg.yaml"
    # trust authentication: the password is not checked, so the URL with one still reads the schema
    r = _run("init", with_password.render_as_string(hide_password=False), "-o", str(config))
    assert r.exit_code == 0, r.output
    text = config.read_text()
    assert "s3cr" not in text and "${RELSYNTH_SOURCE_PASSWORD}" in text
    loaded = load_config(config, env={"RELSYNTH_SOURCE_PASSWORD": "s3cr$t"})
    assert sa.make_url(loaded.source).password == "s3cr$t"
    r = _run("init", pg_url, "-o", str(config))
    assert r.exit_code == 2 and "exists; pass --force" in r.output
    r = _run("init", pg_url, "-o", str(config), "--force")
    assert r.exit_code == 0


def test_init_suggests_undeclared_keys_by_name(tmp_path: Path) -> None:
    import relsynth
    from relsynth.schema import Schema, Table, read_schema, read_tables

    src = f"sqlite:///{dataset('chinook')}"
    schema = read_schema(src, include=["Artist", "Album"])
    bare = Schema({n: Table(t.name, t.columns, t.primary_key, [], t.unique, t.checks) for n, t in schema.tables.items()})
    url = f"sqlite:///{tmp_path / 'nofk.db'}"
    relsynth.write(read_tables(src, schema), url, bare)
    r = _run("init", url, "-o", str(tmp_path / "c.yaml"))
    assert r.exit_code == 0
    text = (tmp_path / "c.yaml").read_text()
    line = "#  - {table: Album, columns: [ArtistId], ref_table: Artist, ref_columns: [ArtistId]}"
    assert line in text
    # uncommented, the suggestion is a working virtual key
    (tmp_path / "c.yaml").write_text(text.replace(line, line[1:]))
    assert load_config(tmp_path / "c.yaml").foreign_keys[0].ref_table == "Artist"
    r = _run("validate", "--config", str(tmp_path / "c.yaml"), "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ok"] is True


def test_validate_lists_problems_and_exits_1(hospital: str, tmp_path: Path) -> None:
    config = tmp_path / "relsynth.yaml"
    config.write_text(f"source: {hospital}\ntables:\n  patient: {{scale: 2}}\n  patients:\n    columns:\n"
                      "      agee: {min: 1}\n      sex: {value: X}\n")
    r = _run("validate", "--config", str(config))
    assert r.exit_code == 1
    assert "problem: tables.patient: no table 'patient' in the source (did you mean 'patients'?)" in r.output
    assert "problem: tables.patients.columns.agee: table 'patients' has no column 'agee' (did you mean 'age'?)" in r.output
    assert "problem: tables.patients.columns.sex: 'X' break(s) patients: CHECK" in r.output
    r = _run("--format", "json", "validate", "--config", str(config))
    assert r.exit_code == 1 and len(json.loads(r.stdout)["problems"]) == 3


def test_exit_codes(hospital: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"source: {hospital}\ntarget: sqlite:///{tmp_path / 'never.db'}\nscael: 2\n")
    # init: 0 ok, 1 unreadable source, 2 usage
    assert _run("init", hospital).exit_code == 0 and (tmp_path / "relsynth.yaml").exists()
    r = _run("init", missing, "-o", "x.yaml")
    assert r.exit_code == 1 and r.output.startswith("error: ") and not (tmp_path / "x.yaml").exists()
    assert _run("init", hospital, "--bogus").exit_code == 2
    # validate: 0 (default file ./relsynth.yaml), 1 problems, 2 invalid file or missing file
    assert _run("validate").exit_code == 0
    r = _run("validate", "--config", str(bad))
    assert r.exit_code == 2 and "unknown key 'scael' (did you mean 'scale'?)" in r.output
    assert _run("validate", "--config", "nope.yaml").exit_code == 2
    (tmp_path / "gone.yaml").write_text(f"source: {missing}\n")
    assert _run("validate", "--config", "gone.yaml").exit_code == 1
    # clone/fit/sample with --config: 2 for an invalid file, and nothing is written
    for args in (("clone", "--config", str(bad)), ("fit", "--config", str(bad), "-o", "m.rsm"),
                 ("--config", str(bad), "clone")):
        r = _run(*args)
        assert r.exit_code == 2 and "scael" in r.output
    assert not (tmp_path / "never.db").exists() and not (tmp_path / "m.rsm").exists()
    # clone with no target anywhere: usage error
    r = _run("clone", hospital)
    assert r.exit_code == 2 and "no target database URL: give DST, set RELSYNTH_TARGET" in r.output
    # failure: exit 1 (target exists and if_exists is fail)
    target = f"sqlite:///{tmp_path / 'out.db'}"
    assert _run("clone", hospital, target).exit_code == 0
    r = _run("clone", hospital, target)
    assert r.exit_code == 1 and "error:" in r.output
    assert _run("--log-level", "loud", "clone", hospital, target).exit_code == 2
    assert _run("--format", "xml", "inspect", hospital).exit_code == 2


def test_config_values_and_precedence(hospital: str, tmp_path: Path) -> None:
    target = tmp_path / "out.db"
    config = tmp_path / "c.yaml"
    config.write_text(f"source: {hospital}\ntarget: sqlite:///{target}\nscale: 2\nseed: 3\nif_exists: replace\n"
                      "tables:\n  departments:\n    columns:\n      beds: {value: 7}\n")
    r = _run("clone", "--config", str(config), "--format", "json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["rows_written"]["patients"] == 600 and result["violations"] == 0
    assert set(_frames(f"sqlite:///{target}")["departments"]["beds"]) == {7}
    # options given on the command line win over the file
    r = _run("--config", str(config), "--format", "json", "clone", "--scale", "1")
    assert r.exit_code == 0 and json.loads(r.output)["rows_written"]["patients"] == 300
    # the environment wins over the file, the command line over the environment
    other = tmp_path / "env.db"
    r = _run("clone", "--config", str(config), env={"RELSYNTH_TARGET": f"sqlite:///{other}"})
    assert r.exit_code == 0 and other.exists()
    third = tmp_path / "arg.db"
    r = _run("clone", "--config", str(config), hospital, f"sqlite:///{third}",
             env={"RELSYNTH_TARGET": f"sqlite:///{other}"})
    assert r.exit_code == 0 and third.exists()


def test_fit_and_sample_with_config_and_environment(hospital: str, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    target = tmp_path / "sampled.db"
    config.write_text(f"target: sqlite:///{target}\nscale: 0.5\nseed: 1\n"
                      "tables:\n  patients:\n    scale: 2\n    columns:\n      smoker: {value: true}\n")
    model = tmp_path / "m.rsm"
    r = _run("fit", "-o", str(model), "--config", str(config), env={"RELSYNTH_SOURCE": hospital})
    assert r.exit_code == 0 and model.exists(), r.output
    r = _run("--format", "json", "sample", str(model), "--config", str(config))
    assert r.exit_code == 0, r.output
    counts = json.loads(r.output)["rows_written"]
    assert counts["departments"] == 4 and counts["patients"] == 600
    assert _frames(f"sqlite:///{target}")["patients"]["smoker"].all()
    r = _run("sample", str(model), "--config", str(config))
    assert r.exit_code == 1 and "error:" in r.output  # the target has the tables now
    r = _run("sample", str(model))
    assert r.exit_code == 2 and "no target database URL: give --to" in r.output


def test_quiet_prints_nothing_on_success(hospital: str, tmp_path: Path) -> None:
    config = tmp_path / "relsynth.yaml"
    for args in (("init", hospital, "-o", str(config)),
                 ("validate", "--config", str(config)),
                 ("clone", hospital, f"sqlite:///{tmp_path / 'q.db'}"),
                 ("fit", hospital, "-o", str(tmp_path / "m.rsm")),
                 ("sample", str(tmp_path / "m.rsm"), "--to", f"sqlite:///{tmp_path / 's.db'}"),
                 ("inspect", hospital)):
        r = _run("--quiet", *args)
        assert r.exit_code == 0 and r.output == "", (args, r.output)
    r = _run("-q", "clone", hospital, f"sqlite:///{tmp_path / 'q.db'}")
    assert r.exit_code == 1 and r.output.startswith("error: ")  # errors still show
    r = _run("inspect", hospital)
    assert r.output != ""  # --quiet does not stick to the next run


def test_init_writes_the_selection_it_was_given(hospital: str, tmp_path: Path) -> None:
    config = tmp_path / "sub.yaml"
    r = _run("--format", "json", "init", hospital, "-o", str(config), "--include", "departments,patients")
    assert r.exit_code == 0 and json.loads(r.output)["tables"] == {"departments": 8, "patients": 300}
    loaded = load_config(config)
    assert loaded.include == ["departments", "patients"] and set(loaded.tables) == {"departments", "patients"}
    r = _run("clone", "--config", str(config), "--format", "json", env={"RELSYNTH_TARGET": f"sqlite:///{tmp_path / 'o.db'}"})
    assert r.exit_code == 0 and set(json.loads(r.output)["rows_written"]) == {"departments", "patients"}


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make the CLI's stderr console a terminal writing into the returned buffer."""
    import relsynth.cli as cli

    buffer = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=buffer, force_terminal=True, width=120))
    return buffer


def test_fit_and_sample_show_progress_on_a_terminal_and_end_with_a_summary(
        hospital: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, target = tmp_path / "m.rsm", f"sqlite:///{tmp_path / 's.db'}"
    r = _run("fit", hospital, "-o", str(model))
    assert r.exit_code == 0, r.output
    rows = sum(len(f) for f in _frames(hospital).values())
    assert re.search(rf"model of 4 tables saved to .*m\.rsm \({rows:,} source rows, fitted in \d+\.\d\ds\)", r.output)
    r = _run("sample", str(model), "--to", target, "--scale", "0.5", "--seed", "2")
    assert r.exit_code == 0, r.output
    # the summary: rows per table, violations per table, the verdict of the target, the time
    assert re.search(r"patients\s*│\s*150\s*│\s*0", r.output), r.output
    assert "integrity: 0 violations in the target (all keys and constraints hold)" in r.output
    assert re.search(r"time: sample and write \d+\.\d\ds, verify \d+\.\d\ds \(\d[\d,]* rows\)", r.output)
    assert "rows/s" not in r.output and "\x1b[" not in r.output  # no bars off a terminal
    # on a terminal: the stage and the table being fitted, then rows per table (done/expected, rate, ETA)
    screen = _terminal(monkeypatch)
    assert _run("fit", hospital, "-o", str(model)).exit_code == 0
    assert "fitting patients" in screen.getvalue() and "fitting lab_results" in screen.getvalue()
    screen = _terminal(monkeypatch)
    r = _run("sample", str(model), "--to", str(tmp_path / "files"), "--seed", "2")
    assert r.exit_code == 0, r.output
    bars = screen.getvalue()
    assert all(name in bars for name in ("departments", "patients", "lab_results", "treatments")), bars
    assert "300/300" in bars and "verifying the target" in bars  # patients: rows done of rows expected
    assert "integrity: 0 violations in the files" in r.output
    # --format json: the same facts, no bars
    screen = _terminal(monkeypatch)
    r = _run("--format", "json", "sample", str(model), "--to", f"sqlite:///{tmp_path / 'j.db'}", "--seed", "2")
    assert r.exit_code == 0 and screen.getvalue() == ""
    result = json.loads(r.output)
    assert result["violations"] == 0 and result["rows_written"]["patients"] == 300
    assert result["integrity"]["patients"]["rows"] == 300 and set(result["seconds"]) == {"write", "verify"}


def test_library_keys_from_the_config_on_every_command(hospital: str, tmp_path: Path) -> None:
    sdv = tmp_path / "sdv.json"
    assert _run("inspect", hospital, "--no-pii", "--sdv-metadata", str(sdv)).exit_code == 0
    out = tmp_path / "out"
    config = tmp_path / "c.yaml"
    config.write_text(f"source: {hospital}\ntarget: {out}\nseed: 5\nmetadata: {sdv}\nfile_format: parquet\n"
                      "include: [departments, patients]\nlocale: de_DE\nrare_category_threshold: 0\n"
                      "pii: {patients.insurance: text}\n"
                      "tables:\n  patients:\n    columns:\n      systolic_bp: {rule: 'systolic_bp >= age + 60'}\n")
    r = _run("--config", str(config), "--format", "json", "clone")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert set(result["rows_written"]) == {"departments", "patients"} and result["violations"] == 0
    assert result["pii"]["patients"]["insurance"]["kind"] == "text" and result["rare_categories"] == {}
    patients = pd.read_parquet(out / "patients.parquet")
    assert (patients.systolic_bp >= patients.age + 60).all()
    # the command line wins over the file
    r = _run("--config", str(config), "--format", "json", "clone", "--file-format", "csv", "--pii",
             "patients.insurance=none", "--if-exists", "replace")
    assert r.exit_code == 0, r.output
    assert (out / "patients.csv").is_file() and "insurance" not in json.loads(r.output)["pii"].get("patients", {})
    r = _run("--config", str(config), "--format", "json", "fit", "-o", str(tmp_path / "m.rsm"))
    assert r.exit_code == 0, r.output
    assert relsynth.load(tmp_path / "m.rsm").locale == "de_DE"
    # inspect and report take source, target, include, exclude and metadata from the file
    r = _run("--config", str(config), "--format", "json", "inspect", "--no-pii", "--no-integrity")
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)["tables"]) == {"departments", "patients"}
    r = _run("report", "--config", str(config), "--no-detection", "--format", "json")
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)["tables"]) == {"departments", "patients"}
    r = _run("report", "--no-detection")
    assert r.exit_code == 2 and "no real database URL: give REAL or write `source:`" in r.output
    r = _run("inspect")
    assert r.exit_code == 2 and "no source database URL" in r.output


def test_bad_rule_and_faker_fail_validate_and_clone(hospital: str, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"source: {hospital}\ntarget: sqlite:///{tmp_path / 'x.db'}\ntables:\n  patients:\n"
                      "    columns:\n      systolic_bp: {rule: 'systolic >= age'}\n      insurance: {faker: email}\n")
    r = _run("validate", "--config", str(config))
    assert r.exit_code == 1
    assert "rule 'systolic >= age' cannot be enforced: it refers to 'systolic'" in r.output
    assert "patients.insurance takes listed values only" in r.output
    r = _run("clone", "--config", str(config))
    assert r.exit_code == 2 and r.output.startswith("error: tables.patients.columns.systolic_bp.rule")
    assert not (tmp_path / "x.db").exists()
    config.write_text(f"source: {hospital}\ntables:\n  patients:\n    columns:\n      insurance: {{faker: emial}}\n")
    r = _run("validate", "--config", str(config))
    assert r.exit_code == 2 and "unknown kind 'emial' (did you mean 'email'?); kinds are: first_name" in r.output


def test_exit_codes_of_the_config_keys_on_fit_sample_inspect_report(hospital: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    model = tmp_path / "m.rsm"
    assert _run("fit", hospital, "-o", str(model)).exit_code == 0
    for text, message in (("file_format: xlsx\n", "file_format must be csv or parquet, got 'xlsx'"),
                          ("locale: [de]\n", "locale must be a Faker locale"),
                          ("metadat: x.json\n", "unknown key 'metadat' (did you mean 'metadata'?)")):
        bad.write_text(text)
        for args in (("fit", hospital, "-o", str(tmp_path / "n.rsm")), ("sample", str(model), "--to", str(tmp_path / "o")),
                     ("inspect", hospital), ("report", hospital, hospital)):
            r = _run("--config", str(bad), *args)
            assert r.exit_code == 2 and message in r.output, (args, r.output)
    assert not (tmp_path / "n.rsm").exists() and not (tmp_path / "o").exists()
    # a metadata file that is not there: a usage error before anything is read
    bad.write_text(f"source: {hospital}\nmetadata: {tmp_path / 'none.json'}\n")
    for args in (("fit", "-o", str(tmp_path / "n.rsm")), ("inspect",)):
        r = _run("--config", str(bad), *args)
        assert r.exit_code == 2 and r.output.startswith("error: metadata file") and "none.json" in r.output, r.output
    # failures (exit 1): a source that cannot be read, a target that has the tables
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    assert _run("inspect", missing).exit_code == 1
    assert _run("report", missing, hospital, "--no-detection").exit_code == 1
    target = f"sqlite:///{tmp_path / 't.db'}"
    assert _run("sample", str(model), "--to", target).exit_code == 0
    r = _run("sample", str(model), "--to", target)
    assert r.exit_code == 1 and "error:" in r.output


def test_names_that_look_like_emoji_codes_are_printed_as_they_are(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "emoji.db"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE ":fire:" (id INTEGER PRIMARY KEY, ":smile:" TEXT)')
        conn.executemany('INSERT INTO ":fire:" VALUES (?, ?)', [(i, f"v{i % 3}") for i in range(30)])
    r = _run("inspect", f"sqlite:///{path}")
    assert r.exit_code == 0, r.output
    assert ":fire:" in r.output and "\N{FIRE}" not in r.output
