"""Whole-row copies of source rows: what makes one, and how the sampler avoids them.

A synthetic row is a *copy* when it equals a source row on every non-key, non-binary column
(:func:`copy_columns`; NULL equals NULL), compared as the values are written
(:func:`row_hashes`: integers as integers, floats rounded to the column's scale, dates as
dates, datetimes to the microsecond), so a copy in the target database is a copy here.

Where the source rows already take up most of the possible combinations of the columns'
values (:func:`domain_forced`: a table of two booleans), a synthetic row can hardly avoid
being one, and nothing is done about it.

Elsewhere the model keeps :class:`RowFingerprints`: the keyed hashes of the source rows'
written form (:func:`row_hashes`, whole columns at a time), cut to few bits: about
:data:`ROW_BUCKETS` buckets per source row, so a fresh row falls on a source row's bucket by chance about once in 64, and never
fewer than :data:`ROWS_PER_BUCKET` possible rows per bucket, so the set does not spell out
the rows. The sampler redraws a row whose fingerprint is a source row's (see
``relsynth.sampling.relational``). *Fresh* columns (personal data, UUIDs, generated unique
keys) are made anew and never equal a source value, so they enter the fingerprint only as
NULL, blank or a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from relsynth.schema.frames import numeric_values
from relsynth.schema.model import Column, Table
from relsynth.transform.keys import distinct_ints

__all__ = [
    "ROW_BUCKETS",
    "ROWS_PER_BUCKET",
    "RowFingerprints",
    "copy_columns",
    "domain_forced",
    "domain_size",
    "possible_rows",
    "row_hashes",
]

#: Fingerprint buckets per distinct source row: the share of fresh rows redrawn by chance is about 1/64.
ROW_BUCKETS = 64
#: Fewest possible rows (combinations of the columns' source values) per fingerprint bucket.
ROWS_PER_BUCKET = 16
#: Largest share of the buckets the source rows may take up; beyond it many fresh rows would be
#: redrawn (and dropped, where the model makes few other rows), and the table is left alone.
MAX_OCCUPANCY = 0.125

#: The hash of NULL, in any column.
_NULL = np.uint64(0x6A09E667F3BCC908)
#: Key of the text hash (SipHash, :func:`pandas.util.hash_array`); fixed so that fitting the same
#: data twice gives the same model.
_TEXT_KEY = "relsynth.rows.v2"
#: Key mixed into a row's hash before it is cut to a fingerprint.
_ROW_KEY = np.uint64(0x3C6EF372FE94F82B)


def copy_columns(table: Table, *frames: pd.DataFrame) -> list[str]:
    """The columns on which a synthetic row equal to a source row is a copy: not keys, not
    binaries (random bytes, never a copy), present in every frame given."""
    keys = set(table.primary_key) | table.fk_columns
    return [c.name for c in table.columns
            if c.name not in keys and c.kind != "binary" and all(c.name in f for f in frames)]


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a well-spread 64-bit hash of each 64-bit value (vectorized)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _column_hashes(column: Column, values: pd.Series, fresh: bool) -> np.ndarray:
    """A 64-bit hash of each of one column's values in the written form (equal hashes: equal
    values in the target database); NULL has its own. Numbers and naive timestamps are hashed
    value by value in numpy; anything else once per distinct value."""
    kind = column.kind
    if not fresh and kind in ("integer", "float", "decimal", "boolean") and values.dtype != object:
        return _where_null(_number_hashes(numeric_values(values), kind, column.scale), values)
    if not fresh and kind in ("date", "datetime") and pd.api.types.is_datetime64_dtype(values) \
            and values.dt.tz is None:
        return _where_null(_stamp_hashes(values, kind), values)
    codes, uniques = pd.factorize(values)
    distinct = pd.Series(uniques, dtype=values.dtype if len(uniques) else object)
    if fresh:  # made anew: only NULL, blank or "a value" can be the same
        h = np.where(distinct.astype(str).str.strip().to_numpy() == "", np.uint64(1), np.uint64(2))
    elif kind in ("integer", "float", "decimal", "boolean"):
        h = _number_hashes(_distinct_numbers(distinct), kind, column.scale)
    elif kind in ("date", "datetime"):
        stamps = distinct
        if not (pd.api.types.is_datetime64_dtype(distinct) and distinct.dt.tz is None):  # naive stamps as they are
            stamps = pd.to_datetime(distinct.astype(object), errors="coerce", utc=column.timezone)
            if column.timezone:
                stamps = stamps.dt.tz_localize(None)
        h = _stamp_hashes(stamps, kind)
    else:
        # Text, and anything else as its text (the hash takes str() of what is not a string).
        h = pd.util.hash_array(distinct.to_numpy(dtype=object), hash_key=_TEXT_KEY, categorize=False)
    return np.append(h.astype(np.uint64), _NULL)[codes]  # code -1 (NULL): its own hash


def _distinct_numbers(distinct: pd.Series) -> np.ndarray:
    """A number column's few distinct values (object dtype: Python booleans, ints, Decimals, or
    text) as floats: numpy converts the common ones at once, :func:`numeric_values` the rest
    (its pandas path costs ~1 ms whatever the size, for the two values of a boolean)."""
    try:
        return np.asarray(distinct.to_numpy(), dtype=np.float64)
    except (TypeError, ValueError):
        return numeric_values(distinct)


def _number_hashes(x: np.ndarray, kind: str, scale: int | None) -> np.ndarray:
    """Hashes of numbers as written: integers and booleans whole, decimals at their scale."""
    digits = 0 if kind in ("integer", "boolean") else scale
    if digits is not None:
        x = np.round(x, digits)
    return _mix((np.asarray(x, dtype=np.float64) + 0.0).view(np.uint64))  # + 0.0: -0.0 is written as 0


def _stamp_hashes(stamps: pd.Series, kind: str) -> np.ndarray:
    """Hashes of naive timestamps as written: dates to the day, datetimes to the microsecond."""
    return _mix(stamps.to_numpy(dtype="datetime64[D]" if kind == "date" else "datetime64[us]").view(np.int64))


def _where_null(h: np.ndarray, values: pd.Series) -> np.ndarray:
    """``h`` with NULL's own hash where ``values`` is NULL."""
    return np.where(values.isna().to_numpy(), _NULL, h.astype(np.uint64))


