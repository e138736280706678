"""The frame convention: how every stage holds a table's rows in pandas.

Every stage exchanges ``dict[str, DataFrame]``: one DataFrame per table, a RangeIndex, the
columns in schema order and one dtype per :data:`~relsynth.schema.model.Kind`:

============  ==========================  =====================================================
kind          dtype                       values / missing value
============  ==========================  =====================================================
integer       ``Int64``                   ``pd.NA``
float         ``float64``                 ``NaN``
decimal       ``float64``                 decimals held as floats; ``NaN``
boolean       ``boolean``                 ``pd.NA``
string        ``object``                  ``str`` or ``None``; native types in their text form
                                          (PostgreSQL arrays as ``{a,"b c"}`` literals, intervals
                                          as ``1 day 02:00:00``, MySQL SET as ``a,b``)
uuid          ``object``                  canonical lower-case 36-character ``str`` or ``None``
json          ``object``                  the JSON text as ``str`` or ``None``
date          ``datetime64[us]``          midnight of the day; ``NaT``
datetime      ``datetime64[us]``          naive; timezone-aware input converted to UTC; ``NaT``
time          ``object``                  ``datetime.time`` or ``None``
binary        ``object``                  ``bytes`` or ``None``
============  ==========================  =====================================================

Microseconds (pandas 3's default unit) are used for dates and datetimes because they cover
every date SQL databases store (0001-01-01 to 9999-12-31); nanoseconds stop at 2262.

:func:`coerce_frame` turns what drivers, ``pd.read_sql`` and users hand over into that form,
column by column and vectorized; a value it cannot convert raises :class:`SourceError`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.api.types import infer_dtype

from relsynth.errors import SourceError
from relsynth.schema.model import Column, Table
from relsynth.transform.native import render_pg_array, timedelta_interval

__all__ = ["DTYPES", "DATETIME_DTYPE", "dtype_for", "empty_frame", "coerce_series", "coerce_frame", "numeric_values"]

log = logging.getLogger("relsynth")

#: The dtype of date and datetime columns.
DATETIME_DTYPE = "datetime64[us]"

#: pandas dtype of each kind in the frame convention.
DTYPES: dict[str, str] = {
    "integer": "Int64",
    "float": "float64",
    "decimal": "float64",
    "boolean": "boolean",
    "string": "object",
    "uuid": "object",
    "json": "object",
    "date": DATETIME_DTYPE,
    "datetime": DATETIME_DTYPE,
    "time": "object",
    "binary": "object",
}

_INT64_MAX = float(2**63)
_TRUE_WORDS = ("true", "t", "1", "1.0", "yes", "y", "on")
_FALSE_WORDS = ("false", "f", "0", "0.0", "no", "n", "off")
_BOOL_WORDS: dict[str, bool] = {**{w: True for w in _TRUE_WORDS}, **{w: False for w in _FALSE_WORDS}}
_UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# A trailing UTC offset on a time-of-day ("10:00:00+02", "10:00:00-03:30") is dropped: the
# convention keeps naive times (PostgreSQL "time with time zone" is the only source of them).
_TIME_OFFSET_RE = r"(?:[+-]\d{2}(?::?\d{2})?|Z)$"


class _BadValues(Exception):
    """Raised inside a converter: ``mask`` marks the input values that could not be converted."""

    def __init__(self, mask: pd.Series) -> None:
        super().__init__("bad values")
        self.mask = mask


def dtype_for(kind: str) -> str:
    """Return the pandas dtype that the frame convention uses for ``kind``.

    Args:
        kind: A logical column kind (see :data:`relsynth.schema.model.KINDS`).

    Returns:
        The dtype name, e.g. ``"Int64"`` for ``"integer"``.
    """
    return DTYPES[kind]


def numeric_values(s: pd.Series) -> np.ndarray:
    """Every value of a number-like column as float64 in row order, NaN for NULL (datetimes as
    microseconds since the epoch; text that is no number becomes NaN)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.to_numpy(dtype="datetime64[us]").astype(np.int64).astype(np.float64)
        out[s.isna().to_numpy()] = np.nan
        return out
    if ptypes.is_numeric_dtype(s.dtype) or ptypes.is_bool_dtype(s.dtype):  # Int64, float64, boolean: no parsing
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(s.astype(object).where(s.notna(), None), errors="coerce").to_numpy(dtype=np.float64)


