"""SDV metadata interop: read SDV's multi-table metadata JSON as a schema, and write one.

SDV (``sdv.metadata.Metadata``, ``METADATA_SPEC_VERSION`` ``"V1"``; older files say
``"MULTI_TABLE_V1"``) describes each table's columns by *sdtype*, its primary key and
alternate keys, and the relationships between tables::

    {"METADATA_SPEC_VERSION": "V1",
     "tables": {"patients": {"primary_key": "patient_id",
                             "columns": {"patient_id": {"sdtype": "id"},
                                         "age": {"sdtype": "numerical", "computer_representation": "Int64"},
                                         "admission_date": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}}}},
     "relationships": [{"parent_table_name": "patients", "parent_primary_key": "patient_id",
                        "child_table_name": "lab_results", "child_foreign_key": "patient_id"}]}

sdtype → kind: ``numerical`` → integer when ``computer_representation`` is an ``Int``/``UInt``
type, else float; ``categorical`` → string; ``boolean`` → boolean; ``datetime`` → date when its
``datetime_format`` has no time of day (``%H``, ``%M``, ``%S``, ``%f``, ``%I``, ``%p``), else
datetime; ``id`` → integer without a ``regex_format``, uuid when the regex is a UUID's, string
otherwise; ``text``, ``unknown`` and the PII sdtypes (``email``, ``phone_number``,
``first_name``, ``address``, …) → string. Alternate keys become UNIQUE constraints. SDV has no
NOT NULL, CHECK or composite foreign keys: every column but the primary key is nullable.

:func:`to_sdv_metadata` writes the reverse mapping (see there for what SDV cannot express).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from relsynth.errors import ConfigError, SchemaError, did_you_mean
from relsynth.schema.model import Column, ForeignKey, Kind, Schema, Table, UniqueConstraint

__all__ = ["SDV_SPEC_VERSION", "from_sdv_metadata", "is_sdv_metadata", "to_sdv_metadata"]

log = logging.getLogger("relsynth")

#: The ``METADATA_SPEC_VERSION`` written by :func:`to_sdv_metadata`.
SDV_SPEC_VERSION = "V1"
_READABLE_VERSIONS = ("V1", "MULTI_TABLE_V1")

_UUID_REGEX = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TIME_OF_DAY = re.compile(r"%[HMSfIpTXc]")
_INT_BITS = {"Int8": 16, "Int16": 16, "Int32": 32, "Int64": 64, "UInt8": 16, "UInt16": 32, "UInt32": 64, "UInt64": 64}
_REPRESENTATION = {16: "Int16", 32: "Int32", 64: "Int64"}


def is_sdv_metadata(data: object) -> bool:
    """Whether ``data`` (a parsed JSON document) is SDV metadata rather than relsynth's schema JSON."""
    return isinstance(data, dict) and ("METADATA_SPEC_VERSION" in data or isinstance(data.get("tables"), dict))


def _load(metadata: dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(metadata, dict):
        return metadata
    path = Path(metadata).expanduser()
    if not path.is_file():
        raise ConfigError(f"SDV metadata file '{metadata}' does not exist; check the path")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"SDV metadata file '{metadata}' is not valid JSON ({exc}); fix the file") from None


def _column(table: str, name: str, spec: dict[str, Any], key: bool) -> Column:
    if not isinstance(spec, dict) or "sdtype" not in spec:
        raise SchemaError(f"SDV metadata column {table}.{name} has no sdtype; give it one, e.g. "
                          '{"sdtype": "categorical"}')
    sdtype = spec["sdtype"]
    kind: Kind = "string"
    precision = None
    if sdtype == "numerical":
        rep = str(spec.get("computer_representation") or "Float")
        if rep in _INT_BITS:
            kind, precision = "integer", _INT_BITS[rep]
        else:
            kind = "float"
    elif sdtype == "boolean":
        kind = "boolean"
    elif sdtype == "datetime":
        fmt = spec.get("datetime_format")
        kind = "date" if fmt and not _TIME_OF_DAY.search(fmt) else "datetime"
    elif sdtype == "id":
        regex = spec.get("regex_format")
        if regex is None:
            kind = "integer"
        elif regex.strip("^$").lower() == _UUID_REGEX:
            kind = "uuid"
    return Column(name=name, kind=kind, nullable=not key, precision=precision)


