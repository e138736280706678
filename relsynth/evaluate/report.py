"""The fidelity report: how close a synthetic database is to the real one, table by table and
across tables.

:func:`evaluate` reads both sides (database URLs/engines or ``dict[str, DataFrame]``), checks the
synthetic side's integrity, and computes every metric family of :mod:`relsynth.evaluate.metrics`
plus the classifier checks of :mod:`relsynth.evaluate.detection`. :class:`Report` holds the
result as plain data: ``to_dict()``/``to_json()`` carry every figure, ``to_html()`` renders an
offline page with plots, ``save(path)`` picks the format by suffix.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from relsynth.errors import ConfigError, SourceError, did_you_mean
from relsynth.evaluate.detection import detection_auc, family_detection_auc, ml_efficacy, sklearn_available
from relsynth.evaluate.integrity import frame_integrity, violations
from relsynth.evaluate.privacy import privacy_section
from relsynth.evaluate.metrics import (
    aggregate_trends,
    association_matrix,
    cardinality,
    children_per_parent,
    column_plot,
    column_shape,
    comparable_columns,
    learned_kinds,
    pair_trends,
    parent_child_trends,
)
from relsynth.schema import coerce_frame, connect, read_schema, read_tables, schema_from_dataframes
from relsynth.schema.model import Schema
from relsynth.urls import db_error_line, mask_url

if TYPE_CHECKING:
    from relsynth.schema.dataframes import RelationalData

    #: What either side of a report may be: a URL, engine, directory, frames or RelationalData.
    Data = str | Path | sa.Engine | dict[str, pd.DataFrame] | RelationalData

__all__ = ["Report", "evaluate"]

log = logging.getLogger("relsynth")


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.mean(vals)), 4) if vals else None


@dataclass
class Report:
    """Every figure of a real-vs-synthetic comparison (see :meth:`to_dict` for the layout).

    Attributes:
        real: Label of the real data (a masked URL or ``"frames"``).
        synthetic: Label of the synthetic data.
        summary: Headline scores: ``integrity``, ``integrity_violations``, ``column_shapes``,
            ``column_pair_trends``, ``cardinality``, ``parent_child_trends``, ``overall`` (the
            mean of the four before), ``detection_auc``, ``detection_auc_relational``,
            ``ml_efficacy``. Scores are in [0, 1] with 1 = identical; AUCs are best at 0.5.
        integrity: One row per constraint checked on the synthetic data.
        tables: Per table: row counts, per-column shape scores and plots, column pairs,
            association matrices, detection.
        relationships: Per foreign key: cardinality, parent–child and aggregate trends, detection
            on parent rows with child aggregates.
        ml_efficacy: Train-on-synthetic vs train-on-real figures, when a target was given.
        notes: What was left out, and why.
        privacy: Distances to closest records, the closer-to-train share (with a holdout),
            exact copies and personal-data columns, per table and in ``summary``
            (:func:`relsynth.evaluate.privacy.privacy_section`); None when not computed.
    """

    real: str
    synthetic: str
    summary: dict[str, Any]
    integrity: list[dict[str, Any]]
    tables: dict[str, dict[str, Any]]
    relationships: list[dict[str, Any]]
    ml_efficacy: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    privacy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every score, table and figure's data as plain JSON-able values (what ``report.json`` holds)."""
        from relsynth import __version__

        return {"relsynth_version": __version__, "real": self.real, "synthetic": self.synthetic,
                "summary": self.summary, "integrity": self.integrity, "tables": self.tables,
                "relationships": self.relationships, "ml_efficacy": self.ml_efficacy, "privacy": self.privacy,
                "notes": self.notes}

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=_plain)

    def to_html(self) -> str:
        """The report as one self-contained HTML page with its plots (readable offline)."""
        from relsynth.evaluate.html import render_html

        return render_html(json.loads(self.to_json(indent=None)))

    def save(self, path: str | Path) -> Path:
        """Write the report as HTML (``.html``/``.htm``) or JSON (any other suffix)."""
        path = Path(path)
        text = self.to_html() if path.suffix.lower() in (".html", ".htm") else self.to_json()
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write the report to {path}: {exc.strerror}; choose a writable path") from None
        return path


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON-able: {type(v).__name__}")