def row_hashes(table: Table, frame: pd.DataFrame, columns: list[str], fresh: set[str] = frozenset()) -> np.ndarray:
    """A 64-bit hash of each row of ``frame`` on ``columns``, every value in its written form
    (equal hashes: equal rows in the target database, but for a chance of about 2**-64 a pair);
    ``fresh`` columns count only as NULL, blank or a value. Vectorized: no Python per row."""
    h = np.zeros(len(frame), dtype=np.uint64)
    for position, c in enumerate(columns):
        with np.errstate(over="ignore"):
            h = _mix(h ^ _column_hashes(table.column(c), frame[c], c in fresh) + np.uint64(position))
    return h


def domain_size(real: pd.DataFrame, columns: list[str]) -> float:
    """Possible rows: the product of the columns' distinct source values (NULL counting; without
    end where a column's values are mostly distinct)."""
    distinct = [_distinct(real, c) for c in columns]
    return float(np.prod(distinct, dtype=np.float64))


def _distinct(real: pd.DataFrame, column: str) -> float:
    """A column's distinct source values (NULL counting), or infinity where most values are
    distinct (a measurement, a timestamp, a title: its domain is far larger than its source values)."""
    d = max(real[column].nunique(dropna=False), 1)
    return float("inf") if d > max(20, 0.5 * len(real)) else float(d)


def possible_rows(table: Table, real: pd.DataFrame, columns: list[str]) -> float:
    """How many rows someone guessing the source rows would have to try: per column, the
    written values within the source's range (integers and dates every one, decimals at their
    scale, other numbers and datetimes without end), or its distinct values (text, booleans:
    :func:`domain_size`'s count); multiplied."""
    total = 1.0
    for c in columns:
        column, values = table.column(c), real[c]
        x = numeric_values(values) if column.kind in ("integer", "decimal", "float", "date", "datetime") else None
        if x is not None and column.kind != "boolean" and np.isfinite(x).any():
            lo, hi = np.nanmin(x), np.nanmax(x)
            step = {"integer": 1.0, "date": 86_400e6}.get(column.kind)
            if step is None and column.kind in ("decimal", "float") and column.scale is not None:
                step = 10.0 ** -column.scale
            if step is None:
                return float("inf")
            size = np.floor((hi - lo) / step) + 1 + float(values.isna().any())
        else:
            size = _distinct(real, c)
        total *= float(size)
    return total


