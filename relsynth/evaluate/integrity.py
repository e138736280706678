"""Integrity of data held in frames: the schema's keys and constraints, row by row.

:func:`relsynth.sinks.integrity.verify_integrity` asks a database; this counts the same things
(plus CHECK constraints) in ``dict[str, DataFrame]``, so the report works on frames that were
never written, and on frames read back from any database.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from relsynth.schema.checks import compile_checks
from relsynth.schema.model import Schema, Table
from relsynth.transform.keys import match_rows, null_any

__all__ = ["frame_integrity", "violations"]


def _duplicates(frame: pd.DataFrame, columns: list[str]) -> int:
    """Rows beyond the first of each repeated, fully non-NULL tuple (SQL UNIQUE semantics)."""
    full = frame.loc[~null_any(frame, columns), columns]
    return int(full.duplicated().sum())


def _row(table: str, kind: str, constraint: str, rows: int, violations: int) -> dict[str, Any]:
    return {"table": table, "kind": kind, "constraint": constraint, "rows": rows, "violations": int(violations)}


def _table_checks(schema: Schema, table: Table, frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    frame = frames[table.name]
    n = len(frame)
    out = []
    if table.primary_key:
        pk = list(table.primary_key)
        bad = _duplicates(frame, pk) + int(null_any(frame, pk).sum())
        out.append(_row(table.name, "primary_key", f"PRIMARY KEY ({', '.join(pk)})", n, bad))
    required = [c.name for c in table.columns if not c.nullable and c.name not in table.primary_key]
    if required:
        nulls = frame[required].isna().any(axis=1).sum()
        out.append(_row(table.name, "not_null", f"NOT NULL ({', '.join(required)})", n, nulls))
    for uq in table.unique:
        out.append(_row(table.name, "unique", f"UNIQUE ({', '.join(uq.columns)})", n, _duplicates(frame, list(uq.columns))))
    for fk in table.foreign_keys:
        if fk.ref_table not in frames:
            continue
        rows = match_rows(frame, fk.columns, frames[fk.ref_table], fk.ref_columns)
        dangling = (rows < 0) & ~null_any(frame, fk.columns)
        out.append(_row(table.name, "foreign_key", f"FOREIGN KEY {fk.label}", n, dangling.sum()))
    for rule in compile_checks(table, schema.dialect):
        if rule.enforceable:
            out.append(_row(table.name, "check", f"CHECK ({rule.check.sqltext})", n, (~rule.holds(frame)).sum()))
    return out


def frame_integrity(schema: Schema, frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """One row per constraint of every table of ``schema`` found in ``frames``.

    Each row: ``{"table", "kind" (primary_key | not_null | unique | foreign_key | check),
    "constraint" (its SQL-like text), "rows", "violations"}``. A primary-key violation is a
    repeated or NULL key; a foreign-key one a non-NULL tuple no parent row has; a CHECK one a
    row where the condition is FALSE (NULL passes, as in SQL). CHECKs relsynth cannot evaluate
    are left out.
    """
    out: list[dict[str, Any]] = []
    for table in schema.tables.values():
        if table.name in frames:
            out.extend(_table_checks(schema, table, frames))
    return out


def violations(rows: list[dict[str, Any]]) -> int:
    """Total violating rows over the constraint rows of :func:`frame_integrity` (0 when clean)."""
    return int(np.sum([r["violations"] for r in rows])) if rows else 0