def _read(data: Data, schema: Schema | None, side: str) -> tuple[Schema, dict[str, pd.DataFrame], str]:
    """Schema, frames and label of one side; the synthetic side is read with the real side's schema."""
    from relsynth.schema import dataframes
    from relsynth.sinks.files import is_directory, read_files

    if isinstance(data, dataframes.RelationalData):
        schema = schema if schema is not None else data.to_schema()
        data = data.frames
    elif is_directory(data):
        # A table directory: its own metadata.json, or the real side's schema for its files.
        schema, frames = read_files(data, schema)
        return schema, frames, str(data)
    if isinstance(data, dict):
        if schema is None:
            schema = schema_from_dataframes(data)
        missing = [n for n in schema.tables if n not in data]
        if missing:
            raise ConfigError(f"the {side} frames lack table(s) {', '.join(missing)}"
                              f"{did_you_mean(missing[0], list(data))}; pass the same tables on both sides")
        return schema, {n: coerce_frame(data[n], schema.tables[n]) for n in schema.tables}, "frames"
    if schema is None:
        return (s := read_schema(data)), read_tables(data, s), mask_url(data)
    engine = connect(data, read_only=True)
    try:
        present = set(sa.inspect(engine).get_table_names())
    except sa.exc.DBAPIError as exc:
        raise SourceError(f"reading the {side} database {mask_url(engine)} failed: {db_error_line(exc)}") from None
    finally:
        if engine is not data:
            engine.dispose()
    missing = [n for n in schema.tables if n not in present]
    if missing:
        raise SourceError(f"the {side} database {mask_url(data)} has no table(s) {', '.join(missing)}"
                          f"{did_you_mean(missing[0], sorted(present))}; compare databases with the same tables")
    frames = read_tables(data, read_schema(data, include=list(schema.tables)))
    return schema, {n: coerce_frame(frames[n], schema.tables[n]) for n in schema.tables}, mask_url(data)


def evaluate(
    real: Data,
    synthetic: Data,
    *,
    schema: Schema | None = None,
    target: str | None = None,
    detection: bool = True,
    seed: int = 0,
    holdout: Data | None = None,
    pii: dict[str, dict[str, dict[str, str]]] | None = None,
    privacy: bool = True,
) -> Report:
    """Compare a synthetic database with the real one it was made from.

    Args:
        real: The real data: a database URL or engine, a directory of CSV/Parquet files with
            a metadata file, a dict of DataFrames or a ``RelationalData``.
        synthetic: The synthetic data, with the same tables (any of the same forms).
        schema: Keys and constraints (read from ``real`` when it is a database; inferred from
            the frames, without keys, otherwise).
        target: ``"table.column"`` for a machine-learning efficacy check (train on synthetic,
            test on real vs train on real, test on real).
        detection: Run the real-vs-synthetic classifiers (needs scikit-learn).
        seed: Seed of the classifiers and row samples.
        holdout: Real rows of the same tables that the synthetic data's model never saw (a
            database or frames; any subset of the tables): gives the closer-to-train share.
            Without it that share is reported as not computed.
        pii: ``Model.pii`` of the model that made ``synthetic``, to say how each personal
            column was generated.
        privacy: Compute the privacy figures (:mod:`relsynth.evaluate.privacy`).

    Returns:
        A :class:`Report`.

    Raises:
        ConfigError, SourceError: A side cannot be read, lacks tables, or ``target`` is unknown.
    """
    if target is not None and "." not in target.strip("."):
        raise ConfigError(f"target must be TABLE.COLUMN, got {target!r}")
    schema, real_frames, real_label = _read(real, schema, "real")
    if target is not None:
        _target_column(schema, target, real_frames)
    _, synth_frames, synth_label = _read(synthetic, schema, "synthetic")
    notes: list[str] = []
    run_classifiers = detection or target is not None
    if run_classifiers and not sklearn_available():
        notes.append("detection and ML efficacy were not computed: they need scikit-learn "
                     "(pip install 'relsynth[report]')")
        detection, target, run_classifiers = False, None, False
    integrity = frame_integrity(schema, synth_frames)
    tables = {name: _table_section(schema, name, real_frames, synth_frames, detection, seed, notes)
              for name in schema.tables}
    relationships = [_relationship_section(schema, name, fk, real_frames, synth_frames, detection, seed)
                     for name, t in schema.tables.items() for fk in t.foreign_keys
                     if fk.ref_table in real_frames]
    efficacy = _efficacy(schema, target, real_frames, synth_frames, seed) if target else None
    summary = _summary(integrity, tables, relationships, efficacy)
    private = None
    if privacy:
        held = None
        if holdout is not None:
            held_schema = schema
            if isinstance(holdout, dict):
                held_schema = schema.select([n for n in schema.tables if n in holdout], None)
            _, held, _ = _read(holdout, held_schema, "holdout")
        else:
            notes.append("closer-to-train share not computed: it needs real rows the model never saw "
                         "(evaluate(..., holdout=...) or `relsynth report --holdout URL`)")
        private = privacy_section(schema, real_frames, synth_frames, held, pii=pii, seed=seed)
        summary.update({f"privacy_{k}": v for k, v in private["summary"].items()})
    return Report(real_label, synth_label, summary, integrity, tables, relationships, efficacy, notes, private)