def domain_forced(real: pd.DataFrame, columns: list[str], distinct_rows: int) -> bool:
    """Whether the source's ``distinct_rows`` already take up at least half of the possible rows
    (:func:`domain_size`), so a synthetic row of source values can hardly avoid being a copy."""
    return bool(columns) and distinct_rows >= 0.5 * domain_size(real, columns)


#: Widest fingerprints :meth:`RowFingerprints.matches` looks up in a table of them all (4 MB of
#: booleans at most); wider ones are searched in the sorted fingerprints.
TABLE_BITS = 22


@dataclass
class RowFingerprints:
    """Fingerprints of a table's source rows, for the sampler to redraw rows that may be copies.

    Attributes:
        columns: The columns compared (:func:`copy_columns`).
        fresh: Those of them made anew, never a source value (personal data, UUIDs, generated
            keys): compared as NULL, blank or a value.
        bits: Width of a fingerprint.
        values: The sorted fingerprints of the distinct source rows.
    """

    columns: list[str]
    fresh: list[str] = field(default_factory=list)
    bits: int = 0
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    @classmethod
    def fit(cls, table: Table, real: pd.DataFrame, fresh: set[str] = frozenset()) -> RowFingerprints | None:
        """The fingerprints of ``real``'s rows, or None where no synthetic row can be a copy (a
        fresh column the source never leaves NULL or blank), where the domain forces copies
        (:func:`domain_forced`), or where the buckets could not hide the rows."""
        columns = copy_columns(table, real)
        if not columns or not len(real):
            return None
        fresh = {c for c in fresh if c in columns}
        for c in fresh:  # every source row has a value there, and no generated value is one
            if not ((real[c].isna()) | (real[c].astype(str).str.strip() == "")).any():
                return None
        distinct = pd.unique(row_hashes(table, real, columns, fresh))
        if domain_forced(real, columns, distinct.size):
            return None
        # About ROW_BUCKETS buckets per row (rounded up: at most 1/64 of fresh rows redrawn by
        # chance), but never fewer than ROWS_PER_BUCKET possible rows in one.
        bits = min(np.ceil(np.log2(ROW_BUCKETS * distinct.size)),
                   np.floor(np.log2(max(possible_rows(table, real, columns) / ROWS_PER_BUCKET, 2.0))))
        bits = int(np.clip(bits, 1, 62))
        values = distinct_ints(_cut(distinct, bits))
        if values.size > MAX_OCCUPANCY * 2**bits:
            return None
        return cls(columns, sorted(fresh), bits, values)

    def matches(self, table: Table, frame: pd.DataFrame) -> np.ndarray:
        """True where a row of ``frame`` falls on a source row's fingerprint (it may be a copy)."""
        if not len(frame):
            return np.zeros(0, dtype=bool)
        prints = _cut(row_hashes(table, frame, self.columns, set(self.fresh)), self.bits)
        if self.bits <= TABLE_BITS:
            return self._taken()[prints]
        at = np.minimum(np.searchsorted(self.values, prints), max(self.values.size - 1, 0))
        return self.values[at] == prints if self.values.size else np.zeros(len(frame), dtype=bool)

    def _taken(self) -> np.ndarray:
        """Whether each of the ``2**bits`` fingerprints is a source row's, made once: a lookup per
        row instead of a binary search (3 ms of the demo's 29,246 lab results, redone at every
        check of the sampler)."""
        taken = self.__dict__.get("_taken_table")
        if taken is None:
            taken = np.zeros(1 << self.bits, dtype=bool)
            taken[self.values] = True
            self.__dict__["_taken_table"] = taken
        return taken

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_taken_table"}  # made again where needed

    def rule(self, table: Table) -> NotACopy:
        """A row rule (``holds(frame)``) for the sampler's redraws."""
        return NotACopy(self, table)

    def to_state(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "fresh": list(self.fresh), "bits": self.bits,
                "values": self.values}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RowFingerprints:
        return cls(list(state["columns"]), list(state["fresh"]), int(state["bits"]),
                   np.asarray(state["values"], dtype=np.uint64))


def _cut(hashes: np.ndarray, bits: int) -> np.ndarray:
    """Row hashes as keyed fingerprints of ``bits`` bits."""
    return _mix(hashes ^ _ROW_KEY) & np.uint64((1 << bits) - 1)


@dataclass
class NotACopy:
    """Holds for rows whose fingerprint is no source row's (see :class:`RowFingerprints`)."""

    prints: RowFingerprints
    table: Table
    label: str = "a row equal to a source row"

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        return ~self.prints.matches(self.table, frame)