def empty_frame(table: Table) -> pd.DataFrame:
    """Return a zero-row DataFrame of ``table`` in the frame convention.

    Args:
        table: The table whose columns and kinds to use.

    Returns:
        An empty DataFrame with the table's columns in order and the convention's dtypes.
    """
    return pd.DataFrame({c.name: pd.Series([], dtype=DTYPES[c.kind]) for c in table.columns},
                        columns=table.column_names)


def coerce_frame(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Convert ``df`` into the frame convention for ``table``.

    Accepts what ``pd.read_sql`` returns for SQLite, PostgreSQL and MariaDB, and user frames:
    str dates and numbers, ``Decimal`` objects, 0/1 or "t"/"yes" booleans, ``memoryview`` or
    ``bytearray`` blobs, ``uuid.UUID`` objects, dicts for JSON, pandas 3 ``str`` columns and so
    on. Empty or blank strings count as missing in every kind except string, json and binary.
    Columns not in the table are dropped (with a warning); the index is reset.

    Args:
        df: The rows of one table.
        table: The table's description; its columns' kinds decide the dtypes.

    Returns:
        A new DataFrame with exactly the table's columns, in order, with the convention's dtypes.

    Raises:
        SourceError: A table column is missing from ``df``, or a value cannot be converted to
            its column's kind (the message names table, column and an example value).
    """
    names = table.column_names
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise SourceError(
            f"table {table.name!r} data has no column {missing[0]!r}; the schema expects: {', '.join(names)}"
        )
    if df.columns.has_duplicates:
        dup = df.columns[df.columns.duplicated()][0]
        raise SourceError(f"table {table.name!r} data has column {dup!r} twice; give each column one name")
    extra = [c for c in df.columns if c not in names]
    if extra:
        log.warning("table %r: ignoring data columns not in the schema: %s", table.name, ", ".join(map(str, extra)))
    out = {}
    for col in table.columns:
        series = df[col.name].reset_index(drop=True)
        out[col.name] = coerce_series(series, col, table.name)
    return pd.DataFrame(out, columns=names, index=pd.RangeIndex(len(df)))


def coerce_series(series: pd.Series, column: Column, table_name: str = "?") -> pd.Series:
    """Convert one column's values into the frame convention for ``column.kind``.

    Args:
        series: The values; its index is kept.
        column: The column description (kind decides the dtype).
        table_name: Used in error messages only.

    Returns:
        The converted series, same index and name.

    Raises:
        SourceError: A value cannot be converted; the message names table, column and example.
    """
    convert = _CONVERTERS[column.kind]
    if column.kind == "string" and column.native_type:
        convert = _to_native_text
    # Converters assign by label, so hand them a clean RangeIndex and restore the index after.
    values = series.reset_index(drop=True)
    try:
        result = convert(values)
    except _BadValues as bad:
        examples = values[bad.mask.to_numpy(dtype=bool)]
        example = examples.iloc[0]
        if isinstance(example, (bytes, bytearray, memoryview)):
            example = bytes(example[:20])
        elif isinstance(example, np.generic):
            example = example.item()
        n = len(examples)
        raise SourceError(
            f"cannot read {table_name}.{column.name} as {column.kind}: value {example!r} is not a valid "
            f"{column.kind} ({n} bad value{'s' if n != 1 else ''}); fix the data or declare the column's kind"
        ) from None
    result.index = series.index
    result.name = series.name
    return result


# --------------------------------------------------------------------------------------------
# helpers


def _as_object(s: pd.Series) -> pd.Series:
    """The values as an object series (categoricals and str dtypes unwrapped)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    return s.astype(object) if s.dtype != object else s


def _is_textual(s: pd.Series) -> bool:
    return s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))


#: ``infer_dtype`` results of object series that hold no string at all.
_NEVER_TEXT = frozenset({"integer", "floating", "mixed-integer-float", "decimal", "boolean", "datetime",
                         "datetime64", "date", "time", "timedelta", "timedelta64", "bytes"})


def _blank_to_na(s: pd.Series) -> pd.Series:
    """Object series with empty/blank strings replaced by None (they mean "missing" for parsed kinds)."""
    s = _as_object(s)
    inferred = infer_dtype(s, skipna=True)
    if inferred in _NEVER_TEXT:
        return s
    if inferred in ("string", "empty"):
        blank = s.notna() & (s.str.strip() == "")
    else:
        blank = pd.Series(_blank(s), index=s.index)
    return s.where(~blank, None) if blank.any() else s


def _blank(s: pd.Series) -> np.ndarray:
    """True where a value is text of only whitespace (it means "missing" for parsed kinds)."""
    return np.fromiter((isinstance(v, str) and not v.strip() for v in s), dtype=bool, count=len(s))


