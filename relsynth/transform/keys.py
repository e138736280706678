"""Key matching and key assignment, vectorized.

- :func:`match_rows` finds, for each child row, the row of the parent its (possibly composite)
  FK points at.
- :func:`assign_parents` draws parent rows for child rows so each parent's number of children
  follows a learned degree distribution.
- :func:`take_keys` copies the parent key columns of chosen parent rows into child FK columns.
- :func:`permuted` evaluates a seeded random permutation at chosen positions, without building it.
- :func:`distinct_ints`, :func:`int_codes` and :func:`rows_covered`: distinct integers (keys,
  hashes, row numbers, days) found by a sort or a count, not by NumPy's hash table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["match_rows", "adjust_total", "assign_parents", "pair_by_attribute", "take_keys", "null_any",
           "permuted", "distinct_ints", "int_codes", "rows_covered"]


def distinct_ints(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array: ``np.unique`` by a sort.

    NumPy 2.3+ finds an integer array's distinct values with a hash table, a cache miss per
    value where memory is slow: on the 2-core CI machine 0.43 s for 600,000 row numbers (and
    0.05 s for 100,000 64-bit hashes) against 0.04 s (0.005 s) for the sort.
    """
    s = np.sort(np.asarray(values).ravel())
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def int_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-D integer array: the sorted distinct
    values and each value's index among them. Values within a span of a few times their number
    (days of a date column, small codes) are counted in one pass instead of sorted: 0.11 s of
    TPC-H SF 0.1's write went to sorting its 1.8 M dates, 2,500 of them distinct."""
    values = np.asarray(values)
    if values.size == 0:
        return values.copy(), np.zeros(0, dtype=np.int64)
    low, high = values.min(), values.max()
    span = int(high) - int(low) + 1
    if span > 4 * values.size + 1024:
        distinct, codes = np.unique(values, return_inverse=True)
        return distinct, codes.astype(np.int64).ravel()
    offsets = (values - low).astype(np.int64)
    present = np.bincount(offsets, minlength=span) > 0
    index = np.cumsum(present) - 1
    return (np.flatnonzero(present) + low).astype(values.dtype), index[offsets]


def rows_covered(rows: np.ndarray) -> int:
    """How many distinct rows the row numbers ``rows`` name (-1: none), by one count per row."""
    rows = rows[rows >= 0]
    return int(np.count_nonzero(np.bincount(rows))) if rows.size else 0


