"""Column encoders and value generators.

Encoders map a column to standard-normal scores for the Gaussian copula and back:

- :class:`NumericEncoder`: the distributional transform (ties spread uniformly over their
  probability mass) on the way in; a quantile function on the way out — a step function for
  columns with few distinct values (exact frequencies), linear interpolation between quantile
  knots otherwise. Integer-ness and decimal places are restored.
- :class:`CategoricalEncoder`: each category owns an interval of (0, 1) as wide as its frequency.
- :class:`ConditionalCategoricalEncoder`: the same, per bin of a numeric column of the row, so a
  category can follow the numeric in any shape (Medicare from age 65 on).

Generators make values that are not learned through the copula:

- :class:`TextGenerator`: high-cardinality text (names, titles, codes) from character-class
  patterns ("Aaaa 99"), so no real value is ever copied; optionally unique.
- :class:`UuidGenerator` and :class:`BinaryGenerator`.

Every class is plain data: ``to_state()`` returns JSON-able values and numpy arrays, and
``from_state()`` rebuilds it; the model file stores exactly that (no pickle).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from relsynth.transform.keys import distinct_ints
from relsynth.transform.normal import chdtri, ndtr, ndtri

__all__ = [
    "to_normal",
    "from_normal",
    "NumericEncoder",
    "ConditionalNumericEncoder",
    "CategoricalEncoder",
    "ConditionalCategoricalEncoder",
    "association_ranks",
    "correlation_ratio",
    "Codes",
    "cramers_v",
    "group_sums",
    "quantile_edges",
    "rows_equal",
    "QuantileBins",
    "TextGenerator",
    "UuidGenerator",
    "BinaryGenerator",
    "detect_decimals",
    "plain_value",
    "level_positions",
    "UUID_RE",
    "fingerprints",
    "source_fingerprints",
]

_EPS = 1e-7
#: Columns with at most this many distinct values are decoded with an exact step function.
DISCRETE_LIMIT = 40
#: Number of quantile knots kept for continuous columns.
N_KNOTS = 513
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def to_normal(u: np.ndarray) -> np.ndarray:
    """Uniform (0, 1) → standard normal scores, clipped away from ±inf."""
    return ndtri(np.clip(u, _EPS, 1 - _EPS))


def from_normal(z: np.ndarray) -> np.ndarray:
    """Standard normal scores → uniform (0, 1)."""
    return ndtr(z)


def group_sums(groups: np.ndarray, weights: np.ndarray | float, size: int) -> np.ndarray:
    """``out[g] += w`` for each row's group ``g`` and weight ``w`` (a number, a vector or the
    rows of a matrix), as ``np.add.at`` would add them (row by row, so the sums are the same
    to the last bit) but through ``np.bincount``: a tenth of the time."""
    if np.ndim(weights) == 0:
        return np.bincount(groups, weights=np.full(groups.size, weights, dtype=np.float64), minlength=size)
    if weights.ndim == 1:
        return np.bincount(groups, weights=weights, minlength=size)
    out = np.empty((size, weights.shape[1]))
    for j in range(weights.shape[1]):
        out[:, j] = np.bincount(groups, weights=weights[:, j], minlength=size)
    return out


def detect_decimals(x: np.ndarray, limit: int = 6) -> int | None:
    """Smallest number of decimal places that represents every value of ``x``, or None if > limit."""
    if x.size == 0:
        return 0
    sample = x[: 20000]
    for d in range(limit + 1):
        scaled = sample * (10.0**d)
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6 + 1e-12 * np.abs(scaled)):
            return d
    return None


def _distributional_transform(x: np.ndarray, rng: np.random.Generator, runs: _SortedRuns | None = None) -> np.ndarray:
    """Uniform scores of ``x`` under its own empirical CDF, ties spread over their mass
    (``runs``: ``x``'s :class:`_SortedRuns`, where the caller has them)."""
    n = x.size
    left, right = (runs or _SortedRuns.of(x)).tie_ranges()
    return (left + rng.random(n) * (right - left)) / n


@dataclass(frozen=True)
class _SortedRuns:
    """``x`` (no NaN) sorted by one stable argsort, and where its runs of equal values start:
    what the marginal's distinct values, counts and knots and every value's tie range are read
    from (``np.sort``, ``np.unique`` and a third sort each, before)."""

    x: np.ndarray
    order: np.ndarray
    sorted: np.ndarray
    starts: np.ndarray  # index in ``sorted`` of each run's first value, the first run's (0) included

    @classmethod
    def of(cls, x: np.ndarray) -> _SortedRuns:
        order = np.argsort(x, kind="stable")
        s = x[order]
        return cls(x, order, s, np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1] if x.size else np.zeros(0, np.int64))

    def distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct values and how often each occurs (``np.unique(x, return_counts=True)``)."""
        return self.sorted[self.starts], np.diff(np.r_[self.starts, self.x.size])

    def tie_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """For each value of ``x``, where its run starts and ends in ``sort(x)``:
        ``searchsorted(sort(x), x, 'left')`` and ``'right'``."""
        n = self.x.size
        run = np.zeros(n, dtype=np.int64)
        run[self.starts[1:]] = 1
        run = np.cumsum(run)
        left, right = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        left[self.order] = self.starts[run]
        right[self.order] = np.r_[self.starts[1:], n][run]
        return left, right


@dataclass
class NumericEncoder:
    """Empirical marginal of a numeric column (also used for datetimes as epoch numbers).

    Attributes:
        discrete: True when decoded through an exact step function over ``values``.
        values: Distinct values (discrete) or quantile knots (continuous).
        cum: Cumulative probabilities: upper bound of each value (discrete) or knot positions.
        integer: Round decoded values to integers.
        decimals: Round decoded values to this many decimal places (None: leave as is).
    """

    discrete: bool
    values: np.ndarray
    cum: np.ndarray
    integer: bool = False
    decimals: int | None = None

    @classmethod
    def fit_transform(
        cls, x: np.ndarray, rng: np.random.Generator, integer: bool = False, decimals: int | None = None
    ) -> tuple[NumericEncoder, np.ndarray]:
        """Fit on the non-null values ``x`` and return the encoder and their normal scores."""
        x = np.asarray(x, dtype=np.float64)
        n = x.size
        if n == 0:
            return cls(True, np.array([0.0]), np.array([1.0]), integer, decimals), np.zeros(0)
        if integer:
            decimals = 0
        elif decimals is None:
            decimals = detect_decimals(x)
        runs = _SortedRuns.of(x)
        s = runs.sorted
        distinct, counts = runs.distinct()
        if distinct.size <= DISCRETE_LIMIT:
            enc = cls(True, distinct, np.cumsum(counts) / n, integer, decimals)
        else:
            p = np.linspace(0.0, 1.0, min(N_KNOTS, n))
            pos = p * (n - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, n - 1)
            frac = pos - lo
            knots = s[lo] * (1 - frac) + s[hi] * frac
            enc = cls(False, knots, p, integer, decimals)
        return enc, to_normal(_distributional_transform(x, rng, runs))

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Normal scores → values (float64, rounded as the column needs)."""
        u = from_normal(z)
        if self.discrete:
            idx = np.minimum(np.searchsorted(self.cum, u, side="right"), self.values.size - 1)
            return self.values[idx].astype(np.float64)
        out = np.interp(u, self.cum, self.values)
        if self.decimals is not None:
            out = np.round(out, self.decimals)
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "discrete": self.discrete,
            "values": self.values,
            "cum": self.cum,
            "integer": self.integer,
            "decimals": self.decimals,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NumericEncoder:
        return cls(**state)