def from_sdv_metadata(metadata: dict[str, Any] | str | Path) -> Schema:
    """Build a schema from SDV's multi-table metadata (a dict or the path of its JSON file).

    Args:
        metadata: What ``sdv.metadata.Metadata.to_dict()`` returns or ``save_to_json`` writes.

    Returns:
        The schema (``dialect`` None, no row counts; see the module docstring for the mapping).

    Raises:
        ConfigError: The file does not exist or is not JSON.
        SchemaError: The document is not SDV multi-table metadata, or names unknown tables or
            columns in keys and relationships.
    """
    data = _load(metadata)
    version = data.get("METADATA_SPEC_VERSION") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
        hint = (" (single-table metadata: wrap it as {\"tables\": {NAME: ...}})"
                if isinstance(data, dict) and "columns" in data else "")
        raise SchemaError(f"SDV metadata needs a \"tables\" object{hint}; see sdv.metadata.Metadata.to_dict()")
    if version is not None and version not in _READABLE_VERSIONS:
        raise SchemaError(f"SDV METADATA_SPEC_VERSION {version!r} is not supported; use {SDV_SPEC_VERSION} "
                          "(sdv.metadata.Metadata, SDV 1.x/2.x)")
    tables: dict[str, Table] = {}
    for name, spec in data["tables"].items():
        columns = spec.get("columns")
        if not isinstance(columns, dict) or not columns:
            raise SchemaError(f"SDV metadata table {name!r} has no \"columns\" object; list its columns with sdtypes")
        pk = spec.get("primary_key")
        pk_cols = [] if pk is None else [pk] if isinstance(pk, str) else list(pk)
        table = Table(name=name, columns=[_column(name, c, s, c in pk_cols) for c, s in columns.items()],
                      primary_key=pk_cols)
        for col in pk_cols:
            table.column(col)
        for alt in spec.get("alternate_keys") or []:
            cols = [alt] if isinstance(alt, str) else list(alt)
            for col in cols:
                table.column(col)
            table.unique.append(UniqueConstraint(cols))
        tables[name] = table
    for rel in data.get("relationships") or []:
        try:
            parent, child = rel["parent_table_name"], rel["child_table_name"]
            parent_cols, child_cols = rel["parent_primary_key"], rel["child_foreign_key"]
        except (KeyError, TypeError):
            raise SchemaError(f"SDV relationship {rel!r} needs parent_table_name, parent_primary_key, "
                              "child_table_name and child_foreign_key") from None
        for side in (parent, child):
            if side not in tables:
                raise SchemaError(f"SDV relationship {rel!r} names table {side!r}, which is not in \"tables\""
                                  f"{did_you_mean(str(side), tables)}; add the table or fix the relationship")
        parent_cols = [parent_cols] if isinstance(parent_cols, str) else list(parent_cols)
        child_cols = [child_cols] if isinstance(child_cols, str) else list(child_cols)
        tables[child].foreign_keys.append(ForeignKey(child_cols, parent, parent_cols))
    return Schema(tables)


def _sdv_column(col: Column, keys: set[str]) -> dict[str, Any]:
    kind = col.kind
    if col.name in keys:
        if kind == "integer":
            return {"sdtype": "id"}
        if kind == "uuid":
            return {"sdtype": "id", "regex_format": _UUID_REGEX}
        length = col.length or 10
        return {"sdtype": "id", "regex_format": f"[A-Za-z0-9]{{1,{length}}}"}
    if kind == "integer":
        return {"sdtype": "numerical", "computer_representation": _REPRESENTATION.get(col.precision or 64, "Int64")}
    if kind in ("float", "decimal"):
        return {"sdtype": "numerical", "computer_representation": "Float"}
    if kind == "boolean":
        return {"sdtype": "boolean"}
    if kind == "date":
        return {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
    if kind == "datetime":
        return {"sdtype": "datetime", "datetime_format": "%Y-%m-%d %H:%M:%S"}
    if kind == "uuid":
        return {"sdtype": "id", "regex_format": _UUID_REGEX}
    if kind in ("json", "binary"):
        return {"sdtype": "unknown"}
    return {"sdtype": "categorical"}  # string, time


def to_sdv_metadata(schema: Schema) -> dict[str, Any]:
    """Describe ``schema`` in SDV's multi-table metadata format (``Metadata.load_from_dict`` reads it).

    Key columns (primary key, foreign keys, single-column UNIQUE constraints) get sdtype
    ``id``, as SDV requires of keys; single-column UNIQUE constraints become ``alternate_keys``.
    What SDV cannot say is left out with a warning: composite primary keys, composite UNIQUE
    constraints and composite foreign keys, foreign keys that do not reference the parent's
    primary key; CHECK constraints and NOT NULL are dropped silently (SDV has neither).

    Returns:
        A JSON-able dict with ``METADATA_SPEC_VERSION``, ``tables`` and ``relationships``.
    """
    tables: dict[str, Any] = {}
    relationships: list[dict[str, Any]] = []
    for name, table in schema.tables.items():
        alternate = [u.columns[0] for u in table.unique if len(u.columns) == 1]
        keys = set(table.primary_key) | table.fk_columns | set(alternate)
        spec: dict[str, Any] = {"columns": {c.name: _sdv_column(c, keys) for c in table.columns}}
        if len(table.primary_key) == 1:
            spec["primary_key"] = table.primary_key[0]
        elif table.primary_key:
            log.warning("SDV metadata cannot express the composite primary key (%s) of table %s; it is left out",
                        ", ".join(table.primary_key), name)
        if alternate:
            spec["alternate_keys"] = alternate
        if len(alternate) < len(table.unique):
            log.warning("SDV metadata cannot express composite UNIQUE constraints; those of table %s are left out",
                        name)
        tables[name] = spec
    for name, table in schema.tables.items():
        for fk in table.foreign_keys:
            parent_pk = tables[fk.ref_table].get("primary_key")
            if len(fk.columns) != 1 or fk.ref_columns[0] != parent_pk:
                log.warning("SDV metadata cannot express foreign key %s.%s (SDV relationships are one column "
                            "referencing the parent's primary key); it is left out", name, fk.label)
                continue
            relationships.append({"parent_table_name": fk.ref_table, "parent_primary_key": parent_pk,
                                  "child_table_name": name, "child_foreign_key": fk.columns[0]})
    return {"METADATA_SPEC_VERSION": SDV_SPEC_VERSION, "tables": tables, "relationships": relationships}