def null_any(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """True where any of ``columns`` is NULL (an FK with a NULL part references nothing)."""
    return frame[columns].isna().any(axis=1).to_numpy()


def _comparable(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Cast two key columns to one type so equal keys compare equal (SQLite is loosely typed)."""
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        return a.astype("Float64"), b.astype("Float64")
    if pd.api.types.is_datetime64_any_dtype(a) and pd.api.types.is_datetime64_any_dtype(b):
        return a, b
    return a.astype(object).map(_text_key), b.astype(object).map(_text_key)


def _text_key(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def match_rows(child: pd.DataFrame, columns: list[str], parent: pd.DataFrame, ref_columns: list[str]) -> np.ndarray:
    """Parent row position for each child row; -1 where the FK is NULL or points at no parent row."""
    n = len(child)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(parent) == 0:
        return np.full(n, -1, dtype=np.int64)
    if len(columns) == 1:  # one column: a hash lookup of each child key among the parent's
        a, b = _comparable(child[columns[0]].reset_index(drop=True), parent[ref_columns[0]].reset_index(drop=True))
        first = (b.notna() & ~b.duplicated()).to_numpy()  # the first parent row of each key, as the merge
        at = pd.Index(b[first]).get_indexer(a)
        rows = np.where(at >= 0, np.flatnonzero(first)[np.maximum(at, 0)], -1).astype(np.int64)
        rows[a.isna().to_numpy()] = -1
        return rows
    keys = [f"k{i}" for i in range(len(columns))]
    left = pd.DataFrame(index=pd.RangeIndex(n))
    right = pd.DataFrame(index=pd.RangeIndex(len(parent)))
    for key, c, p in zip(keys, columns, ref_columns):
        left[key], right[key] = _comparable(child[c].reset_index(drop=True), parent[p].reset_index(drop=True))
    right["__row"] = np.arange(len(parent))
    right = right.dropna(subset=keys).drop_duplicates(keys)
    merged = left.merge(right, how="left", on=keys, sort=False)
    rows = merged["__row"].to_numpy(dtype=np.float64, na_value=np.nan)
    rows = np.where(np.isnan(rows), -1, rows).astype(np.int64)
    rows[null_any(child.reset_index(drop=True), columns)] = -1
    return rows


def adjust_total(counts: np.ndarray, total: int, rng: np.random.Generator, tail_power: float = 1.0) -> np.ndarray:
    """Integer counts summing to ``total``, as close to ``counts`` as ±1 steps allow.

    Steps go to parents in proportion to their count, so the shape of the distribution (zeros,
    ones, the long tail) survives; rescaling and flooring would instead turn every 1 into 0 as
    soon as the sampled total is a little above ``total``. With ``tail_power`` > 1, added steps
    go in proportion to ``count ** tail_power`` instead, i.e. mostly to the largest counts: where
    a heavy-tailed sample falls short it is its tail that is missing (a hub not drawn), and
    spreading the shortfall over every parent would shift the whole body of the distribution.
    """
    out = np.maximum(np.round(np.asarray(counts, dtype=np.float64)), 0).astype(np.int64)
    n = out.size
    if n == 0 or total <= 0:
        return np.zeros(n, dtype=np.int64)
    if out.sum() == 0:
        return np.bincount(rng.integers(0, n, size=total), minlength=n)
    for _ in range(64):
        diff = total - int(out.sum())
        if diff == 0:
            break
        weight = out.astype(np.float64) ** (tail_power if diff > 0 else 1.0)
        idx = rng.choice(n, size=abs(diff), p=weight / weight.sum())
        np.add.at(out, idx, 1 if diff > 0 else -1)
        np.maximum(out, 0, out=out)
    diff = total - int(out.sum())
    if diff > 0:  # pathological leftovers: give them to random parents
        np.add.at(out, rng.integers(0, n, size=diff), 1)
    elif diff < 0:  # remove from the largest counts first
        for i in np.argsort(-out, kind="stable")[: -diff]:
            out[i] -= 1 if out[i] > 0 else 0
    return out


def assign_parents(n_child: int, degrees: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Parent row for each of ``n_child`` rows, each parent getting about its sampled degree.

    ``degrees`` are drawn independently per parent, so their sum misses ``n_child`` by the
    sample's tail: a shortfall goes mostly to the largest degrees (``tail_power=2``), which keeps
    a skewed (hub-and-spoke) degree distribution's body in place — on a Zipf-like FK of 300
    parents the worst KS distance over ten seeds fell from 0.29 to 0.10.
    """
    if n_child == 0 or degrees.size == 0:
        return np.zeros(0, dtype=np.int64)
    counts = adjust_total(degrees, n_child, rng, tail_power=2.0)
    return rng.permutation(np.repeat(np.arange(degrees.size), counts))


def permuted(positions: np.ndarray, n: int, keys: np.ndarray) -> np.ndarray:
    """Where a random permutation of ``range(n)`` sends each of ``positions`` (all in ``range(n)``).

    The permutation is a Feistel network over the smallest even number of bits that holds
    ``n``, with one round per entry of ``keys`` (64-bit round keys) and a SplitMix64 finalizer
    as round function; values that land at ``n`` or beyond are sent through it again (cycle
    walking), which keeps it a permutation of ``range(n)``. Any slice of positions can be
    evaluated on its own, so partitions take disjoint, shuffled parts of one large pool
    (secondary-FK slots of a whole streamed table) without the pool ever being built.
    """
    x = np.asarray(positions, dtype=np.uint64)
    if n <= 1 or x.size == 0:
        return x.astype(np.int64)
    bits = max(int(n - 1).bit_length(), 2)
    half = (bits + 1) // 2
    mask = np.uint64((1 << half) - 1)
    shift = np.uint64(half)
    round_keys = np.asarray(keys, dtype=np.uint64)
    todo = np.arange(x.size)
    while todo.size:
        left, right = x[todo] >> shift, x[todo] & mask
        for key in round_keys:
            left, right = right, left ^ (_mix64(right ^ key) & mask)
        y = (left << shift) | right
        x[todo] = y
        todo = todo[y >= np.uint64(n)]
    return x.astype(np.int64)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: every bit of the result depends on every bit of ``z``."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _rank_scores(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normal scores of ``x``'s ranks (ties in random order; NaN rows get an independent draw)."""
    from relsynth.transform.normal import ndtri

    n = x.size
    out = rng.standard_normal(n)
    ok = ~np.isnan(x)
    m = int(ok.sum())
    if m:
        order = np.lexsort((rng.random(m), x[ok]))
        ranks = np.empty(m)
        ranks[order] = np.arange(m)
        out[ok] = ndtri((ranks + 0.5) / m)
    return out


def pair_by_attribute(slots: np.ndarray, parent_x: np.ndarray, child_x: np.ndarray, rho: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Reorder parent ``slots`` (one per child row) so a parent attribute follows a child attribute.

    ``slots`` already gives each parent its number of children; this only decides which child
    gets which slot. Slots are sorted by the parent's value (``parent_x``, aligned with slots),
    children by ``rho`` × their own value's normal score plus independent noise, and the two
    orders are zipped: the normal scores of the pair then correlate by about ``rho`` (an order
    line's price follows its product's list price) while every degree stays what it was.
    """
    n = slots.size
    if n < 2 or rho == 0:
        return slots
    parent_z = _rank_scores(parent_x, rng)
    key = rho * _rank_scores(child_x, rng) + np.sqrt(max(1.0 - rho * rho, 0.0)) * rng.standard_normal(n)
    out = np.empty_like(slots)
    out[np.argsort(key, kind="stable")] = slots[np.argsort(parent_z, kind="stable")]
    return out


def take_keys(parent: pd.DataFrame, ref_columns: list[str], rows: np.ndarray) -> dict[str, pd.Series]:
    """Values of ``parent[ref_columns]`` at ``rows`` (NULL where a row is -1), one series per column."""
    missing = rows < 0
    safe = np.where(missing, 0, rows)
    out = {}
    for col in ref_columns:
        if len(parent) == 0:
            out[col] = pd.Series([None] * rows.size, dtype=object)
            continue
        values = parent[col].iloc[safe].reset_index(drop=True)
        out[col] = values.mask(missing) if missing.any() else values
    return out
