"""Fitting on a bounded, FK-consistent sample (relsynth.subsample) and chunked, filtered reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import relsynth
from relsynth.data import write_hospital_sqlite
from relsynth.errors import ConfigError
from relsynth.models.relational import fit_model
from relsynth.schema import read_schema, read_tables
from relsynth.schema import reader
from relsynth.schema.reader import RowFilter
from relsynth.subsample import key_columns, key_hash, plan_sample
from relsynth.transform.keys import match_rows

from conftest import dataset

FIT_ROWS = 3000


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("subsample") / "hospital.db"
    write_hospital_sqlite(path, n_patients=5000, seed=0)
    return f"sqlite:///{path}"


def _sampled(url: str, fit_rows: int = FIT_ROWS):  # noqa: ANN202 - test helper
    schema = read_schema(url)
    cols = key_columns(schema)
    keys = read_tables(url, schema, tables=[n for n in schema.tables if cols[n]], columns=cols)
    sample = plan_sample(schema, keys, fit_rows)
    return schema, keys, sample


def test_sample_keeps_children_with_their_parents(hospital: str) -> None:
    schema, keys, sample = _sampled(hospital)
    assert sample is not None
    assert {"patients", "lab_results", "treatments"} <= set(sample.filters)
    assert "departments" not in sample.filters  # 8 rows: read whole
    frames = read_tables(hospital, schema, filters=sample.filters)
    for name, n in sample.kept.items():
        assert len(frames[name]) == pytest.approx(n, rel=0.01), name
        # A table over the budget keeps about the budget, children of a sampled parent too
        # (their share is one of the kept parents, not of every key: 4,897 of 3,000 before).
        assert n <= FIT_ROWS * 1.1 or n == sample.rows[name], name
    kept_patients = set(frames["patients"]["patient_id"])
    for child in ("lab_results", "treatments"):
        assert set(frames[child]["patient_id"].dropna()) <= kept_patients, child
        # Whole families: each kept patient with children has all of its children kept, or none.
        real = keys[child].groupby("patient_id").size()
        got = frames[child].groupby("patient_id").size()
        assert (real.loc[got.index] == got).all(), child


def test_children_of_a_sampled_parent_within_the_budget_are_all_kept() -> None:
    """Sakila's payments under the sampled rentals are within the budget: every one is kept
    (the threshold that keeps all once overflowed NumPy's uint64 and failed the clone)."""
    url = f"sqlite:///{dataset('sakila')}"
    schema, keys, sample = _sampled(url)
    frames = read_tables(url, schema, filters=sample.filters)
    rentals = set(frames["rental"]["rental_id"])
    under = keys["payment"]["rental_id"].isin(rentals)
    assert len(frames["payment"]) == int(under.sum()) > 0
    assert set(frames["payment"]["rental_id"]) <= rentals


def test_sampled_fit_generates_the_real_sizes_and_shapes(hospital: str) -> None:
    schema, keys, sample = _sampled(hospital)
    frames = read_tables(hospital, schema, filters=sample.filters)
    model = fit_model(schema, frames, sample=sample)
    assert any("fitted on a sample" in note for note in model.notes)
    synth = model.sample(seed=1)
    for name in schema.tables:
        assert len(synth[name]) == pytest.approx(sample.rows[name], rel=0.05), name
    for name, table in schema.tables.items():
        for fk in table.foreign_keys:
            rows = match_rows(synth[name], fk.columns, synth[fk.ref_table], fk.ref_columns)
            null = synth[name][fk.columns].isna().any(axis=1).to_numpy()
            assert (rows[~null] >= 0).all(), f"{name}.{fk.label}"
    # Children per patient follow all rows, not the sample: same mean within 5%.
    real_mean = keys["lab_results"].groupby("patient_id").size().reindex(keys["patients"]["patient_id"]).fillna(0).mean()
    synth_mean = synth["lab_results"].groupby("patient_id").size().reindex(synth["patients"]["patient_id"]).fillna(0).mean()
    assert synth_mean == pytest.approx(real_mean, rel=0.05)


def test_in_memory_sample_is_the_database_sample(hospital: str) -> None:
    schema, keys, sample = _sampled(hospital)
    # The children's data pass asks for the kept parents' keys only, not for every row.
    assert sample.filters["lab_results"].within is not None
    assert sample.filters["lab_results"].within[0] == "patient_id"
    from_db = read_tables(hospital, schema, filters=sample.filters)
    _, _, again = _sampled(hospital)
    in_memory = again.apply(read_tables(hospital, schema))
    for name, table in schema.tables.items():
        pk = table.primary_key
        assert sorted(map(tuple, from_db[name][pk].to_numpy().tolist())) == \
            sorted(map(tuple, in_memory[name][pk].to_numpy().tolist())), name


def test_small_sources_are_not_sampled(hospital: str) -> None:
    assert _sampled(hospital, fit_rows=10**9)[2] is None
    assert _sampled(hospital, fit_rows=0)[2] is None


def test_clone_with_fit_rows(hospital: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'out.db'}"
    result = relsynth.clone(hospital, target, seed=2, fit_rows=FIT_ROWS)
    assert result.violations == 0
    assert any("fitted on a sample" in note for note in result.notes)
    real = sqlite3.connect(hospital.removeprefix("sqlite:///"))
    for name, n in result.rows_source.items():
        assert n == real.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
        assert result.rows_written[name] == pytest.approx(n, rel=0.05), name
    assert result.fidelity["lab_results"].cardinality > 0.85
    assert result.fidelity["lab_results"].shape > 0.85
    with pytest.raises(ConfigError, match="fit_rows"):
        relsynth.clone(hospital, f"sqlite:///{tmp_path / 'neg.db'}", fit_rows=-1)


def test_key_hash_matches_like_match_rows() -> None:
    child = pd.DataFrame({"a": pd.array([1, 2, None], dtype="Int64"), "b": ["x", "y", "z"]})
    parent = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    h_child, h_parent = key_hash(child, ["a", "b"]), key_hash(parent, ["a", "b"])
    assert h_child[0] == h_parent[0] and h_child[1] == h_parent[1]
    assert h_child[2] != h_parent[2]
    assert len(set(key_hash(parent, ["a"]))) == 3


@pytest.mark.parametrize("chunk", [997, 4099])
def test_chunked_filtered_read_equals_whole_read_sqlite(hospital: str, chunk: int, sqlite_reader: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _chunked_read_equals_whole(hospital, chunk, monkeypatch)


@pytest.mark.postgres
def test_chunked_filtered_read_equals_whole_read_postgres(hospital: str, pg_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    schema = read_schema(hospital)
    relsynth.write(read_tables(hospital, schema), pg_url, schema)
    for chunk in (997,):
        _chunked_read_equals_whole(pg_url, chunk, monkeypatch)


def _chunked_read_equals_whole(url: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = read_schema(url)
    whole = read_tables(url, schema)
    monkeypatch.setattr(reader, "READ_CHUNK_ROWS", chunk)
    everything = {n: RowFilter(list(t.primary_key), lambda f: np.ones(len(f), dtype=bool))
                  for n, t in schema.tables.items()}
    chunked = read_tables(url, schema, filters=everything)
    for name in schema.tables:
        pd.testing.assert_frame_equal(chunked[name], whole[name], check_dtype=True, obj=name)
    odd = {"lab_results": RowFilter(["lab_id"], lambda f: (f["lab_id"] % 2 == 1).to_numpy(dtype=bool))}
    part = read_tables(url, schema, filters=odd)["lab_results"]
    expected = whole["lab_results"][whole["lab_results"]["lab_id"] % 2 == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected, obj="odd lab rows")
    # ``within`` narrows the query itself; the rule still decides.
    some = whole["lab_results"]["patient_id"].drop_duplicates().to_numpy()[:40]
    narrowed = {"lab_results": RowFilter(["lab_id"], odd["lab_results"].keep, within=("patient_id", some, False))}
    part = read_tables(url, schema, filters=narrowed)["lab_results"]
    labs = whole["lab_results"]
    expected = labs[labs["patient_id"].isin(some) & (labs["lab_id"] % 2 == 1)].reset_index(drop=True)
    assert len(expected) > 40
    pd.testing.assert_frame_equal(part.sort_values("lab_id").reset_index(drop=True),
                                  expected.sort_values("lab_id").reset_index(drop=True), obj="narrowed lab rows")