@dataclass
class CategoricalEncoder:
    """Categories in a chosen order (most frequent first by default), each owning a slice of
    (0, 1) as wide as its frequency."""

    categories: list[Any]
    cum: np.ndarray

    @classmethod
    def fit_transform(cls, values: np.ndarray | Codes, rng: np.random.Generator,
                      position: dict[Any, float] | None = None) -> tuple[CategoricalEncoder, np.ndarray]:
        """Fit on non-null ``values`` (any hashable, or their :class:`Codes`) and return the
        encoder and normal scores.

        ``position`` orders the categories along (0, 1) (lowest first) instead of by frequency:
        a copula only sees monotone dependence, so categories placed in the order of what they
        go with (diagnoses by the blood pressure they come with) keep that dependence.
        """
        codes, uniques = _factorize(values)
        n = codes.size
        if n == 0:
            return cls([], np.array([1.0])), np.zeros(0)
        counts = np.bincount(codes, minlength=len(uniques))
        order = _category_order(counts, uniques, position)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        freq = counts[order] / n
        cum = np.cumsum(freq)
        lo = cum - freq
        r = rank[codes]
        u = lo[r] + rng.random(n) * freq[r]
        cats = [plain_value(uniques[i]) for i in order]
        return cls(cats, cum), to_normal(u)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Normal scores → an object array of categories."""
        if not self.categories:
            return np.full(z.shape, None, dtype=object)
        idx = np.minimum(np.searchsorted(self.cum, from_normal(z), side="right"), len(self.categories) - 1)
        return np.asarray(self.categories, dtype=object)[idx]

    def to_state(self) -> dict[str, Any]:
        return {"categories": list(self.categories), "cum": self.cum}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CategoricalEncoder:
        return cls(list(state["categories"]), np.asarray(state["cum"]))


def _category_order(counts: np.ndarray, uniques: np.ndarray, position: dict[Any, float] | None) -> np.ndarray:
    """Indices of ``uniques`` in encoding order: by ``position`` (then frequency), or most frequent first."""
    if position is None:
        return np.argsort(-counts, kind="stable")
    key = np.array([position.get(plain_value(u), 0.0) for u in uniques])
    return np.lexsort((-counts, key))


def _factorize(values: np.ndarray | Codes, nulls: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes and categories of ``values`` in the order they first occur (NULL, if any, is a
    category); from :class:`Codes` without hashing the values again (of non-null values
    only, unless ``nulls``)."""
    if isinstance(values, Codes):
        if (values.codes < 0).any():
            if not nulls:
                raise ValueError("the codes of non-null values only")
            values = values.null_as_category()
        return values.renumbered()
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False, use_na_sentinel=False)
    return codes, np.asarray(uniques, dtype=object)