def _as_str(x: pd.Series) -> pd.Series:
    """Object series of str (None stays None); ``astype(str)`` would try to decode bytes."""
    if infer_dtype(x, skipna=True) in ("string", "empty"):
        return x
    return pd.Series([v if isinstance(v, str) or v is None else str(v) for v in x], index=x.index, dtype=object)


def _none_series(index: pd.Index) -> pd.Series:
    """An object series of None (``pd.Series(None, dtype=object)`` would hold NaN)."""
    return pd.Series([None] * len(index), index=index, dtype=object)


def _nulls_to_none(s: pd.Series) -> pd.Series:
    """Object series with every missing marker (NaN, NA, NaT) replaced by None."""
    s = _as_object(s)
    mask = s.isna()
    return s.where(~mask, None) if mask.any() else s


def _float_to_int64(values: pd.Series) -> pd.Series:
    """Float series with integral values → Int64; non-integral or out-of-range values are bad."""
    arr = values.to_numpy(dtype="float64", na_value=np.nan)
    present = ~np.isnan(arr)
    with np.errstate(invalid="ignore"):
        bad = present & ((np.abs(arr) >= _INT64_MAX) | (np.mod(arr, 1) != 0) | ~np.isfinite(arr))
    if bad.any():
        raise _BadValues(pd.Series(bad, index=values.index))
    return pd.Series(pd.array(np.where(present, arr, 0).astype("int64"), dtype="Int64"),
                     index=values.index).mask(~present)


# --------------------------------------------------------------------------------------------
# converters: each takes the input series and returns the converted one, or raises _BadValues


