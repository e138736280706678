"""The frame convention: coerce_frame turns driver output and user frames into fixed dtypes."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import numpy as np
import pandas as pd
import pytest

from relsynth.errors import SourceError
from relsynth.schema import DTYPES, Column, Table, coerce_frame, coerce_series, dtype_for, empty_frame


def one(kind: str, values: list | pd.Series, **kw: object) -> pd.Series:
    """Coerce a single column of ``kind``."""
    table = Table("t", [Column("c", kind, **kw)])
    df = pd.DataFrame({"c": values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)})
    out = coerce_frame(df, table)["c"]
    assert str(out.dtype) == DTYPES[kind]
    return out


def test_dtype_table_covers_every_kind() -> None:
    from relsynth.schema import KINDS

    assert set(DTYPES) == set(KINDS)
    assert dtype_for("integer") == "Int64"
    assert dtype_for("date") == "datetime64[us]"


def test_integer_from_strings_floats_decimals_and_nulls() -> None:
    assert one("integer", ["1", " 2 ", None, "", np.nan]).tolist() == [1, 2, pd.NA, pd.NA, pd.NA]
    assert one("integer", pd.Series([1.0, np.nan, 3.0])).tolist() == [1, pd.NA, 3]
    assert one("integer", [decimal.Decimal("7"), None]).tolist() == [7, pd.NA]
    assert one("integer", pd.Series([True, False])).tolist() == [1, 0]
    # Exact above 2**53: built from Python ints, not through float64.
    assert one("integer", [2**63 - 1, None, -(2**63)]).tolist() == [2**63 - 1, pd.NA, -(2**63)]
    assert one("integer", pd.Series([5, 6], dtype="int8")).tolist() == [5, 6]


@pytest.mark.parametrize("bad", ["1.5", "abc", 2**64, 1.25])
def test_integer_rejects_non_integers(bad: object) -> None:
    with pytest.raises(SourceError, match=r"t\.c as integer: value .* is not a valid integer"):
        one("integer", [1, bad])


def test_float_and_decimal_become_float64() -> None:
    out = one("decimal", [decimal.Decimal("1.25"), None, "3.5", "NaN", "Infinity", 2])
    assert out.iloc[0] == 1.25 and np.isnan(out.iloc[1]) and out.iloc[2] == 3.5 and np.isnan(out.iloc[3])
    assert out.iloc[4] == np.inf and out.iloc[5] == 2.0
    assert one("float", pd.Series([1, None], dtype="Int64")).tolist()[0] == 1.0
    with pytest.raises(SourceError, match="value 'x1'"):
        one("float", ["1", "x1"])


def test_boolean_from_words_numbers_and_bools() -> None:
    out = one("boolean", ["t", "F", "yes", "0", 1, None, True, np.False_, ""])
    assert out.tolist() == [True, False, True, False, True, pd.NA, True, False, pd.NA]
    assert one("boolean", pd.Series([0, 1, None], dtype="Int64")).tolist() == [False, True, pd.NA]
    assert one("boolean", pd.Series([1.0, 0.0, np.nan])).tolist() == [True, False, pd.NA]
    with pytest.raises(SourceError, match="value 2"):
        one("boolean", pd.Series([0, 1, 2]))
    with pytest.raises(SourceError, match="value 'maybe'"):
        one("boolean", ["maybe"])
    # As sqlite3 hands over 0/1 columns with NULLs: Python numbers (or bools) in an object column.
    for raw in ([0, 1, None, 1], [0.0, 1.0, None, 1.0], [False, True, None, True]):
        assert one("boolean", pd.Series(raw, dtype=object)).tolist() == [False, True, pd.NA, True]
    with pytest.raises(SourceError, match="value 2"):
        one("boolean", pd.Series([0, 1, None, 2], dtype=object))


def test_string_keeps_str_and_none() -> None:
    out = one("string", pd.Series(["a", None, "", "ü"], dtype="str"))  # pandas 3 str dtype
    assert out.tolist() == ["a", None, "", "ü"]
    assert all(v is None or type(v) is str for v in out)
    mixed = one("string", ["a", 1, 2.0, 2.5, b"by", None, np.nan, pd.NA])
    assert mixed.tolist() == ["a", "1", "2", "2.5", "by", None, None, None]
    assert one("string", pd.Series([1, None], dtype="Int64")).tolist() == ["1", None]


def test_string_from_categorical() -> None:
    out = one("string", pd.Series(["x", None, "y"], dtype="category"))
    assert out.tolist() == ["x", None, "y"]


def test_uuid_is_canonical_lowercase() -> None:
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    out = one("uuid", [u, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
                       "a0eebc999c0b4ef8bb6d6bb9bd380a11", u.bytes, None, ""])
    assert out.tolist() == [str(u)] * 5 + [None, None]
    with pytest.raises(SourceError, match="value 'not-a-uuid'"):
        one("uuid", ["not-a-uuid"])


def test_json_is_text() -> None:
    out = one("json", [{"a": [1, 2]}, "[1, 2]", None, 3, True, "null"])
    assert out.tolist() == ['{"a": [1, 2]}', "[1, 2]", None, "3", "true", "null"]


def test_date_and_datetime() -> None:
    d = one("date", ["2020-01-31", dt.date(2020, 2, 1), dt.datetime(2020, 2, 2, 13, 5), None, "", "9999-12-31"])
    assert d.tolist()[:3] == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-01"), pd.Timestamp("2020-02-02")]
    assert d.isna().tolist() == [False, False, False, True, True, False]
    assert d.iloc[5] == pd.Timestamp("9999-12-31")  # beyond the nanosecond range
    t = one("datetime", ["2020-01-01T10:00:00+02:00", "2020-01-01 10:00:00", "2020-01-01 10:00:00.123456", None])
    assert t.tolist()[:3] == [pd.Timestamp("2020-01-01 08:00"), pd.Timestamp("2020-01-01 10:00"),
                              pd.Timestamp("2020-01-01 10:00:00.123456")]
    aware = pd.Series(pd.to_datetime(["2020-06-01 12:00"]).tz_localize("Europe/Berlin"))
    assert one("datetime", aware, timezone=True).tolist() == [pd.Timestamp("2020-06-01 10:00")]
    ns = pd.Series(pd.to_datetime(["2021-03-04 05:06:07"]).astype("datetime64[ns]"))
    assert str(one("datetime", ns).dtype) == "datetime64[us]"
    assert one("datetime", ["03/04/2021"]).iloc[0] == pd.Timestamp("2021-03-04")  # non-ISO fallback


@pytest.mark.parametrize("bad", ["2020-13-45", "0000-00-00 00:00:00", "yesterday-ish"])
def test_datetime_rejects_garbage(bad: str) -> None:
    with pytest.raises(SourceError, match=r"t\.c as datetime"):
        one("datetime", ["2020-01-01", bad])


def test_datetime_refuses_numbers() -> None:
    with pytest.raises(SourceError, match="value 1600000000"):
        one("datetime", pd.Series([1600000000]))


def test_time_from_text_time_and_timedelta() -> None:
    out = one("time", ["10:00", "23:59:59.5", "10:00:00+02", dt.time(1, 2), None])
    assert out.tolist() == [dt.time(10), dt.time(23, 59, 59, 500000), dt.time(10), dt.time(1, 2), None]
    assert one("time", [dt.timedelta(hours=3, minutes=4), None]).tolist() == [dt.time(3, 4), None]
    assert one("time", pd.Series(pd.to_timedelta(["01:00:00", None]))).tolist() == [dt.time(1), None]
    with pytest.raises(SourceError, match="time"):
        one("time", [dt.timedelta(hours=-10)])
    with pytest.raises(SourceError, match="value '25:00'"):
        one("time", ["25:00"])


def test_binary_from_memoryview_bytearray_str() -> None:
    out = one("binary", [memoryview(b"ab"), bytearray(b"c"), b"", "é", None, np.nan])
    assert out.tolist() == [b"ab", b"c", b"", "é".encode(), None, None]
    assert all(v is None or type(v) is bytes for v in out)
    with pytest.raises(SourceError, match="as binary: value 5"):
        one("binary", [5])


def test_coerce_frame_orders_columns_and_resets_index() -> None:
    table = Table("t", [Column("a", "integer"), Column("b", "string")])
    df = pd.DataFrame({"b": ["x", "y"], "extra": [1, 2], "a": ["1", "2"]}, index=[10, 20])
    out = coerce_frame(df, table)
    assert list(out.columns) == ["a", "b"]
    assert isinstance(out.index, pd.RangeIndex) and list(out.index) == [0, 1]
    assert out["a"].tolist() == [1, 2]


def test_coerce_frame_missing_column() -> None:
    table = Table("t", [Column("a", "integer"), Column("b", "string")])
    with pytest.raises(SourceError, match="table 't' data has no column 'b'"):
        coerce_frame(pd.DataFrame({"a": [1]}), table)


def test_error_message_is_one_line_with_table_column_and_example() -> None:
    table = Table("orders", [Column("placed", "date")])
    with pytest.raises(SourceError) as info:
        coerce_frame(pd.DataFrame({"placed": ["2020-01-01", "soon", "later"]}), table)
    msg = str(info.value)
    assert "\n" not in msg
    assert "orders.placed" in msg and "'soon'" in msg and "2 bad values" in msg


def test_empty_frame_and_zero_rows() -> None:
    table = Table("t", [Column(k, k) for k in DTYPES])
    e = empty_frame(table)
    assert list(e.columns) == list(DTYPES) and len(e) == 0
    assert {c: str(t) for c, t in e.dtypes.items()} == DTYPES
    out = coerce_frame(pd.DataFrame({k: pd.Series([], dtype=object) for k in DTYPES}), table)
    assert {c: str(t) for c, t in out.dtypes.items()} == DTYPES


def test_coerce_series_keeps_index() -> None:
    s = pd.Series(["1", None], index=["x", "x"])
    out = coerce_series(s, Column("c", "integer"))
    assert list(out.index) == ["x", "x"] and out.tolist() == [1, pd.NA]


def test_already_conventional_frames_pass_through() -> None:
    table = Table("t", [Column(k, k) for k in DTYPES])
    first = coerce_frame(pd.DataFrame({
        "integer": [1], "float": [1.5], "decimal": ["2.5"], "boolean": [True], "string": ["s"],
        "uuid": [str(uuid.uuid4())], "json": ["{}"], "date": ["2020-01-01"], "datetime": ["2020-01-01 01:02:03"],
        "time": ["01:02:03"], "binary": [b"x"],
    }), table)
    again = coerce_frame(first, table)
    pd.testing.assert_frame_equal(first, again)
