"""Benchmark: SDV's HMASynthesizer vs relsynth, side by side, scored by SDV's own quality report.

For each input it fits and samples both synthesizers (scale 1.0, timed), scores both with
``sdv.evaluation.evaluate_quality`` on the same SDV metadata (overall score and the Column
Shapes, Column Pair Trends, Cardinality and Intertable Trends properties), and, when the library
has it, with ``relsynth.evaluate``. Figures, not assertions.

Inputs:

* ``demo``: the bundled hospital database (``relsynth demo``'s default 5,000 patients;
  1,000 with ``--quick``): departments -> patients -> lab_results / treatments.
* ``chinook``, ``sakila``, ``northwind``, ``adventureworkslt``: subsets of the sample
  databases under ``shared/datasets`` that HMA accepts (at most 5 tables, one level of
  parent -> child; foreign keys pointing outside the subset become plain columns).
* ``chinook-full``, ...: the whole sample database, only to record whether HMA refuses it
  (and, were it accepted, how it fares within ``--full-timeout``). SDV's first reason is
  recorded with self-references kept, then the next one without them.

HMA runs in a forked subprocess under ``--timeout`` seconds (``--full-timeout`` for the full
databases; recorded as "timeout"); ``--reuse-hma`` takes HMA's output from the cache of an earlier
run instead, to re-score relsynth after a change without waiting for HMA again. SDV 2.x
refuses schemas of more than 5 tables or a relationship depth above 2 (SDV counts tables, so
the demo's departments -> patients -> lab_results is depth 3). For ``demo`` and the subsets the
refusal is recorded and HMA is then run with that check switched off (the algorithm itself is
unchanged: SDV 1.x ran it on such schemas); the row says so (``hma.check_bypassed``, and a
``*`` after HMA's time).
``--no-bypass`` keeps the refusal.

Needs SDV, which pins pandas < 3; run it in its own environment::

    python3 -m venv /work/sdvenv
    /work/sdvenv/bin/pip install torch==2.13.0   # the CPU wheel on disk first, or sdv pulls the CUDA build
    /work/sdvenv/bin/pip install -e ".[sdv,test]"
    /work/sdvenv/bin/python benchmarks/sdv_compare.py [--inputs demo,chinook,...] [--quick]
        [--timeout 1200] [--full-timeout 300] [--reuse-hma] [--out benchmarks/results/sdv_compare.json]

Scores are SDV's: its report counts a column pair (within a table, or parent-child for
Intertable Trends) only where the real data's |correlation| > 0.5 or Cramer's V > 0.3
(sdmetrics 0.32 / SDV 2.0 defaults), so a property is None where no pair qualifies. Columns SDV
detects as categorical text but whose every value is distinct (names, numbers, GUIDs) are marked
``unknown``, as SDV recommends for free text; key columns are ``id`` and not scored.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import importlib.util
import json
import multiprocessing as mp
import os
import pickle
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import relsynth
from relsynth.data import build_hospital, hospital_schema
from relsynth.schema import coerce_frame, read_schema, read_tables
from relsynth.schema.model import Schema, Table

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "sdv_compare.json"
DEMO_PATIENTS = 5000  # `relsynth demo` default (relsynth/cli/__init__.py)
QUICK_PATIENTS = 1000
PROPERTIES = ["Column Shapes", "Column Pair Trends", "Cardinality", "Intertable Trends"]
# Pairs whose scores are reported on their own for the demo.
DEMO_PAIRS = [("lab_results", "test", "value"), ("treatments", "drug", "dose_mg")]

# Subsets HMA accepts: at most 5 tables and one level of parent -> child (SDV's "depth 2").
SUBSETS: dict[str, list[str]] = {
    # Album, Genre, MediaType -> Track (Album.ArtistId becomes a plain column).
    "chinook": ["Album", "Genre", "MediaType", "Track"],
    # film, actor, category -> film_actor / film_category: two junction tables with
    # composite primary keys (SDV has none; relsynth keeps them).
    "sakila": ["film", "actor", "category", "film_actor", "film_category"],
    # orders, products -> order_details (composite PK); orders' customer/employee/shipper and
    # products' supplier/category keys become plain columns.
    "northwind": ["orders", "products", "order_details"],
    # SalesOrderHeader, Product -> SalesOrderDetail (composite PK); the header's customer and
    # address keys and the product's model/category keys become plain columns.
    "adventureworkslt": ["SalesOrderHeader", "Product", "SalesOrderDetail"],
}
ALL_INPUTS = ["demo", *SUBSETS, *(f"{n}-full" for n in SUBSETS)]
# What identifies one row of each property's details in SDV's quality report.
DETAIL_KEYS: dict[str, tuple[str, ...]] = {
    "Column Shapes": ("Table", "Column"),
    "Column Pair Trends": ("Table", "Column 1", "Column 2"),
    "Cardinality": ("Child Table", "Parent Table", "Foreign Key"),
    "Intertable Trends": ("Parent Table", "Child Table", "Foreign Key", "Column 1", "Column 2"),
}


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------


@dataclass
class Input:
    name: str
    kind: str  # demo | subset | full
    schema: Schema
    frames: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)


def _drop_columns(table: Table, drop: set[str]) -> Table:
    t = copy.deepcopy(table)
    t.columns = [c for c in t.columns if c.name not in drop]
    t.unique = [u for u in t.unique if not set(u.columns) & drop]
    t.checks = [c for c in t.checks if not any(d in c.sqltext for d in drop)]
    t.foreign_keys = [fk for fk in t.foreign_keys if not set(fk.columns) & drop]
    return t


def restrict(schema: Schema, tables: list[str], notes: list[str]) -> Schema:
    """The schema of ``tables`` only; FKs pointing outside become plain columns; BLOBs dropped."""
    out: dict[str, Table] = {}
    for name in schema.tables:
        if name not in tables:
            continue
        t = copy.deepcopy(schema.tables[name])
        kept = []
        for fk in t.foreign_keys:
            if fk.ref_table in tables and fk.ref_table != name:
                kept.append(fk)
            else:
                why = "self-reference" if fk.ref_table == name else "parent outside the subset"
                notes.append(f"{name}: FK {fk.label} dropped ({why}); its columns stay as plain columns")
        t.foreign_keys = kept
        out[name] = t
    return Schema(out, dialect=schema.dialect)


def drop_binary(schema: Schema, notes: list[str]) -> Schema:
    tables = {}
    for name, t in schema.tables.items():
        drop = {c.name for c in t.columns if c.kind == "binary"}
        if drop:
            notes.append(f"{name}: binary column(s) {sorted(drop)} left out (SDV has no sdtype for bytes)")
        tables[name] = _drop_columns(t, drop) if drop else t
    return Schema(tables, dialect=schema.dialect)


def load_input(name: str, quick: bool) -> Input:
    notes: list[str] = []
    if name == "demo":
        n = QUICK_PATIENTS if quick else DEMO_PATIENTS
        notes.append(f"hospital demo, {n} patients, seed 0")
        return Input(name, "demo", hospital_schema(), build_hospital(n_patients=n, seed=0), notes)
    db = name.removesuffix("-full")
    path = DATASETS / db / f"{db}.sqlite"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (shared/datasets must sit beside the repository)")
    url = f"sqlite:///{path}"
    full = read_schema(url)
    if name.endswith("-full"):
        schema = drop_binary(full, notes)
        kind = "full"
    else:
        schema = drop_binary(restrict(full, SUBSETS[db], notes), notes)
        kind = "subset"
    frames = read_tables(url, schema)
    return Input(name, kind, schema, frames, notes)


# ------------------------------------------------------------------------------------------
# relsynth frames / schema -> SDV frames / metadata
# ------------------------------------------------------------------------------------------


def sdv_frame(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """One table in the dtypes SDV expects (no pandas nullable dtypes, datetime64[ns])."""
    out = {}
    for col in table.columns:
        s = df[col.name]
        if col.kind == "integer":
            s = s.astype("float64") if s.isna().any() else s.astype("int64")
        elif col.kind in ("float", "decimal"):
            s = s.astype("float64")
        elif col.kind == "boolean":
            s = s.astype(object).where(s.notna(), np.nan) if s.isna().any() else s.astype(bool)
        elif col.kind in ("date", "datetime"):
            s = pd.to_datetime(s).astype("datetime64[ns]")
        else:  # string, uuid, json, time: text, NaN for NULL
            s = s.astype(object).where(s.notna(), np.nan)
            if col.kind == "time":
                s = s.map(lambda v: str(v) if isinstance(v, dt.time) else v)
        out[col.name] = s.reset_index(drop=True)
    return pd.DataFrame(out)


def sdv_frames(frames: dict[str, pd.DataFrame], schema: Schema) -> dict[str, pd.DataFrame]:
    return {n: sdv_frame(frames[n], t) for n, t in schema.tables.items()}


def _relationships(schema: Schema, notes: list[str] | None, keep_self: bool) -> list[dict[str, str]]:
    rels = []
    for name, t in schema.tables.items():
        for fk in t.foreign_keys:
            parent = schema.tables[fk.ref_table]
            if len(fk.columns) != 1:
                if notes is not None:
                    notes.append(f"{name}: composite FK {fk.label} not expressible in SDV; left out")
                continue
            if list(fk.ref_columns) != list(parent.primary_key):
                if notes is not None:
                    notes.append(f"{name}: FK {fk.label} references a non-PK column; left out of SDV metadata")
                continue
            if fk.ref_table == name and not keep_self:
                continue
            rels.append({"parent_table_name": fk.ref_table, "child_table_name": name,
                         "parent_primary_key": fk.ref_columns[0], "child_foreign_key": fk.columns[0]})
    return rels


def _fallback_sdtype(kind: str, s: pd.Series, spec: str) -> dict[str, Any]:
    if kind in ("integer", "float", "decimal"):
        if kind != "integer":
            return {"sdtype": "numerical"}
        # SDV 2 (metadata spec V2) rounds by decimal_places; SDV 1 by computer_representation.
        return {"sdtype": "numerical", **({"decimal_places": 0} if spec == "V2" else {"computer_representation": "Int64"})}
    if kind in ("date", "datetime"):
        return {"sdtype": "datetime"}
    if kind == "boolean":
        return {"sdtype": "boolean"}
    n = s.nunique(dropna=True)
    return {"sdtype": "categorical"} if n <= max(10, 0.5 * s.notna().sum()) else {"sdtype": "unknown"}


def sdv_metadata(schema: Schema, data: dict[str, pd.DataFrame], notes: list[str] | None = None,
                 keep_self: bool = False):
    """SDV ``Metadata`` for ``schema``: SDV's own detection for sdtypes, relsynth's keys.

    ``detect_from_dataframes`` chooses each column's sdtype (categorical vs unknown vs PII for
    text, ranges, decimal places); its guessed keys and relationships are replaced by the
    schema's: every single-column PK and FK column is an ``id``, each single-column FK to a
    PK is a relationship. Composite primary keys are not supported by SDV Community: the table
    gets no primary key (its columns stay in the data). A non-key column SDV detects as ``id``
    (because of its name) becomes numerical/categorical by its relsynth kind, so it is modelled
    and scored as the data it is.
    """
    from sdv.metadata import Metadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detected = Metadata.detect_from_dataframes(data, infer_keys=None).to_dict()
    spec = detected.get("METADATA_SPEC_VERSION", "V1")
    rels = _relationships(schema, notes, keep_self)
    fk_cols = {(r["child_table_name"], r["child_foreign_key"]) for r in rels}
    tables: dict[str, Any] = {}
    for name, t in schema.tables.items():
        det_cols = detected["tables"][name]["columns"]
        pk = t.primary_key[0] if len(t.primary_key) == 1 else None
        if len(t.primary_key) > 1 and notes is not None:
            notes.append(f"{name}: composite PK {t.primary_key} not supported by SDV Community; no PK in SDV metadata")
        cols: dict[str, Any] = {}
        unique_cols = {u.columns[0] for u in t.unique if len(u.columns) == 1}
        for c in t.columns:
            if c.name in t.primary_key or (name, c.name) in fk_cols:
                # Key columns (a composite PK's too): identifiers, not modelled or scored as data.
                cols[c.name] = {"sdtype": "id"}
                continue
            det = det_cols.get(c.name, {"sdtype": "unknown"})
            sdtype = det.get("sdtype")
            text = c.kind in ("string", "uuid", "json", "time")
            s = data[name][c.name]
            if text and sdtype == "categorical" and (
                c.name in unique_cols or c.kind == "uuid" or (s.notna().sum() > 1 and s.is_unique)
            ):
                # Free text / alternate keys whose every value is distinct: SDV recommends
                # 'unknown' (or an id/PII sdtype), not categorical; small tables get detected
                # as categorical only because they are small.
                det = {"sdtype": "unknown"}
            elif sdtype == "id" or (text and sdtype in ("numerical", "datetime", "boolean")) or (
                not text and sdtype in ("unknown",)
            ):
                det = _fallback_sdtype(c.kind, s, spec)
            cols[c.name] = det
        entry: dict[str, Any] = {"columns": cols}
        if pk:
            entry["primary_key"] = pk
        tables[name] = entry
    md = {"METADATA_SPEC_VERSION": spec, "tables": tables,
          "relationships": rels}
    return Metadata.load_from_dict(md)


# ------------------------------------------------------------------------------------------
# HMA in a subprocess, under a time limit
# ------------------------------------------------------------------------------------------


def _bypass_complexity_check() -> None:
    from sdv.multi_table import HMASynthesizer

    HMASynthesizer._validate_schema_complexity = lambda self: None  # type: ignore[method-assign]


def hma_refusal(metadata) -> str | None:
    """SDV's own refusal of this metadata (validation, schema complexity, composite keys)."""
    from sdv.multi_table import HMASynthesizer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            HMASynthesizer(metadata, verbose=False)
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _hma_child(metadata, data, bypass: bool, out_path: str) -> None:
    result: dict[str, Any] = {"status": "error"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            np.random.seed(0)
            from sdv.multi_table import HMASynthesizer

            if bypass:
                _bypass_complexity_check()
            t0 = time.perf_counter()
            synth = HMASynthesizer(metadata, verbose=False)
            synth.fit(data)
            result["fit_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if hasattr(synth, "sample_scale"):  # SDV 2.x
                sample = synth.sample_scale(scale=1.0)
            else:  # SDV 1.x
                sample = synth.sample(scale=1.0)
            result["sample_s"] = time.perf_counter() - t0
            result["synthetic"] = sample
            result["status"] = "ok"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["traceback"] = traceback.format_exc()
    msgs = []
    for w in caught:
        m = f"{w.category.__name__}: {str(w.message).strip()}"[:300]
        if m not in msgs:
            msgs.append(m)
    result["warnings"] = msgs[:20]
    with open(out_path, "wb") as fh:
        pickle.dump(result, fh)


def run_hma(metadata, data: dict[str, pd.DataFrame], bypass: bool, timeout: float) -> dict[str, Any]:
    fd, out_path = tempfile.mkstemp(prefix="sdv-compare-", suffix=".pkl")
    os.close(fd)
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_hma_child, args=(metadata, data, bypass, out_path))
    t0 = time.perf_counter()
    proc.start()
    proc.join(timeout)
    wall = time.perf_counter() - t0
    try:
        if proc.is_alive():
            proc.terminate()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            return {"status": "timeout", "error": f"did not finish within {timeout:.0f} s", "wall_s": wall}
        try:
            with open(out_path, "rb") as fh:
                result = pickle.load(fh)
        except (EOFError, pickle.UnpicklingError, FileNotFoundError):
            result = {"status": "error", "error": f"HMA subprocess died (exit code {proc.exitcode})"}
        result["wall_s"] = wall
        return result
    finally:
        Path(out_path).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------
# relsynth, in-process
# ------------------------------------------------------------------------------------------


def run_relsynth(inp: Input, seed: int) -> dict[str, Any]:
    try:
        t0 = time.perf_counter()
        model = relsynth.fit(inp.frames, schema=inp.schema, seed=0)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        synthetic = model.sample(scale=1.0, seed=seed)
        sample_s = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - a relsynth failure is a finding, recorded
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return {"status": "ok", "fit_s": fit_s, "sample_s": sample_s, "synthetic": synthetic,
            "notes": list(getattr(model, "notes", []))}


# ------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------


def _evaluate_quality():
    try:
        from sdv.evaluation import evaluate_quality  # SDV 2.x
    except ImportError:  # SDV 1.x
        from sdv.evaluation.multi_table import evaluate_quality
    return evaluate_quality


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    df = df.replace({np.nan: None})
    return [{k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def sdv_score(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame], metadata) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = _evaluate_quality()(real, synth, metadata, verbose=False)
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    props = report.get_properties()
    out: dict[str, Any] = {"score": float(report.get_score()),
                           "properties": {r["Property"]: (None if pd.isna(r["Score"]) else float(r["Score"]))
                                          for _, r in props.iterrows()}}
    details = {}
    for prop in PROPERTIES:
        try:
            details[prop] = _records(report.get_details(prop))
        except Exception as exc:  # noqa: BLE001
            details[prop] = f"{type(exc).__name__}: {exc}"
    out["details"] = details
    return out


def pair_score(score: dict[str, Any], table: str, a: str, b: str) -> float | None:
    rows = score.get("details", {}).get("Column Pair Trends")
    if not isinstance(rows, list):
        return None
    for r in rows:
        if r.get("Table") == table and {r.get("Column 1"), r.get("Column 2")} == {a, b}:
            return r.get("Score")
    return None


def relsynth_frames(synth: dict[str, pd.DataFrame], schema: Schema) -> dict[str, pd.DataFrame]:
    """HMA output back in relsynth's frame convention (for relsynth.evaluate)."""
    out = {}
    for name, t in schema.tables.items():
        df = synth[name]
        out[name] = coerce_frame(df[[c.name for c in t.columns if c.name in df.columns]], t)
    return out


def relsynth_evaluate(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame], schema: Schema) -> dict[str, Any] | None:
    # relsynth.evaluate is the subpackage (a module) until the function lands: check callable.
    fn = getattr(relsynth, "evaluate", None)
    if not callable(fn):
        return None
    try:
        report = fn(real, synth, schema=schema)
        d = report.to_dict() if hasattr(report, "to_dict") else dict(report)
        return {"summary": d.get("summary", d)}
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def weaknesses(hma: dict[str, Any], rs: dict[str, Any], margin: float = 0.05) -> dict[str, list[dict[str, Any]]]:
    """Columns and pairs where relsynth scores more than ``margin`` below HMA."""
    out: dict[str, list[dict[str, Any]]] = {}
    for prop, keys in DETAIL_KEYS.items():
        h, r = hma.get("details", {}).get(prop), rs.get("details", {}).get(prop)
        if not isinstance(h, list) or not isinstance(r, list):
            continue
        hs = {tuple(x.get(k) for k in keys): x.get("Score") for x in h}
        worse = []
        for x in r:
            key = tuple(x.get(k) for k in keys)
            hv, rv = hs.get(key), x.get("Score")
            if hv is not None and rv is not None and rv < hv - margin:
                worse.append({"key": list(key), "hma": round(hv, 4), "relsynth": round(rv, 4)})
        out[prop] = sorted(worse, key=lambda w: w["relsynth"] - w["hma"])
    return out


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------


def benchmark(name: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{name}] loading", file=sys.stderr, flush=True)
    row: dict[str, Any] = {"input": name}
    try:
        inp = load_input(name, args.quick)
    except Exception as exc:  # noqa: BLE001
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row.update(kind=inp.kind, tables=len(inp.schema.tables), rows=sum(len(f) for f in inp.frames.values()),
               table_names=list(inp.schema.tables), notes=inp.notes)
    real_sdv = sdv_frames(inp.frames, inp.schema)

    # HMA: SDV's own verdict on the metadata, then a timed run.
    hma: dict[str, Any] = {}
    try:
        metadata = sdv_metadata(inp.schema, real_sdv, notes=inp.notes)
    except Exception as exc:  # noqa: BLE001
        metadata = None
        hma["refused"] = f"metadata: {type(exc).__name__}: {exc}"
    if inp.kind == "full":
        # Every relationship SDV can express, self-references included, so a refusal is SDV's;
        # then without self-references, to see the next reason SDV gives.
        reasons = []
        for keep_self in (True, False):
            try:
                reason = hma_refusal(sdv_metadata(inp.schema, real_sdv, keep_self=keep_self))
            except Exception as exc:  # noqa: BLE001
                reason = f"metadata: {type(exc).__name__}: {exc}"
            if reason and reason not in reasons:
                reasons.append(reason)
        hma["refused"] = reasons[0] if reasons else None
        hma["refusals"] = reasons
    elif metadata is not None:
        hma["refused"] = hma_refusal(metadata)
    too_complex = "not designed to handle a schema" in (hma.get("refused") or "")
    run = metadata is not None and (not hma.get("refused") or (too_complex and inp.kind != "full" and not args.no_bypass))
    hma["check_bypassed"] = bool(run and hma.get("refused"))
    if run:
        timeout = args.full_timeout if inp.kind == "full" else args.timeout
        import hashlib

        import sdv

        md_hash = hashlib.sha1(json.dumps(metadata.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:10]
        cache = args.hma_cache / f"{name}-{row['rows']}rows-sdv{sdv.__version__}-{md_hash}.pkl"
        res = None
        if args.reuse_hma and cache.exists():
            with open(cache, "rb") as fh:
                res = pickle.load(fh)
            hma["from_cache"] = str(cache)
            print(f"[{name}] HMA result reused from {cache}", file=sys.stderr, flush=True)
        if res is None:
            print(f"[{name}] HMA fit+sample (timeout {timeout:.0f} s"
                  f"{', complexity check bypassed' if hma['check_bypassed'] else ''})", file=sys.stderr, flush=True)
            res = run_hma(metadata, real_sdv, hma["check_bypassed"], timeout)
            if res.get("status") == "ok":
                cache.parent.mkdir(parents=True, exist_ok=True)
                with open(cache, "wb") as fh:
                    pickle.dump(res, fh)
        hma.update({k: v for k, v in res.items() if k != "synthetic"})
        hma_synth = res.get("synthetic")
    else:
        hma["status"] = "refused" if hma.get("refused") else "skipped"
        hma_synth = None
    if hma.get("status") == "ok":
        hma["seconds"] = hma["fit_s"] + hma["sample_s"]

    print(f"[{name}] relsynth fit+sample", file=sys.stderr, flush=True)
    rs = run_relsynth(inp, args.seed)
    rs_synth = rs.pop("synthetic", None)
    if rs.get("status") == "ok":
        rs["seconds"] = rs["fit_s"] + rs["sample_s"]

    if metadata is not None:
        print(f"[{name}] scoring", file=sys.stderr, flush=True)
        if hma_synth is not None:
            hma["sdv"] = sdv_score(real_sdv, {n: hma_synth[n] for n in inp.schema.tables}, metadata)
        if rs_synth is not None:
            try:
                rs["sdv"] = sdv_score(real_sdv, sdv_frames(rs_synth, inp.schema), metadata)
            except Exception as exc:  # noqa: BLE001
                rs["sdv"] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    if rs_synth is not None:
        ev = relsynth_evaluate(inp.frames, rs_synth, inp.schema)
        if ev is not None:
            rs["relsynth_evaluate"] = ev
    if hma_synth is not None:
        try:
            ev = relsynth_evaluate(inp.frames, relsynth_frames(hma_synth, inp.schema), inp.schema)
        except Exception as exc:  # noqa: BLE001
            ev = {"error": f"{type(exc).__name__}: {exc}"}
        if ev is not None:
            hma["relsynth_evaluate"] = ev

    if inp.kind == "demo":
        row["demo_pairs"] = {
            f"{t}.{a}<->{b}": {"hma": pair_score(hma.get("sdv", {}), t, a, b),
                               "relsynth": pair_score(rs.get("sdv", {}), t, a, b)}
            for t, a, b in DEMO_PAIRS
        }
    if "score" in hma.get("sdv", {}) and "score" in rs.get("sdv", {}):
        row["relsynth_below_hma"] = weaknesses(hma["sdv"], rs["sdv"])
    if hma.get("seconds") and rs.get("seconds"):
        row["speedup"] = hma["seconds"] / rs["seconds"]
    row["hma"], row["relsynth"] = hma, rs
    return row


def _f(v: Any, fmt: str = "{:.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def _one_line(msg: str) -> str:
    """SDV's multi-line refusal on one line, without its advertisement."""
    msg = msg.split("Please use SDV Enterprise")[0]
    return " ".join(line.strip() for line in msg.splitlines() if line.strip())[:400]


def print_table(rows: list[dict[str, Any]]) -> None:
    short = {"Column Shapes": "shapes", "Column Pair Trends": "pairs", "Cardinality": "card",
             "Intertable Trends": "inter"}
    head = ["input", "tables", "rows", "HMA s", "relsynth s", "speedup", "SDV HMA", "SDV rs"]
    head += [f"{short[p]} H/rs" for p in PROPERTIES]
    lines = [head]
    for r in rows:
        hma, rs = r.get("hma", {}), r.get("relsynth", {})
        hs, rss = hma.get("sdv", {}), rs.get("sdv", {})
        if hma.get("status") == "ok":
            h_time = _f(hma.get("seconds"), "{:.1f}") + ("*" if hma.get("check_bypassed") else "")
        else:
            h_time = hma.get("status", "-")
        line = [r["input"], str(r.get("tables", "-")), str(r.get("rows", "-")), h_time,
                _f(rs.get("seconds"), "{:.2f}") if rs.get("status") == "ok" else rs.get("status", "-"),
                _f(r.get("speedup"), "{:.0f}x"), _f(hs.get("score")), _f(rss.get("score"))]
        for p in PROPERTIES:
            line.append(f"{_f(hs.get('properties', {}).get(p), '{:.2f}')}/{_f(rss.get('properties', {}).get(p), '{:.2f}')}")
        lines.append(line)
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("(* HMA ran with SDV's >5-tables/depth>2 check switched off; SDV itself refuses the schema)")
    print("(SDV's report counts a column pair only where the real data's |correlation| > 0.5 or Cramer's V > 0.3;"
          " '-' = no pair qualifies)")

    for r in rows:
        for refused in r.get("hma", {}).get("refusals") or [r.get("hma", {}).get("refused")]:
            if refused:
                print(f"\n{r['input']}: HMA refuses: {_one_line(refused)}", end="")
        print()
        for who in ("hma", "relsynth"):
            x = r.get(who, {})
            if x.get("status") in ("error", "timeout"):
                print(f"{r['input']}: {who} {x['status']}: {str(x.get('error', ''))[:300]}")
            ev = x.get("relsynth_evaluate")
            if ev:
                print(f"{r['input']}: relsynth.evaluate({who}) summary: {json.dumps(ev.get('summary', ev.get('error')))[:400]}")
        if r.get("demo_pairs"):
            for k, v in r["demo_pairs"].items():
                print(f"{r['input']}: pair {k}: HMA {_f(v['hma'])}, relsynth {_f(v['relsynth'])}")
        for prop, worse in (r.get("relsynth_below_hma") or {}).items():
            for w in worse[:8]:
                print(f"{r['input']}: relsynth below HMA on {prop} {'.'.join(map(str, w['key']))}: "
                      f"HMA {w['hma']:.3f}, relsynth {w['relsynth']:.3f}")


def _versions() -> dict[str, str]:
    import platform

    v = {"python": platform.python_version(), "pandas": pd.__version__, "numpy": np.__version__,
         "relsynth": relsynth.__version__, "relsynth_path": str(Path(relsynth.__file__).parent)}
    import subprocess

    try:  # which relsynth source ran: the commit and whether its files differ from it
        src = Path(relsynth.__file__).resolve().parent.parent
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], check=False, capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "relsynth"],
                               check=False, capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            v["relsynth_git"] = head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import sdmetrics
        import sdv

        v.update(sdv=sdv.__version__, sdmetrics=sdmetrics.__version__)
    except ImportError:
        pass
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", default=",".join(ALL_INPUTS),
                    help=f"comma-separated, from: {', '.join(ALL_INPUTS)} (default: all)")
    ap.add_argument("--quick", action="store_true", help=f"demo with {QUICK_PATIENTS} patients instead of {DEMO_PATIENTS}")
    ap.add_argument("--timeout", type=float, default=1200.0,
                    help="seconds allowed per HMA fit+sample on demo/subsets (default 1200; HMA took ~830 s "
                         "on the 5,000-patient demo on a 2-core machine)")
    ap.add_argument("--full-timeout", type=float, default=300.0,
                    help="seconds allowed per HMA run on a full sample database SDV does not refuse (default 300)")
    ap.add_argument("--reuse-hma", action="store_true",
                    help="reuse HMA's synthetic data from --hma-cache when present (same input, rows, SDV "
                         "version): re-scores relsynth in a minute instead of waiting for HMA again")
    ap.add_argument("--hma-cache", type=Path, default=DEFAULT_OUT.parent / "hma_cache",
                    help="where HMA results are cached (default benchmarks/results/hma_cache, git-ignored)")
    ap.add_argument("--seed", type=int, default=1, help="relsynth sampling seed (default 1)")
    ap.add_argument("--no-bypass", action="store_true",
                    help="do not run HMA on a demo/subset schema SDV refuses as too complex")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT.relative_to(ROOT)})")
    args = ap.parse_args()
    if importlib.util.find_spec("sdv") is None:
        sys.exit("SDV is not installed: pip install 'relsynth[sdv]' (in a pandas<3 environment)")
    names = [n.strip() for n in args.inputs.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_INPUTS]
    if unknown:
        sys.exit(f"unknown input(s) {unknown}; choose from {', '.join(ALL_INPUTS)}")

    rows = []
    for name in names:
        rows.append(benchmark(name, args))
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"versions": _versions(), "timeout_s": args.timeout, "full_timeout_s": args.full_timeout,
               "quick": args.quick, "seed": args.seed, "results": rows}
    args.out.write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nresults written to {args.out}")


if __name__ == "__main__":
    main()