def _to_integer(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("Int64")
    if ptypes.is_integer_dtype(s.dtype):
        if ptypes.is_unsigned_integer_dtype(s.dtype) and s.dtype.itemsize == 8:
            over = (s > np.uint64(2**63 - 1)).fillna(False)
            if over.any():
                raise _BadValues(over)
        return s.astype("Int64")
    if ptypes.is_float_dtype(s.dtype):
        return _float_to_int64(s)
    if ptypes.is_datetime64_any_dtype(s.dtype) or ptypes.is_timedelta64_dtype(s.dtype):
        raise _BadValues(s.notna())
    whole = _python_ints(s)
    if whole is not None:
        return whole
    x = _as_object(s)
    num = pd.to_numeric(x, errors="coerce", dtype_backend="numpy_nullable")  # blank text: NA too
    bad = (num.isna() & x.notna()).to_numpy(dtype=bool, copy=True)
    if bad.any():
        bad[bad] = ~_blank(x[bad])
        if bad.any():
            raise _BadValues(pd.Series(bad, index=s.index))
    if ptypes.is_bool_dtype(num.dtype):
        return num.astype("Int64")
    if ptypes.is_integer_dtype(num.dtype):
        if ptypes.is_unsigned_integer_dtype(num.dtype):
            over = (num > np.uint64(2**63 - 1)).fillna(False)
            if over.any():
                raise _BadValues(over)
        return num.astype("Int64")
    return _float_to_int64(num)


def _python_ints(s: pd.Series) -> pd.Series | None:
    """An object series of Python ints (and NULLs), as a driver returns an INTEGER column, as
    Int64 in one numpy conversion; None for anything else (or ints beyond 64 bits), which the
    general path handles."""
    if s.dtype != object or infer_dtype(s, skipna=True) != "integer":
        return None
    values = s.to_numpy()
    try:
        try:
            ints, missing = np.asarray(values, dtype=np.int64), np.zeros(len(values), dtype=bool)
        except TypeError:  # a NULL among them
            missing = pd.isna(values)
            ints = np.asarray(np.where(missing, 0, values), dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        return None
    return pd.Series(pd.arrays.IntegerArray(ints, missing), index=s.index)


def _to_float(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype) or ptypes.is_numeric_dtype(s.dtype):
        return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
    if ptypes.is_datetime64_any_dtype(s.dtype) or ptypes.is_timedelta64_dtype(s.dtype):
        raise _BadValues(s.notna())
    x = _as_object(s)
    num = pd.to_numeric(x, errors="coerce")  # blank text: NaN too
    bad = num.isna() & x.notna()
    if bad.any():
        # Blank text is NULL and "NaN" written as text a real NaN, not conversion failures.
        failed = x[bad]
        spelled_nan = _as_str(failed).str.strip().str.lower().isin(["nan", "-nan", "+nan"]).to_numpy()
        bad[bad] = ~(spelled_nan | _blank(failed))
        if bad.any():
            raise _BadValues(bad)
    return pd.Series(num.to_numpy(dtype="float64", na_value=np.nan), index=s.index)


def _to_boolean(s: pd.Series) -> pd.Series:
    if ptypes.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    if ptypes.is_numeric_dtype(s.dtype):
        bad = (s.notna() & ~s.isin([0, 1])).to_numpy(dtype=bool)
        if bad.any():
            raise _BadValues(pd.Series(bad, index=s.index))
        return s.astype("Float64").astype("boolean")
    kind = infer_dtype(s, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "boolean"):
        # Numbers or booleans among NULLs (SQLite's 0/1 through sqlite3): the numeric path above
        # gives what the text path would, without rendering each value (40 ms per 30,000 rows).
        numbers = pd.array(s.to_numpy(dtype=object), dtype="boolean" if kind == "boolean" else "Float64")
        return _to_boolean(pd.Series(numbers, index=s.index))
    x = _blank_to_na(s)
    present = x.notna()
    key = _as_str(x).str.strip().str.lower()
    mapped = key.map(_BOOL_WORDS)
    bad = present & mapped.isna()
    if bad.any():
        raise _BadValues(bad)
    return mapped.where(present, None).astype("boolean")


def _to_text(s: pd.Series, render: Callable[[object], str]) -> pd.Series:
    """Object series of str/None; non-str values are rendered with ``render``."""
    if _is_textual(s):
        x = _as_object(s)
        if infer_dtype(x, skipna=True) in ("string", "empty"):
            return _nulls_to_none(x)
        return pd.Series([v if isinstance(v, str) else (None if _missing(v) else render(v)) for v in x],
                         index=s.index, dtype=object)
    present = s.notna()
    if ptypes.is_integer_dtype(s.dtype):
        x = s[present].astype("int64").astype(str).astype(object)
    else:  # floats render whole numbers without ".0", like the object path; datetimes, bools via render
        x = pd.Series([render(v) for v in s[present].tolist()], index=s.index[present], dtype=object)
    return x.reindex(s.index).where(present, None)


def _missing(v: object) -> bool:
    # pd.isna on a list or array answers element-wise, so only ask it about scalars.
    return v is None or (ptypes.is_scalar(v) and not isinstance(v, (str, bytes)) and bool(pd.isna(v)))


def _render_string(v: object) -> str:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _render_json(v: object) -> str:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8")
    if isinstance(v, np.generic):
        v = v.item()
    try:
        return json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(v)


def _to_string(s: pd.Series) -> pd.Series:
    return _to_text(s, _render_string)


def _render_native(v: object) -> str:
    """Text form of a native-typed value as PostgreSQL writes it (drivers hand over lists, timedeltas)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return render_pg_array(v)
    if isinstance(v, dt.timedelta):
        return timedelta_interval(v)
    return _render_string(v)


def _to_native_text(s: pd.Series) -> pd.Series:
    return _to_text(s, _render_native)


def _to_json(s: pd.Series) -> pd.Series:
    return _to_text(s, _render_json)


def _parse_uuid(v: object) -> str | None:
    try:
        if isinstance(v, uuid.UUID):
            return str(v)
        if isinstance(v, (bytes, bytearray, memoryview)) and len(v) == 16:
            return str(uuid.UUID(bytes=bytes(v)))
        return str(uuid.UUID(str(v).strip()))
    except (ValueError, TypeError, AttributeError):
        return None


def _to_uuid(s: pd.Series) -> pd.Series:
    x = _nulls_to_none(_blank_to_na(s))
    present = x.notna()
    out = _none_series(s.index)
    if not present.any():
        return out
    text = _as_str(x[present]).str.strip().str.lower()
    ok = text.str.fullmatch(_UUID_RE).to_numpy(dtype=bool)
    out.loc[text.index[ok]] = text[ok].to_numpy()
    if not ok.all():
        # Braces, missing hyphens, UUID objects, 16 raw bytes: let the uuid module normalize them.
        idx = text.index[~ok]
        parsed = pd.Series([_parse_uuid(v) for v in x[idx]], index=idx, dtype=object)
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise _BadValues(pd.Series(s.index.isin(idx[bad]), index=s.index))
        out.loc[idx] = parsed.to_numpy()
    return out


def _to_datetime64(s: pd.Series) -> pd.Series:
    """Naive datetime64[us] series; aware values converted to UTC; unparseable values are bad."""
    if ptypes.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dtype, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s.astype(DATETIME_DTYPE)
    if ptypes.is_numeric_dtype(s.dtype) or ptypes.is_bool_dtype(s.dtype) or ptypes.is_timedelta64_dtype(s.dtype):
        # Numbers are ambiguous (epoch seconds? days? Excel serials?): refuse rather than guess.
        if s.notna().any():
            raise _BadValues(s.notna())
        return pd.Series(pd.NaT, index=s.index, dtype=DATETIME_DTYPE)
    x = _nulls_to_none(_as_object(s))
    present = x.notna()
    if not present.any():
        return pd.Series(pd.NaT, index=s.index, dtype=DATETIME_DTYPE)
    res = pd.to_datetime(x, errors="coerce", format="ISO8601", utc=True)
    failed = present & res.isna()
    if failed.any():
        # Only what ISO 8601 did not parse is looked at again: blank strings mean missing, and
        # the few non-ISO strings ("03/04/2021", "4 Mar 2021") go to dateutil.
        retry = _blank_to_na(x[failed])
        present.loc[retry.index[retry.isna()]] = False
        retry = retry[retry.notna()]
        is_str = np.array([isinstance(v, str) for v in retry], dtype=bool)
        if is_str.any():
            again = pd.to_datetime(retry[is_str], errors="coerce", format="mixed", utc=True)
            res.loc[again.index] = again
        failed = present & res.isna()
        if failed.any():
            raise _BadValues(failed)
    return res.dt.tz_localize(None).astype(DATETIME_DTYPE)


def _to_datetime(s: pd.Series) -> pd.Series:
    return _to_datetime64(s)


def _to_date(s: pd.Series) -> pd.Series:
    return _to_datetime64(s).dt.normalize()


def _to_time(s: pd.Series) -> pd.Series:
    out = _none_series(s.index)
    if ptypes.is_datetime64_any_dtype(s.dtype):
        present = s.notna()
        out.loc[present] = s[present].dt.time.to_numpy()
        return out
    if ptypes.is_timedelta64_dtype(s.dtype):
        return _timedelta_to_time(s)
    x = _nulls_to_none(_blank_to_na(s))
    present = x.notna()
    if not present.any():
        return out
    kind = infer_dtype(x, skipna=True)
    if kind == "time":
        return x
    if kind == "timedelta":
        return _timedelta_to_time(x)
    if kind == "string":
        is_time = np.zeros(len(x), dtype=bool)
    else:
        is_time = np.array([isinstance(v, dt.time) for v in x], dtype=bool)
        out.loc[is_time] = x[is_time].to_numpy()
    todo = present.to_numpy(dtype=bool) & ~is_time
    if todo.any():
        text = _as_str(x[todo]).str.strip().str.replace(_TIME_OFFSET_RE, "", regex=True)
        parsed = pd.to_datetime("1970-01-01 " + text, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise _BadValues(pd.Series(s.index.isin(text.index[bad]), index=s.index))
        out.loc[todo] = parsed.dt.time.to_numpy()
    return out


def _timedelta_to_time(s: pd.Series) -> pd.Series:
    """Time-of-day from durations (MySQL TIME arrives as timedelta); outside [0, 24h) is bad."""
    td = pd.to_timedelta(s, errors="coerce")
    present = s.notna()
    bad = present & (td.isna() | (td < pd.Timedelta(0)) | (td >= pd.Timedelta(days=1)))
    if bad.any():
        raise _BadValues(bad)
    out = _none_series(s.index)
    out.loc[present] = (pd.Timestamp(0) + td[present]).dt.time.to_numpy()
    return out


def _to_bytes(v: object) -> bytes | None:
    if isinstance(v, bytes):
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, np.ndarray) and v.dtype == np.uint8:
        return v.tobytes()
    return None


def _to_binary(s: pd.Series) -> pd.Series:
    x = _nulls_to_none(s)
    if infer_dtype(x, skipna=True) in ("bytes", "empty"):
        return x
    present = x.notna()
    vals = [None if v is None else _to_bytes(v) for v in x]
    out = pd.Series(vals, index=s.index, dtype=object)
    bad = present & out.isna()
    if bad.any():
        raise _BadValues(bad)
    return out


_CONVERTERS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "integer": _to_integer,
    "float": _to_float,
    "decimal": _to_float,
    "boolean": _to_boolean,
    "string": _to_string,
    "uuid": _to_uuid,
    "json": _to_json,
    "date": _to_date,
    "datetime": _to_datetime,
    "time": _to_time,
    "binary": _to_binary,
}
