"""Schemas from user DataFrames and from metadata files."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relsynth.errors import ConfigError, SchemaError
from relsynth.schema import Schema, coerce_frame, schema_from_dataframes, schema_from_metadata


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame({
        "id": [1, 2, 3],
        "name": pd.Series(["a", "b", None], dtype="str"),
        "vip": [True, False, True],
        "score": [1.5, np.nan, 2.0],
        "joined": pd.to_datetime(["2020-01-01", "2021-02-03", "2022-03-04"]),
        "seen": pd.to_datetime(["2020-01-01 10:00", None, "2022-03-04 00:00"]),
        "tier": pd.Series(["gold", "silver", "gold"], dtype="category"),
    })
    orders = pd.DataFrame({
        "order_id": [10, 11, 12, 13],
        "customer_id": [1.0, 2.0, np.nan, 1.0],  # integer key with a NULL, as pandas stores it
        "amount": [decimal.Decimal("1.10"), decimal.Decimal("2.20"), None, decimal.Decimal("4")],
        "blob": [b"x", None, b"", b"z"],
        "day": [dt.date(2020, 1, 1), dt.date(2020, 1, 2), None, dt.date(2020, 1, 4)],
        "at": [dt.time(1), None, dt.time(2), dt.time(3)],
        "ref": [uuid.uuid4(), uuid.uuid4(), None, uuid.uuid4()],
        "meta": [{"a": 1}, [1, 2], None, {}],
    })
    return {"customers": customers, "orders": orders}


def test_infers_kinds_nullability_and_row_counts(frames: dict[str, pd.DataFrame]) -> None:
    schema = schema_from_dataframes(
        frames,
        primary_keys={"customers": "id", "orders": ["order_id"]},
        foreign_keys=[{"child": "orders", "columns": "customer_id", "parent": "customers"}],
    )
    c = schema.table("customers")
    o = schema.table("orders")
    kinds = {col.name: col.kind for col in c.columns + o.columns}
    assert kinds == {
        "id": "integer", "name": "string", "vip": "boolean", "score": "float", "joined": "date",
        "seen": "datetime", "tier": "string", "order_id": "integer", "customer_id": "integer",
        "amount": "decimal", "blob": "binary", "day": "date", "at": "time", "ref": "uuid", "meta": "json",
    }
    assert c.column("tier").enum_values == ["gold", "silver"]
    assert c.column("id").precision == 64
    assert not c.column("id").nullable and c.column("name").nullable and not c.column("vip").nullable
    assert o.column("customer_id").nullable
    assert (c.row_count, o.row_count) == (3, 4)
    assert c.primary_key == ["id"] and o.primary_key == ["order_id"]
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in o.foreign_keys] == [
        (["customer_id"], "customers", ["id"])
    ]
    # The inferred schema and coerce_frame agree: every frame converts cleanly.
    for name, df in frames.items():
        coerce_frame(df, schema.table(name))


def test_float_non_key_stays_float_and_kinds_override(frames: dict[str, pd.DataFrame]) -> None:
    schema = schema_from_dataframes(frames, kinds={"orders": {"customer_id": "float", "amount": "float"}})
    assert schema.table("orders").column("customer_id").kind == "float"
    assert schema.table("orders").column("amount").kind == "float"
    assert schema.table("customers").primary_key == []


def test_composite_foreign_key_with_parent_columns() -> None:
    parents = pd.DataFrame({"a": [1, 1], "b": ["x", "y"]})
    kids = pd.DataFrame({"k": [1], "pa": [1], "pb": ["y"]})
    schema = schema_from_dataframes(
        {"p": parents, "c": kids},
        primary_keys={"p": ["a", "b"], "c": "k"},
        foreign_keys=[{"child": "c", "columns": ["pa", "pb"], "parent": "p", "parent_columns": ["a", "b"],
                       "name": "fk_c_p"}],
    )
    fk = schema.table("c").foreign_keys[0]
    assert (fk.columns, fk.ref_columns, fk.name) == (["pa", "pb"], ["a", "b"], "fk_c_p")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"primary_keys": {"customer": "id"}}, r"no table 'customer'.*did you mean 'customers'"),
        ({"primary_keys": {"customers": "idd"}}, r"no column 'idd'.*did you mean 'id'"),
        ({"foreign_keys": [{"child": "orders", "columns": "customerid", "parent": "customers"}]},
         r"no column 'customerid'.*did you mean 'customer_id'"),
        ({"foreign_keys": [{"child": "order", "columns": "customer_id", "parent": "customers"}]},
         r"did you mean 'orders'"),
        ({"foreign_keys": [{"child": "orders", "columns": "customer_id", "parent": "customers"}]},
         r"has no primary key"),
        ({"foreign_keys": [{"child": "orders", "column": "customer_id", "parent": "customers"}]},
         r"unknown field 'column'.*did you mean 'columns'"),
        ({"kinds": {"orders": {"amount": "money"}}}, r"not a kind"),
        ({"kinds": {"orders": {"amnt": "float"}}}, r"did you mean 'amount'"),
    ],
)
def test_bad_names_raise_schema_error(frames: dict[str, pd.DataFrame], kwargs: dict, pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        schema_from_dataframes(frames, **kwargs)


def test_unsupported_dtype_and_bad_frames() -> None:
    with pytest.raises(SchemaError, match="timedelta64"):
        schema_from_dataframes({"t": pd.DataFrame({"d": pd.to_timedelta([1], unit="s")})})
    with pytest.raises(SchemaError, match="not a string"):
        schema_from_dataframes({"t": pd.DataFrame({0: [1]})})
    with pytest.raises(SchemaError, match="no DataFrames"):
        schema_from_dataframes({})


def test_all_null_and_empty_columns() -> None:
    schema = schema_from_dataframes({"t": pd.DataFrame({"n": [None, None], "e": pd.Series([], dtype=object)
                                                        .reindex(range(2))})})
    assert schema.table("t").column("n").kind == "string"
    assert schema.table("t").column("n").nullable


def test_metadata_round_trip_dict_and_file(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    schema = schema_from_dataframes(
        frames, primary_keys={"customers": "id"},
        foreign_keys=[{"child": "orders", "columns": ["customer_id"], "parent": "customers", "parent_columns": "id"}],
    )
    data = schema.to_dict()
    assert schema_from_metadata(data) == schema
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(data))
    assert schema_from_metadata(path) == schema
    assert schema_from_metadata(str(path)) == schema


def test_metadata_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        schema_from_metadata(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        schema_from_metadata(bad)
    with pytest.raises(SchemaError, match='"tables"'):
        schema_from_metadata({"dialect": None})
    table = {"name": "t", "columns": [{"name": "id", "kind": "integer"}], "primary_key": ["idd"]}
    with pytest.raises(SchemaError, match="did you mean 'id'"):
        schema_from_metadata({"tables": [table]})
    table = {"name": "t", "columns": [{"name": "id", "kind": "integr"}]}
    with pytest.raises(SchemaError, match="did you mean 'integer'"):
        schema_from_metadata({"tables": [table]})
    child = {"name": "c", "columns": [{"name": "pid", "kind": "integer"}],
             "foreign_keys": [{"columns": ["pid"], "ref_table": "parent", "ref_columns": ["id"]}]}
    with pytest.raises(SchemaError, match="'parent'"):
        schema_from_metadata({"tables": [child]})
    assert isinstance(schema_from_metadata({"tables": [table | {"columns": [{"name": "id", "kind": "integer"}]}]}),
                      Schema)
