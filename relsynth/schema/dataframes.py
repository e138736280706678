"""Build a :class:`~relsynth.schema.model.Schema` from pandas DataFrames or a metadata file.

For users whose data is not in a database: :func:`schema_from_dataframes` infers each column's
kind from its dtype (and, for object columns, from the Python values in it) and takes primary
and foreign keys as arguments; :func:`schema_from_metadata` reads the JSON form that
:meth:`Schema.to_dict` writes.

Inference rules: integer dtypes → integer (precision from the item size); float → float,
except a float column named in a primary or foreign key whose values are all whole numbers,
which is integer (pandas turns integer keys with NULLs into floats); bool → boolean;
datetime64 → date when every value is midnight and the column is naive, else datetime;
category → string with the categories as ``enum_values``; object/str columns by their values
(str → string, bytes → binary, ``datetime.date`` → date, ``datetime.datetime`` → datetime,
``datetime.time`` → time, ``Decimal`` → decimal, ``uuid.UUID`` → uuid, dict/list → json;
all missing → string). ``kinds`` overrides any of these.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.api.types import infer_dtype

from relsynth.errors import ConfigError, SchemaError, did_you_mean
from relsynth.schema.model import KINDS, Column, ForeignKey, Schema, Table
from relsynth.schema.sdv import from_sdv_metadata, is_sdv_metadata

__all__ = ["RelationalData", "schema_from_dataframes", "schema_from_metadata"]

log = logging.getLogger("relsynth")

_OBJECT_KINDS = {
    "string": "string",
    "bytes": "binary",
    "date": "date",
    "datetime": "datetime",
    "datetime64": "datetime",
    "time": "time",
    "decimal": "decimal",
    "integer": "integer",
    "floating": "float",
    "mixed-integer-float": "float",
    "boolean": "boolean",
    "empty": "string",
}


def schema_from_dataframes(
    frames: dict[str, pd.DataFrame],
    primary_keys: dict[str, str | list[str]] | None = None,
    foreign_keys: list[dict[str, Any]] | None = None,
    kinds: dict[str, dict[str, str]] | None = None,
) -> Schema:
    """Describe a dict of DataFrames as a schema.

    Args:
        frames: ``{table name: DataFrame}``; column names must be unique strings.
        primary_keys: ``{table: column or [columns]}``; tables left out have no primary key.
        foreign_keys: Items like ``{"child": "orders", "columns": ["customer_id"],
            "parent": "customers", "parent_columns": ["id"]}``; ``columns`` and
            ``parent_columns`` may be a single name; ``parent_columns`` defaults to the
            parent's primary key; an optional ``"name"`` names the key.
        kinds: ``{table: {column: kind}}`` overriding the inferred kinds.

    Returns:
        The schema (``dialect`` None), with nullability from the presence of missing values
        and ``row_count`` from each frame's length.

    Raises:
        SchemaError: A table or column named in the arguments does not exist (with a
            suggestion), a kind is unknown, a column dtype has no kind, or a key is malformed.
    """
    if not frames:
        raise SchemaError("no DataFrames given; pass {table name: DataFrame} with at least one table")
    primary_keys = dict(primary_keys or {})
    kinds = dict(kinds or {})
    names = list(frames)
    for name in list(primary_keys) + list(kinds):
        _check_table(name, names)
    fk_specs = [_parse_fk(item, names) for item in (foreign_keys or [])]
    key_columns: dict[str, set[str]] = {n: set() for n in names}
    pk_lists: dict[str, list[str]] = {}
    for name, cols in primary_keys.items():
        pk_lists[name] = _as_list(cols, f"primary key of {name!r}")
        key_columns[name].update(pk_lists[name])
    for child, cols, parent, parent_cols, _ in fk_specs:
        key_columns[child].update(cols)
        key_columns[parent].update(parent_cols or pk_lists.get(parent, []))

    tables: dict[str, Table] = {}
    for name, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise SchemaError(f"frames[{name!r}] is a {type(df).__name__}, not a DataFrame; pass DataFrames")
        bad = [c for c in df.columns if not isinstance(c, str)]
        if bad:
            raise SchemaError(f"table {name!r} has a column named {bad[0]!r}, not a string; "
                              "rename its columns to strings")
        if df.columns.has_duplicates:
            raise SchemaError(f"table {name!r} has column {df.columns[df.columns.duplicated()][0]!r} twice; "
                              "give each column one name")
        overrides = kinds.get(name, {})
        for col in overrides:
            _check_column(name, col, list(df.columns))
        pk = pk_lists.get(name, [])
        for col in pk:
            _check_column(name, col, list(df.columns))
        columns = []
        for col in df.columns:
            attrs = _infer(df[col], name, col, col in key_columns[name])
            if col in overrides:
                kind = overrides[col]
                if kind not in KINDS:
                    raise SchemaError(f"kinds[{name!r}][{col!r}] is {kind!r}, not a kind{did_you_mean(kind, KINDS)}; "
                                      f"use one of: {', '.join(KINDS)}")
                attrs = {"kind": kind}
            nullable = bool(df[col].isna().any()) and col not in pk
            columns.append(Column(name=col, nullable=nullable, **attrs))
        tables[name] = Table(name=name, columns=columns, primary_key=list(pk), row_count=len(df))

    for child, cols, parent, parent_cols, fk_name in fk_specs:
        for col in cols:
            _check_column(child, col, tables[child].column_names)
        if not parent_cols:
            parent_cols = tables[parent].primary_key
            if not parent_cols:
                raise SchemaError(
                    f"foreign key {child}({', '.join(cols)}) -> {parent} gives no parent_columns and {parent!r} "
                    "has no primary key; add parent_columns or a primary key for the parent"
                )
        for col in parent_cols:
            _check_column(parent, col, tables[parent].column_names)
        tables[child].foreign_keys.append(
            ForeignKey(columns=list(cols), ref_table=parent, ref_columns=list(parent_cols), name=fk_name)
        )
    return Schema(tables)


def schema_from_metadata(metadata: dict[str, Any] | str | Path) -> Schema:
    """Build a schema from :meth:`Schema.to_dict`-style metadata or SDV metadata, or a JSON file holding either.

    SDV's multi-table metadata (``METADATA_SPEC_VERSION``, ``tables`` as an object) is read
    with :func:`relsynth.schema.sdv.from_sdv_metadata`. For relsynth's own format, besides what
    :meth:`Schema.from_dict` checks, every primary-key and UNIQUE column must exist in its table.

    Args:
        metadata: The dict, or the path of a JSON file.

    Returns:
        The schema.

    Raises:
        ConfigError: The file does not exist or is not JSON.
        SchemaError: The metadata is malformed or names unknown tables or columns.
    """
    if isinstance(metadata, (str, Path)):
        path = Path(metadata).expanduser()
        if not path.is_file():
            raise ConfigError(f"metadata file '{metadata}' does not exist; check the path")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"metadata file '{metadata}' is not valid JSON ({exc}); fix the file") from None
    elif isinstance(metadata, dict):
        data = metadata
    else:
        raise ConfigError(f"metadata must be a dict or a JSON file path, not {type(metadata).__name__}")
    if is_sdv_metadata(data):
        return from_sdv_metadata(data)
    if not isinstance(data, dict) or not isinstance(data.get("tables"), list):
        raise SchemaError('metadata needs a "tables" list; see Schema.to_dict() for the format')
    schema = Schema.from_dict(data)
    for table in schema.tables.values():
        for col in table.primary_key:
            table.column(col)
        for uc in table.unique:
            for col in uc.columns:
                table.column(col)
    return schema


class RelationalData:
    """Tables and their keys, added one call at a time (the workflow of Gretel Relational).

    Example::

        rd = relsynth.RelationalData()
        rd.add_table("patients", patients_df, primary_key="patient_id")
        rd.add_table("lab_results", labs_df, primary_key="lab_id")
        rd.add_foreign_key("lab_results.patient_id", "patients.patient_id")
        model = relsynth.fit(rd)
        tables = model.sample(record_size_ratio=2.0, seed=1)

    The schema is built by :func:`schema_from_dataframes` (kinds inferred from dtypes) when
    :meth:`to_schema` is called, so the order of the calls does not matter.
    """

    def __init__(self) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._primary_keys: dict[str, str | list[str]] = {}
        self._foreign_keys: list[dict[str, Any]] = []

    def add_table(self, name: str, data: pd.DataFrame | str | Path,
                  primary_key: str | list[str] | None = None) -> None:
        """Add (or replace) a table.

        Args:
            name: Table name.
            data: Its rows, or the path of a ``.csv`` or ``.parquet`` file (CSV columns get
                pandas' type inference; Parquet keeps its types).
            primary_key: A column name or a list of them; None for a table without one.
        """
        if isinstance(data, (str, Path)):
            path = Path(data).expanduser()
            if not path.is_file():
                raise ConfigError(f"table file '{data}' does not exist; check the path")
            if path.suffix.lower() == ".parquet":
                from relsynth.sinks.files import require_pyarrow

                require_pyarrow("reading Parquet files")
                data = pd.read_parquet(path)
            else:
                data = pd.read_csv(path)
        if not isinstance(data, pd.DataFrame):
            raise ConfigError(f"table {name!r} data is a {type(data).__name__}; pass a DataFrame or a CSV/Parquet path")
        self._frames[name] = data
        self._primary_keys.pop(name, None)
        if primary_key is not None:
            self._primary_keys[name] = primary_key

    def _split(self, ref: str) -> tuple[str, str]:
        """``"table.column"`` → ``(table, column)``; the table is the known name the text starts with."""
        for table in sorted(self._frames, key=len, reverse=True):
            if ref.startswith(table + ".") and len(ref) > len(table) + 1:
                return table, ref[len(table) + 1:]
        head = ref.partition(".")[0]
        raise SchemaError(f"{ref!r} names no added table{did_you_mean(head, self._frames)}; write TABLE.COLUMN "
                          f"with one of: {', '.join(self._frames) or '(none added yet)'}")

    def add_foreign_key(self, foreign_key: str, referencing: str) -> None:
        """Declare that ``foreign_key`` (``"child.column"``) references ``referencing`` (``"parent.column"``)."""
        child, col = self._split(foreign_key)
        parent, parent_col = self._split(referencing)
        self._foreign_keys.append({"child": child, "columns": [col], "parent": parent, "parent_columns": [parent_col]})

    def add_foreign_key_constraint(self, table: str, constrained_columns: list[str], referred_table: str,
                                   referred_columns: list[str]) -> None:
        """Declare a (possibly composite) foreign key: ``table(constrained_columns)`` → ``referred_table(referred_columns)``."""
        for name in (table, referred_table):
            _check_table(name, list(self._frames))
        self._foreign_keys.append({"child": table, "columns": list(constrained_columns), "parent": referred_table,
                                   "parent_columns": list(referred_columns)})

    def list_all_tables(self) -> list[str]:
        """Names of the tables added so far, in the order they were added."""
        return list(self._frames)

    def get_table_data(self, name: str) -> pd.DataFrame:
        """The rows of table ``name`` as added."""
        _check_table(name, list(self._frames))
        return self._frames[name]

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table's rows, ``{name: DataFrame}``."""
        return dict(self._frames)

    def to_schema(self, kinds: dict[str, dict[str, str]] | None = None) -> Schema:
        """The schema of the tables and keys added (see :func:`schema_from_dataframes`; ``kinds`` overrides)."""
        return schema_from_dataframes(self._frames, self._primary_keys, self._foreign_keys, kinds)


# --------------------------------------------------------------------------------------------


def _as_list(value: str | list[str] | tuple[str, ...], what: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise SchemaError(f"{what} is {value!r}; give a column name or a non-empty list of column names")


def _check_table(name: str, names: list[str]) -> None:
    if name not in names:
        raise SchemaError(f"no table {name!r} among the DataFrames{did_you_mean(name, names)}; "
                          f"tables are: {', '.join(names)}")


def _check_column(table: str, col: str, columns: list[str]) -> None:
    if col not in columns:
        raise SchemaError(f"table {table!r} has no column {col!r}{did_you_mean(col, columns)}; "
                          f"columns are: {', '.join(columns)}")


def _parse_fk(item: dict[str, Any], names: list[str]) -> tuple[str, list[str], str, list[str], str | None]:
    if not isinstance(item, dict):
        raise SchemaError(f"foreign key {item!r} is not a dict; use "
                          '{"child": ..., "columns": ..., "parent": ..., "parent_columns": ...}')
    allowed = {"child", "columns", "parent", "parent_columns", "name"}
    unknown = [k for k in item if k not in allowed]
    if unknown:
        raise SchemaError(f"foreign key {item!r} has unknown field {unknown[0]!r}"
                          f"{did_you_mean(str(unknown[0]), allowed)}; fields are: {', '.join(sorted(allowed))}")
    for field in ("child", "columns", "parent"):
        if field not in item:
            raise SchemaError(f"foreign key {item!r} has no {field!r}; give child, columns and parent")
    child, parent = item["child"], item["parent"]
    _check_table(child, names)
    _check_table(parent, names)
    cols = _as_list(item["columns"], f"columns of foreign key {item!r}")
    parent_cols = (_as_list(item["parent_columns"], f"parent_columns of foreign key {item!r}")
                   if item.get("parent_columns") else [])
    if parent_cols and len(parent_cols) != len(cols):
        raise SchemaError(f"foreign key {child}({', '.join(cols)}) -> {parent}({', '.join(parent_cols)}) has "
                          f"{len(cols)} columns but {len(parent_cols)} parent columns; give the same number")
    return child, cols, parent, parent_cols, item.get("name")


def _infer(s: pd.Series, table: str, col: str, is_key: bool) -> dict[str, Any]:
    """Column attributes for one DataFrame column."""
    dtype = s.dtype
    if ptypes.is_bool_dtype(dtype):
        return {"kind": "boolean"}
    if ptypes.is_integer_dtype(dtype):
        # Bits needed to hold every value of the dtype in a signed SQL integer.
        bits = 8 * dtype.itemsize * (2 if ptypes.is_unsigned_integer_dtype(dtype) else 1)
        return {"kind": "integer", "precision": min(64, max(16, bits))}
    if ptypes.is_float_dtype(dtype):
        if is_key and _whole_numbers(s):
            return {"kind": "integer", "precision": 64}
        return {"kind": "float"}
    if ptypes.is_datetime64_any_dtype(dtype):
        aware = getattr(dtype, "tz", None) is not None
        present = s.dropna()
        if not aware and len(present) and bool((present == present.dt.normalize()).all()):
            return {"kind": "date"}
        return {"kind": "datetime", "timezone": aware}
    if isinstance(dtype, pd.CategoricalDtype):
        return {"kind": "string", "enum_values": [str(c) for c in dtype.categories]}
    if isinstance(dtype, pd.StringDtype):
        return {"kind": "string"}
    if ptypes.is_timedelta64_dtype(dtype) or ptypes.is_complex_dtype(dtype):
        raise SchemaError(f"column {table}.{col} has dtype {dtype}, which has no kind; convert it "
                          "(e.g. to seconds as float) or declare it in kinds")
    if dtype == object:
        inferred = infer_dtype(s, skipna=True)
        if inferred in _OBJECT_KINDS:
            kind = _OBJECT_KINDS[inferred]
            if kind == "float" and is_key and _whole_numbers(pd.to_numeric(s, errors="coerce")):
                kind = "integer"
            return {"kind": kind, "precision": 64} if kind == "integer" else {"kind": kind}
        present = s.dropna()
        if len(present) and all(isinstance(v, uuid.UUID) for v in present):
            return {"kind": "uuid"}
        if len(present) and all(isinstance(v, (dict, list)) for v in present):
            return {"kind": "json"}
        log.debug("column %s.%s holds mixed values (%s); treating it as string", table, col, inferred)
        return {"kind": "string"}
    raise SchemaError(f"column {table}.{col} has dtype {dtype}, which has no kind; convert it or declare it in kinds")


def _whole_numbers(s: pd.Series) -> bool:
    arr = s.to_numpy(dtype="float64", na_value=np.nan)
    arr = arr[~np.isnan(arr)]
    return bool(np.all(np.isfinite(arr)) and np.all(np.mod(arr, 1) == 0) and np.all(np.abs(arr) < 2.0**63))