def _table_section(schema: Schema, name: str, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame],
                   detection: bool, seed: int, notes: list[str]) -> dict[str, Any]:
    table = schema.tables[name]
    r, s = real[name], synth[name]
    section: dict[str, Any] = {"rows_real": len(r), "rows_synthetic": len(s), "column_shapes": None,
                               "pair_trends": None, "columns": {}, "pairs": [], "association": None,
                               "detection": None}
    if not len(r) or not len(s):
        return section
    cols = comparable_columns(table, r)
    skipped = [c.name for c in table.columns if c.name not in cols and c.name not in table.primary_key
               and c.name not in table.fk_columns]
    if skipped:
        notes.append(f"{name}: generated columns (free text, UUIDs, binaries, JSON, times) are not compared: "
                     f"{', '.join(skipped)}")
    for col in cols:
        kind = table.column(col).kind
        score = column_shape(r[col], s[col], kind)
        section["columns"][col] = {"kind": kind, "metric": "ks" if kind not in ("string", "boolean") else "tv",
                                   "score": None if score is None else round(score, 4),
                                   "plot": column_plot(r[col], s[col], kind)}
    section["column_shapes"] = _mean([c["score"] for c in section["columns"].values()])
    score, pairs = pair_trends(r, s, table, cols)
    section["pair_trends"] = None if score is None else round(score, 4)
    section["pairs"] = [{**p, "score": round(p["score"], 4)} for p in pairs]
    section["association"] = association_matrix(r, s, table, cols, pairs)
    if detection:
        groups = None
        if table.foreign_keys:  # child rows: keep each parent's family within one fold
            cols = list(table.foreign_keys[0].columns)
            groups = tuple(pd.MultiIndex.from_frame(f[cols].astype(object).where(f[cols].notna(), None))
                           .factorize()[0] for f in (r, s))
        section["detection"] = detection_auc(r, s, learned_kinds(table, r), seed=seed, groups=groups)
    return section


def _relationship_section(schema: Schema, name: str, fk: Any, real: dict[str, pd.DataFrame],
                          synth: dict[str, pd.DataFrame], detection: bool, seed: int) -> dict[str, Any]:
    parent = fk.ref_table
    out: dict[str, Any] = {"label": f"{name}.{', '.join(fk.columns)} → {parent}", "child": name,
                           "parent": parent, "columns": list(fk.columns), "cardinality": None,
                           "parent_child_trends": None, "aggregate_trends": None, "detection": None}
    if not len(real[parent]) or not len(synth[parent]) or not len(real[name]):
        return out  # nothing to compare: an empty child says nothing of its parents
    out["cardinality"] = cardinality(children_per_parent(real[name], fk, real[parent]),
                                     children_per_parent(synth[name], fk, synth[parent]))
    for key, fn in (("parent_child_trends", parent_child_trends), ("aggregate_trends", aggregate_trends)):
        score, pairs = fn(schema, name, fk, real, synth)
        if score is not None:
            out[key] = {"score": round(score, 4), "pairs": [{**p, "score": round(p["score"], 4)} for p in pairs]}
    if detection:
        out["detection"] = family_detection_auc(schema, name, fk, real, synth, seed=seed)
    return out


def _target_column(schema: Schema, target: str, real: dict[str, pd.DataFrame]) -> tuple[str, str, dict[str, str]]:
    """``TABLE.COLUMN`` → (table, column, the table's learned columns), checked before any work."""
    table, _, column = target.partition(".")
    if table not in schema.tables:
        raise ConfigError(f"target table {table!r} is not in the schema{did_you_mean(table, list(schema.tables))}")
    kinds = learned_kinds(schema.tables[table], real[table])
    if column not in kinds:
        hint = did_you_mean(column, list(kinds))
        raise ConfigError(f"target column {column!r} is not a learned column of {table}{hint}; "
                          f"choose one of: {', '.join(kinds) or '(none)'}")
    return table, column, kinds


def _efficacy(schema: Schema, target: str, real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame],
              seed: int) -> dict[str, Any]:
    table, column, kinds = _target_column(schema, target, real)
    return {"table": table, **ml_efficacy(real[table], synth[table], kinds, column, seed=seed)}


def _summary(integrity: list[dict[str, Any]], tables: dict[str, dict[str, Any]],
             relationships: list[dict[str, Any]], efficacy: dict[str, Any] | None) -> dict[str, Any]:
    # Like SDV's QualityReport: a mean over every column, every pair, every relationship, so a
    # tiny lookup table weighs what its few columns weigh.
    shapes = _mean([c["score"] for t in tables.values() for c in t["columns"].values()])
    pairs = _mean([p["score"] for t in tables.values() for p in t["pairs"]])
    cards = _mean([r["cardinality"]["score"] for r in relationships if r["cardinality"]])
    trends = _mean([p["score"] for r in relationships if r["parent_child_trends"]
                    for p in r["parent_child_trends"]["pairs"]])
    clean = sum(1 for r in integrity if r["violations"] == 0)
    return {
        "integrity": round(clean / len(integrity), 4) if integrity else 1.0,
        "integrity_violations": violations(integrity),
        "column_shapes": shapes,
        "column_pair_trends": pairs,
        "cardinality": cards,
        "parent_child_trends": trends,
        "overall": _mean([shapes, pairs, cards, trends]),
        "detection_auc": _mean([t["detection"]["auc"] for t in tables.values() if t["detection"]]),
        "detection_auc_relational": _mean([r["detection"]["auc"] for r in relationships if r["detection"]]),
        "ml_efficacy": efficacy.get("ratio") if efficacy else None,
    }