def plain_value(v: Any) -> Any:
    """A JSON-able Python value: numpy scalars unwrapped, every kind of missing value → None."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v



_CLASS_TABLE = str.maketrans(
    {**{c: "A" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
     **{c: "a" for c in "abcdefghijklmnopqrstuvwxyz"},
     **{c: "9" for c in "0123456789"}}
)


@dataclass
class TextGenerator:
    """Text from character-class patterns of the source values.

    Each value is reduced to its shape (``"Aaaa Aaaaa"``, ``"AAAAA"``, ``"aaa.aaa@aaaa.aaa"``):
    uppercase, lowercase and digits become classes, punctuation and spaces stay. Generated values
    take a pattern by its frequency and fill each class with letters drawn at the column's own
    letter frequencies. No real value is stored or reproduced.

    A unique generator (keys, UNIQUE columns) never returns a source value: where its patterns
    could hit one by chance (short codes like ``'ALFKI'``), it keeps *fingerprints* of the source
    values — a keyed hash cut to ``exclude_bits`` bits, about 16 buckets per value — and redraws
    every value whose fingerprint is among them. A fingerprint matches thousands of possible
    values, so the set does not spell out the real ones; it only costs the generator ~1/16 of
    its value space.
    """

    patterns: list[str]
    weights: np.ndarray
    upper: str
    upper_p: np.ndarray
    lower: str
    lower_p: np.ndarray
    unique: bool = False
    exclude_bits: int = 0
    exclude: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    max_patterns: ClassVar[int] = 300
    #: Values the patterns and letter frequencies are learned from (a random sample beyond it).
    fit_values: ClassVar[int] = 50_000
    #: Source values whose chance of being drawn again, all together, is below this are not fingerprinted.
    negligible: ClassVar[float] = 1e-15

    @classmethod
    def fit(cls, values: list[str] | np.ndarray, unique: bool = False) -> TextGenerator:
        """Learn patterns and letter frequencies from non-null string ``values``."""
        vals = [str(v) for v in values]
        # Shapes and letter frequencies settle long before a million values: learn them from a
        # fixed-size sample (the fingerprints below still see every value).
        learn = vals
        if len(vals) > cls.fit_values:
            pick = np.random.default_rng(len(vals)).choice(len(vals), cls.fit_values, replace=False)
            learn = [vals[i] for i in np.sort(pick)]
        shapes = pd.Series([v.translate(_CLASS_TABLE) for v in learn], dtype=object)
        counts = shapes.value_counts()
        # Non-ASCII letters would survive the class table verbatim: keep only patterns made of
        # classes and ASCII punctuation, so no real character sequence can be stored.
        counts = counts[[p.isascii() for p in counts.index]]
        if counts.empty:
            counts = pd.Series({"Aaaaa": 1})
        counts = counts.iloc[: cls.max_patterns]
        joined = "".join(learn)
        upper, upper_p = _letter_freq(joined, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        lower, lower_p = _letter_freq(joined, "abcdefghijklmnopqrstuvwxyz")
        gen = cls(
            patterns=list(counts.index),
            weights=counts.to_numpy(dtype=np.float64) / counts.sum(),
            upper=upper,
            upper_p=upper_p,
            lower=lower,
            lower_p=lower_p,
            unique=unique,
        )
        if unique and vals:
            distinct = list(dict.fromkeys(vals))
            if len(distinct) * gen._draw_bound() >= cls.negligible:
                gen.exclude_bits, gen.exclude = source_fingerprints(distinct)
        return gen

    def _draw_bound(self) -> float:
        """Upper bound of the chance that one draw equals one given string."""
        best = {"A": float(self.upper_p.max()), "a": float(self.lower_p.max()), "9": 0.1}
        return float(sum(w * np.prod([best.get(ch, 1.0) for ch in p]) for p, w in zip(self.patterns, self.weights)))

    def _rejected(self, values: np.ndarray) -> np.ndarray:
        """True where a value may be a source value (its fingerprint is a source value's)."""
        if not self.exclude_bits or not len(values):
            return np.zeros(len(values), dtype=bool)
        return np.isin(fingerprints(values, self.exclude_bits), self.exclude)

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` new strings (object array); unique and never a source value if fitted with unique=True."""
        out = self._draw(n, rng)
        if not self.unique or not n:
            return out
        bad = _duplicated(out) | self._rejected(out)
        for attempt in range(20):
            if not bad.any():
                return out
            # Redraw in batches several times larger than the need, so a pattern space that is
            # mostly taken by source values is still searched quickly; the last rounds draw
            # letters uniformly, so values made of letters the source rarely uses are found too.
            need = int(bad.sum())
            fresh = self._draw(max(4 * need, 64), rng, uniform=attempt >= 10)
            fresh = fresh[~self._rejected(fresh)]
            taken = set(out[~bad])
            fresh = [v for v in dict.fromkeys(fresh) if v not in taken][:need]
            idx = np.flatnonzero(bad)[: len(fresh)]
            out[idx] = np.asarray(fresh, dtype=object) if fresh else out[idx]
            bad[idx] = False
        if bad.any():  # tiny pattern spaces: write a counter over the value's tail (same length)
            taken = set(out[~bad])
            i = 0
            for j in np.flatnonzero(bad):
                v = out[j]
                while True:
                    i += 1
                    tail = str(i)
                    candidate = f"{v[: max(len(v) - len(tail), 0)]}{tail}"
                    if candidate not in taken and not self._rejected(np.asarray([candidate], dtype=object))[0]:
                        break
                out[j] = candidate
                taken.add(candidate)
        return out

    def _draw(self, n: int, rng: np.random.Generator, uniform: bool = False) -> np.ndarray:
        """``n`` strings: one pattern each, every character class filled in one draw for all rows."""
        out = np.empty(n, dtype=object)
        if n == 0:
            return out
        upper_p, lower_p = (None, None) if uniform else (self.upper_p, self.lower_p)
        which = rng.choice(len(self.patterns), size=n, p=self.weights)
        pats = np.asarray(self.patterns, dtype=object)[which]
        lengths = np.fromiter(map(len, pats), dtype=np.int64, count=n)
        # Characters as UTF-32 code points: one array for all rows, filled class by class.
        chars = np.frombuffer("".join(pats).encode("utf-32-le"), dtype=np.uint32).copy()
        for cls_char, alphabet, p in (("A", self.upper, upper_p), ("a", self.lower, lower_p), ("9", "0123456789", None)):
            mask = chars == ord(cls_char)
            if mask.any():
                points = np.frombuffer(alphabet.encode("utf-32-le"), dtype=np.uint32)
                chars[mask] = rng.choice(points, size=int(mask.sum()), p=p)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            if length == 0:
                out[rows] = ""
                continue
            idx = starts[rows][:, None] + np.arange(length)
            out[rows] = np.ascontiguousarray(chars[idx]).view(f"<U{length}").ravel().tolist()
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "patterns": list(self.patterns),
            "weights": self.weights,
            "upper": self.upper,
            "upper_p": self.upper_p,
            "lower": self.lower,
            "lower_p": self.lower_p,
            "unique": self.unique,
            "exclude_bits": self.exclude_bits,
            "exclude": self.exclude,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TextGenerator:
        state = dict(state)
        if "exclude" in state:
            state["exclude"] = np.asarray(state["exclude"], dtype=np.uint64)
        return cls(**state)


#: Key of the fingerprint hash; fixed so that fitting the same data twice gives the same model.
_FINGERPRINT_KEY = b"relsynth.keys.v1"


def source_fingerprints(distinct: list[str]) -> tuple[int, np.ndarray]:
    """The bit width and sorted fingerprints of distinct source strings: about 16 buckets per
    value, so a generated value is redrawn only where it may be one of them, and the stored
    set does not spell out the values (each fingerprint matches thousands of strings)."""
    bits = int(np.clip(np.ceil(np.log2(16 * max(len(distinct), 1))), 8, 62))
    return bits, distinct_ints(fingerprints(distinct, bits))


def fingerprints(values: Any, bits: int) -> np.ndarray:
    """A keyed BLAKE2b hash of each string, cut to its low ``bits`` bits (stable across runs)."""
    mask = (1 << bits) - 1
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(str(v).encode("utf-8"), digest_size=8, key=_FINGERPRINT_KEY).digest(),
                        "little") & mask for v in values),
        dtype=np.uint64,
        count=len(values),
    )


def _letter_freq(text: str, alphabet: str) -> tuple[str, np.ndarray]:
    counts = np.array([text.count(c) for c in alphabet], dtype=np.float64) + 0.5
    return alphabet, counts / counts.sum()


def _duplicated(values: np.ndarray) -> np.ndarray:
    return pd.Series(values, dtype=object).duplicated().to_numpy()


@dataclass
class UuidGenerator:
    """Random version-4 UUIDs as canonical lowercase text (or 32 hex digits without dashes)."""

    dashes: bool = True
    upper: bool = False

    @classmethod
    def fit(cls, values: list[str] | np.ndarray) -> UuidGenerator:
        vals = [str(v) for v in values[:1000]]
        return cls(dashes=all("-" in v for v in vals), upper=any(v != v.lower() for v in vals))

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
        hexes = [row.tobytes().hex() for row in raw]
        if self.dashes:
            hexes = [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]
        if self.upper:
            hexes = [h.upper() for h in hexes]
        return np.asarray(hexes, dtype=object)

    def to_state(self) -> dict[str, Any]:
        return {"dashes": self.dashes, "upper": self.upper}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> UuidGenerator:
        return cls(**state)


@dataclass
class BinaryGenerator:
    """Random bytes whose lengths follow the source's length distribution (capped); never copied."""

    lengths: NumericEncoder
    cap: ClassVar[int] = 4096

    @classmethod
    def fit(cls, values: list[bytes], rng: np.random.Generator) -> BinaryGenerator:
        lengths = np.array([min(len(v), cls.cap) for v in values], dtype=np.float64)
        enc, _ = NumericEncoder.fit_transform(lengths, rng, integer=True)
        return cls(enc)

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lengths = self.lengths.decode(rng.standard_normal(n)).astype(np.int64)
        blob = rng.bytes(int(lengths.sum()))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        return np.asarray([blob[s:e] for s, e in zip(starts, ends)], dtype=object)

    def to_state(self) -> dict[str, Any]:
        return {"lengths": self.lengths.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BinaryGenerator:
        return cls(NumericEncoder.from_state(state["lengths"]))


@dataclass
class ConditionalNumericEncoder:
    """A numeric marginal per category of another column ("value by test", "dose by drug").

    A single copula blurs a numeric column whose distribution depends on a category; fitting its
    quantile function per category keeps each category's distribution, and its normal score
    becomes the value's rank *within* the category, which is what correlates with other columns.
    Categories with fewer than ``min_rows`` rows share a pooled marginal.
    """

    categories: list[Any]
    encoders: list[NumericEncoder]
    pooled: NumericEncoder
    min_rows: ClassVar[int] = 30

    @classmethod
    def fit_transform(
        cls, x: np.ndarray, given: np.ndarray | Codes, rng: np.random.Generator, integer: bool = False,
        decimals: int | None = None,
    ) -> tuple[ConditionalNumericEncoder, np.ndarray]:
        """Fit on non-null ``x`` with the category ``given`` of each row (object array, may hold
        None, or the category column's :class:`Codes`)."""
        x = np.asarray(x, dtype=np.float64)
        if not integer and decimals is None:
            decimals = detect_decimals(x)
        pooled, z = NumericEncoder.fit_transform(x, rng, integer=integer, decimals=decimals)
        codes, uniques = _factorize(given, nulls=True)
        cats: list[Any] = []
        encs: list[NumericEncoder] = []
        for k, cat in enumerate(uniques):
            rows = np.flatnonzero(codes == k)
            if rows.size < cls.min_rows:
                continue
            enc, zk = NumericEncoder.fit_transform(x[rows], rng, integer=integer, decimals=decimals)
            z[rows] = zk
            cats.append(plain_value(cat))
            encs.append(enc)
        return cls(cats, encs, pooled), z

    def decode(self, z: np.ndarray, given: np.ndarray, coded: Codes | None = None) -> np.ndarray:
        """Normal scores and each row's category → values (rows of no category of their own:
        the pooled marginal); ``coded``: ``given``'s :class:`Codes`, where the caller has them."""
        out = np.empty(z.shape, dtype=np.float64)
        rest = np.ones(z.shape, dtype=bool)
        for enc, rows in zip(self.encoders, rows_equal(np.asarray(given, dtype=object), self.categories, coded)):
            if rows.size:
                out[rows] = enc.decode(z[rows])
                rest[rows] = False
        if rest.any():
            out[rest] = self.pooled.decode(z[rest])
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "encoders": [e.to_state() for e in self.encoders],
            "pooled": self.pooled.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConditionalNumericEncoder:
        return cls(
            list(state["categories"]),
            [NumericEncoder.from_state(e) for e in state["encoders"]],
            NumericEncoder.from_state(state["pooled"]),
        )


def rows_equal(values: np.ndarray, categories: list[Any], coded: Codes | None = None) -> list[np.ndarray]:
    """For each category, the rows of ``values`` (an object array) equal to it, as
    ``np.flatnonzero(values == category)`` finds them, but comparing each distinct value once
    (per category, that was a pass of Python comparisons over every row); ``coded``:
    ``values``' :class:`Codes` (:meth:`Codes.of`), where the caller has them."""
    if coded is None or coded.uniques is None:
        coded = Codes.of(values)
    codes, uniques = coded.codes, coded.uniques  # NULLs (code -1) compared one by one
    missing = np.flatnonzero(codes < 0)
    out = []
    for category in categories:
        same = np.fromiter((bool(u == category) for u in uniques), dtype=bool, count=len(uniques))
        hit = np.append(same, False)[codes]  # code -1 takes the last entry
        if missing.size:
            hit[missing] = values[missing] == category
        out.append(np.flatnonzero(hit))
    return out


#: Rows an association statistic (η², Cramér's V) is estimated from; a fixed random subset beyond.
ASSOCIATION_ROWS = 50_000


@functools.lru_cache(maxsize=8)
def _subset(n: int, max_rows: int = ASSOCIATION_ROWS) -> np.ndarray | slice:
    """The same random rows for every statistic over ``n`` rows (all of them when few); made
    once per ``n`` (drawn and sorted for each of a table's many pairs, it took 0.15 s of TPC-H
    SF 0.1's fit), read-only as it is shared."""
    if n <= max_rows:
        return slice(None)
    rows = np.sort(np.random.default_rng(n).choice(n, max_rows, replace=False))
    rows.flags.writeable = False
    return rows


@dataclass(frozen=True)
class Codes:
    """A categorical column factorized once, for the association statistics that compare it
    with many others (:func:`correlation_ratio`, :func:`cramers_v`) and the fit's steps that
    look at its categories again.

    Attributes:
        codes: Each row's category number, -1 for NULL.
        size: How many categories.
        uniques: The categories (code ``i`` is ``uniques[i]``), where known.
    """

    codes: np.ndarray
    size: int
    uniques: np.ndarray | None = None

    @classmethod
    def of(cls, values: np.ndarray | pd.Series) -> Codes:
        codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object), dtype=object), sort=False)
        return cls(codes, len(uniques), np.asarray(uniques, dtype=object))

    def __getitem__(self, rows: Any) -> Codes:
        """The codes of some rows (a mask, indices or a slice); the categories stay numbered."""
        return Codes(self.codes[rows], self.size, self.uniques)

    def null_as_category(self) -> Codes:
        """NULL as one more category (None), numbered after the others."""
        assert self.uniques is not None
        return Codes(np.where(self.codes < 0, self.size, self.codes), self.size + 1,
                     np.concatenate([self.uniques, np.array([None], dtype=object)]))

    def renumbered(self) -> tuple[np.ndarray, np.ndarray]:
        """The non-NULL rows' codes and the categories, numbered in the order the categories
        first occur in these rows: what ``pd.factorize`` of just these rows' values gives,
        without hashing the values again."""
        codes = self.codes[self.codes >= 0]
        seen, first = np.unique(codes, return_index=True)
        order = seen[np.argsort(first, kind="stable")]
        number = np.empty(self.size, dtype=np.int64)
        number[order] = np.arange(order.size)
        assert self.uniques is not None
        return number[codes], self.uniques[order]


def association_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks of ``x`` (ties averaged) on the rows the association statistics use, for
    :func:`correlation_ratio` of one ``x`` against many categories."""
    return pd.Series(np.asarray(x)[_subset(x.size)]).rank().to_numpy()


def correlation_ratio(x: np.ndarray, given: np.ndarray | Codes, ranks: np.ndarray | None = None) -> float:
    """η²: the share of the variance of rank(x) explained by the category ``given`` (0..1;
    NULL is a category of its own), estimated from at most :data:`ASSOCIATION_ROWS` rows.
    ``ranks``: :func:`association_ranks` of ``x``, where it was ranked before."""
    if x.size < 2:
        return 0.0
    coded = given if isinstance(given, Codes) else Codes.of(given)
    codes = coded.codes[_subset(x.size)]
    r = association_ranks(x) if ranks is None else ranks
    codes = np.where(codes < 0, coded.size, codes)
    counts = np.bincount(codes, minlength=coded.size + 1)
    sums = np.bincount(codes, weights=r, minlength=coded.size + 1)
    total = ((r - r.mean()) ** 2).sum()
    if total <= 0:
        return 0.0
    means = sums / np.maximum(counts, 1)
    between = (counts * (means - r.mean()) ** 2).sum()
    return float(between / total)


@dataclass
class ConditionalCategoricalEncoder:
    """A categorical column whose frequencies follow a numeric column of the same row, in bins.

    A copula sees a category only through one latent score, so a category that switches on at
    a threshold of a numeric (Medicare from age 65 on) comes out as a smooth probit. Here the
    numeric is cut into bins (edges from the source) and, in the row's bin, each category owns
    a slice of (0, 1) as wide as its frequency in that bin, categories in one fixed order in
    every bin: the normal score is the row's place *within* its bin's distribution, and decoding
    reads the category from the bin of the already decoded numeric. The bins start as fine
    quantile bins (each with ``min_rows`` rows at least) and adjacent bins are merged while
    their category frequencies are alike, or while there are more than ``max_bins``: a step
    keeps its exact edge, a plateau becomes one bin.

    Attributes:
        categories: Categories in their order along (0, 1).
        edges: Ascending inner bin edges; value ``x`` falls in bin ``searchsorted(edges, x, 'right')``.
        cum: ``(len(edges) + 2, len(categories))`` cumulative frequencies of the categories per
            bin; the last row is for rows whose numeric is NULL.
        levels: When the given column is itself categorical (a parent's diagnosis for a
            treatment's drug): its categories in order, each standing for its position
            (:func:`level_positions`), so that similar ones are adjacent and may share a bin.
    """

    categories: list[Any]
    edges: np.ndarray
    cum: np.ndarray
    levels: list[Any] | None = None
    max_bins: ClassVar[int] = 20
    min_rows: ClassVar[int] = 40
    #: Rows of the overall distribution added to every bin's counts (no bin makes a category impossible).
    prior: ClassVar[float] = 1.0

    @classmethod
    def fit_transform(
        cls, values: np.ndarray | Codes, x: np.ndarray, rng: np.random.Generator,
        position: dict[Any, float] | None = None, levels: list[Any] | None = None, edges: np.ndarray | None = None,
    ) -> tuple[ConditionalCategoricalEncoder, np.ndarray]:
        """Fit on non-null ``values`` (or their :class:`Codes`) with each row's numeric ``x``
        (float, NaN where NULL).

        ``position`` orders the categories along (0, 1) as in :meth:`CategoricalEncoder.fit_transform`;
        ``levels``, for a categorical given, are its categories (``x`` holds their positions).
        ``edges``: the bins an earlier fit on the same ``values`` and ``x`` found (the merging
        compares the categories' counts, whatever their order), not searched again.
        """
        codes, uniques = _factorize(values)
        x = np.asarray(x, dtype=np.float64)
        n, m = codes.size, len(uniques)
        if n == 0:
            return cls([], np.zeros(0), np.ones((2, 0)), levels), np.zeros(0)
        counts = np.bincount(codes, minlength=m)
        order = _category_order(counts, uniques, position)
        rank = np.empty_like(order)
        rank[order] = np.arange(m)
        r = rank[codes]
        if edges is None:
            edges = _category_bins(x, r, m, cls.max_bins, cls.min_rows)
        enc = cls([plain_value(uniques[i]) for i in order], edges, np.zeros((edges.size + 2, m)), levels)
        b = enc.bins(x)
        table = np.bincount(b * m + r, minlength=(edges.size + 2) * m).reshape(edges.size + 2, m).astype(np.float64)
        marginal = counts[order] / n
        if table[-1].sum() < cls.min_rows:  # few NULL numerics: they take the overall frequencies
            table[-1] = 0.0
        freq = (table + cls.prior * marginal) / (table.sum(axis=1, keepdims=True) + cls.prior)
        enc.cum = np.cumsum(freq, axis=1)
        enc.cum[:, -1] = 1.0
        lo = enc.cum[b, r] - freq[b, r]
        u = lo + rng.random(n) * freq[b, r]
        return enc, to_normal(u)

    def bins(self, x: np.ndarray) -> np.ndarray:
        """Bin of each numeric value (the last bin for NaN)."""
        x = np.asarray(x, dtype=np.float64)
        return np.where(np.isnan(x), self.edges.size + 1, np.searchsorted(self.edges, x, side="right"))

    def decode(self, z: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Normal scores and each row's numeric (NaN where NULL) → an object array of categories."""
        m = len(self.categories)
        if m == 0:
            return np.full(z.shape, None, dtype=object)
        b = self.bins(x)
        u = np.clip(from_normal(z), 0.0, 1.0 - 1e-12)
        # One search for all rows: bin k's cumulative frequencies are shifted to (k, k + 1].
        flat = (self.cum + np.arange(self.cum.shape[0])[:, None]).ravel()
        idx = np.clip(np.searchsorted(flat, u + b, side="right") - b * m, 0, m - 1)
        return np.asarray(self.categories, dtype=object)[idx]

    def to_state(self) -> dict[str, Any]:
        return {"categories": list(self.categories), "edges": self.edges, "cum": self.cum, "levels": self.levels}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConditionalCategoricalEncoder:
        levels = state.get("levels")
        return cls(list(state["categories"]), np.asarray(state["edges"], dtype=np.float64),
                   np.asarray(state["cum"], dtype=np.float64), None if levels is None else list(levels))


def level_positions(levels: list[Any], values: Any) -> np.ndarray:
    """Each value's position in ``levels`` as a float (NaN where NULL or not a level): a
    categorical given of :class:`ConditionalCategoricalEncoder` as the numbers its bins are over.
    ``values`` may be the column's :class:`Codes`."""
    if isinstance(values, Codes) and values.uniques is not None:
        codes, uniques = values.codes, values.uniques
    else:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    at = pd.Index(levels, dtype=object).get_indexer(pd.Index([plain_value(u) for u in uniques], dtype=object))
    x = np.append(at, -1)[codes].astype(np.float64)  # factorize's NULL code -1 takes the last entry
    x[x < 0] = np.nan
    return x


#: Most bins :class:`ConditionalCategoricalEncoder` starts from before merging.
_FINE_BINS = 256


def _adjacent_chi2(table: np.ndarray) -> np.ndarray:
    """Pearson chi-square statistic of each pair of adjacent rows of a count table."""
    a, b = table[:-1], table[1:]
    both = a + b
    na, nb = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
    total = na + nb
    with np.errstate(invalid="ignore", divide="ignore"):
        ea, eb = na * both / total, nb * both / total
        stat = np.where(both > 0, (a - ea) ** 2 / ea + (b - eb) ** 2 / eb, 0.0)
    return np.nan_to_num(stat).sum(axis=1)


def _category_bins(x: np.ndarray, codes: np.ndarray, m: int, max_bins: int, min_rows: int) -> np.ndarray:
    """Inner edges of bins of ``x`` (NaN ignored) for category ``codes``: fine quantile bins,
    then adjacent bins merged (smallest chi-square first) while they do not differ at the 5%
    level or there are more than ``max_bins`` (ChiMerge)."""
    ok = ~np.isnan(x)
    xs, cs = x[ok], codes[ok]
    n = xs.size
    if n < 2 * min_rows or m < 2:
        return np.zeros(0)
    order = np.argsort(xs, kind="stable")
    s = xs[order]
    # Fine bins: quantile bins of about min_rows rows, each edge moved up to where a distinct
    # value starts (ties stay in one bin); bins short of min_rows are merged first below.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    k0 = int(min(n // min_rows, _FINE_BINS))
    targets = np.round(np.linspace(0, n, k0 + 1)[1:-1]).astype(np.int64)
    at = np.unique(starts[np.minimum(np.searchsorted(starts, targets), starts.size - 1)])
    edges = s[at[at > 0]]
    if edges.size == 0:
        return edges
    b = np.searchsorted(edges, s, side="right")
    table = np.bincount(b * m + cs[order], minlength=(edges.size + 1) * m).reshape(edges.size + 1, m).astype(np.float64)
    threshold = chdtri(m - 1, 0.05)
    while table.shape[0] > 1:
        stat = _adjacent_chi2(table)
        size = table.sum(axis=1)
        small = np.minimum(size[:-1], size[1:]) < min_rows
        stat = np.where(small, -1.0 / (size[:-1] + size[1:]), stat)  # small bins merge first
        j = int(np.argmin(stat))
        if stat[j] >= threshold and table.shape[0] <= max_bins:
            break
        table[j] += table[j + 1]
        table = np.delete(table, j + 1, axis=0)
        edges = np.delete(edges, j)
    return edges


@dataclass
class QuantileBins:
    """A numeric column cut once into :func:`cramers_v`'s quantile bins (over its non-NULL
    values, on the rows the association statistics use), for comparing it with many categories.

    Attributes:
        x: The values on those rows (NaN where NULL).
        bins: Each of those rows' bin (-1 where NULL).
        count: How many bins.
    """

    x: np.ndarray
    bins: np.ndarray
    count: int

    @classmethod
    def of(cls, x: np.ndarray, n_bins: int = 10) -> QuantileBins:
        x = np.asarray(x, dtype=np.float64)[_subset(len(x))]
        ok = ~np.isnan(x)
        bins = np.full(x.size, -1, dtype=np.int64)
        if not ok.any():
            return cls(x, bins, 0)
        edges = quantile_edges(x[ok], n_bins)
        bins[ok] = np.searchsorted(edges, x[ok], side="right")
        return cls(x, bins, edges.size + 1)


def quantile_edges(xs: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges of ``n_bins`` quantile bins of ``xs`` (no NaN); equal quantiles count once."""
    return np.unique(np.quantile(xs, np.linspace(0, 1, n_bins + 1)[1:-1]))


def cramers_v(values: np.ndarray | Codes, x: np.ndarray | QuantileBins, n_bins: int = 10) -> float:
    """Bias-corrected Cramér's V (Bergsma) of categories ``values`` against ``x`` cut into quantile bins.

    0: the categories' frequencies are the same at every level of ``x``; 1: ``x`` determines them.
    Rows where either side is missing are left out; at most :data:`ASSOCIATION_ROWS` rows are used.
    ``x`` binned before (:class:`QuantileBins`, of ``n_bins``) is binned again only where
    ``values`` are missing on rows it has.
    """
    binned = x if isinstance(x, QuantileBins) else None
    x = binned.x if binned is not None else np.asarray(x, dtype=np.float64)[_subset(len(x))]
    coded = values if isinstance(values, Codes) else Codes.of(values)
    codes = coded.codes[_subset(len(coded.codes))]
    ok = ~np.isnan(x) & (codes >= 0)  # code -1: a missing value
    if ok.sum() < 2:
        return 0.0
    if binned is not None and not (codes[~np.isnan(x)] < 0).any():  # the same rows as the bins'
        codes, b, k = codes[ok], binned.bins[ok], binned.count
    else:
        codes, xs = codes[ok], x[ok]
        edges = quantile_edges(xs, n_bins)
        b, k = np.searchsorted(edges, xs, side="right"), edges.size + 1
    r, n = coded.size, codes.size
    if r < 2 or k < 2:
        return 0.0
    table = np.bincount(b * r + codes, minlength=k * r).reshape(k, r).astype(np.float64)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    rows, cols = rows[rows > 0], cols[cols > 0]
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    k, r = table.shape
    if k < 2 or r < 2:
        return 0.0
    expected = np.outer(rows, cols) / n
    phi2 = ((table - expected) ** 2 / expected).sum() / n
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    kc, rc = k - (k - 1) ** 2 / (n - 1), r - (r - 1) ** 2 / (n - 1)
    denom = min(kc - 1, rc - 1)
    return float(np.sqrt(phi2 / denom)) if denom > 0 else 0.0
