"""Personal data: which columns hold it, and how their values are made instead.

:func:`detect_pii` finds columns holding person names, emails, phone numbers, street addresses
(and the city beside them), postal codes, national IDs, credit-card and IBAN numbers, IP
addresses, URLs and free text, from the column's name (split into words: ``FirstName``,
``contact_email``, ``BillingPostalCode``) and from its values (the share of a sample that
matches the kind's pattern), and records why.

:class:`PiiGenerator` makes such a column's values with Faker (locale configurable) or, for
numbers people type in a layout (phones, postal codes, national IDs), from the source's
character layouts with fresh random characters. Nothing of a source value is learned or
stored but its layout, its letter case, its length, the email domains that many rows share,
and keyed hash *fingerprints* (about 16 buckets per value) so that a generated value that
happens to equal a source value, compared case-insensitively, is redrawn.

Faker is per value, so every kind is drawn from a pool of at most :data:`POOL_SIZE` values
made once per column, with numpy; emails are built from the names generated for the same row.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from relsynth.errors import ConfigError, did_you_mean
from relsynth.schema.model import Schema, Table
from relsynth.transform.encoders import NumericEncoder, TextGenerator, fingerprints, source_fingerprints

__all__ = [
    "LINK_KINDS",
    "LINK_MIN_SHARE",
    "LINK_MIN_VALUES",
    "PII_KINDS",
    "PiiColumn",
    "PiiLink",
    "PiiGenerator",
    "PoolCache",
    "detect_pii",
    "check_pii_overrides",
    "name_tokens",
    "personal_fingerprints",
    "personal_links",
    "personal_values",
    "faker_values",
    "DEFAULT_LOCALE",
]

#: Every kind of personal data relsynth recognises, and the override values ``fit(pii=...)`` takes.
PII_KINDS = (
    "first_name", "last_name", "full_name", "email", "phone", "street_address", "city", "postal_code",
    "national_id", "credit_card", "iban", "ip_address", "url", "text",
)
DEFAULT_LOCALE = "en_US"
#: Share of sampled values that must match a kind's pattern for the values alone to flag a column.
VALUE_SHARE = 0.8
#: Values looked at per column for the pattern shares.
SAMPLE_VALUES = 1000
#: Most values made with Faker per column and kind; rows draw from them.
POOL_SIZE = 1000

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_URL_RE = re.compile(r"^(?:(?:https?|ftp)://\S+|www\.\S+\.\S+)$", re.IGNORECASE)
_IPV4_RE = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$")
_IPV6_RE = re.compile(r"^[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}$")
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")
#: Phones recognised from values alone need a visible phone layout: a ``+`` or an area code in parentheses.
_PHONE_STRICT_RE = re.compile(r"^(?:\+\d[\d\s().\-/]{6,22}|\(\d{2,5}\)\s?[\d\s.\-/]{5,18})$")
_SSN_RE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_CARD_RE = re.compile(r"^\d(?:[ -]?\d){12,18}$")
_IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_PERSON_NAME_RE = re.compile(r"^[^\W\d_][\w'.\-]*(?: [^\W\d_][\w'.\-]*){1,3}$")
_INITIAL_RE = re.compile(r"^[^\W\d_]\.?$")

#: Words of a table name that say its rows are people (a bare ``name`` column there is a person's).
_PERSON_TABLES = {"customer", "customers", "employee", "employees", "person", "persons", "people", "user",
                  "users", "staff", "patient", "patients", "member", "members", "contact", "contacts",
                  "client", "clients", "student", "students", "author", "authors", "actor", "actors"}
_TEXT_WORDS = {"note", "notes", "comment", "comments", "remark", "remarks", "bio", "biography", "memo",
               "description"}


def name_tokens(name: str) -> list[str]:
    """The lowercase words of an identifier: ``"BillingPostalCode"`` → ``["billing", "postal", "code"]``,
    ``"address2"`` → ``["address", "2"]``, ``"IPAddress"`` → ``["ip", "address"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    spaced = re.sub(r"([A-Za-z])(\d)", r"\1 \2", spaced)
    return [t.lower() for t in re.split(r"[^0-9A-Za-z]+", spaced) if t]


def _kind_by_name(column: str, table: str) -> tuple[str, str] | None:
    """(kind, the words that say so) from a column name, or None."""
    words = name_tokens(column)
    ws = set(words)
    joined = "".join(words)
    rules: list[tuple[str, bool, str]] = [
        ("email", bool(ws & {"email", "mail"}) or "email" in joined, "email"),
        ("url", bool(ws & {"url", "uri", "website", "homepage", "webpage", "link"}) or "homepage" in joined,
         "url/website/homepage"),
        ("ip_address", "ip" in ws or bool(ws & {"ipaddress", "ipaddr"}), "ip"),
        ("phone", bool(ws & {"phone", "telephone", "tel", "fax", "mobile", "cell", "cellphone"})
         or "phone" in joined, "phone/fax/mobile"),
        ("postal_code", bool(ws & {"zip", "zipcode", "postcode", "postal"}) or "postalcode" in joined
         or "zipcode" in joined, "postal code/zip"),
        ("national_id", bool(ws & {"ssn", "sin", "nino", "passport", "nationalid"})
         or any(k in joined for k in ("nationalid", "socialsecurity", "taxid")), "ssn/national id"),
        ("credit_card", bool(ws & {"cc", "ccn"}) or any(k in joined for k in ("creditcard", "cardnumber", "ccnumber")),
         "credit card"),
        ("iban", "iban" in ws, "iban"),
        ("first_name", any(k in joined for k in ("firstname", "givenname", "forename", "middlename")),
         "first/given/middle name"),
        ("last_name", any(k in joined for k in ("lastname", "surname", "familyname")), "last name/surname"),
        ("full_name", any(k in joined for k in ("fullname", "contactname", "customername", "personname",
                                                 "employeename", "patientname")), "full/contact name"),
        ("full_name", words == ["name"] and bool(set(name_tokens(table)) & _PERSON_TABLES),
         f"'name' in a table of people ({table})"),
        ("street_address", ("address" in ws and not ws & {"type", "id", "mac", "ip"}) or "street" in ws,
         "address/street"),
        ("text", bool(ws & _TEXT_WORDS), "notes/comment/description"),
    ]
    for kind, hit, why in rules:
        if hit:
            return kind, why
    return None


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    moved = value[4:] + value[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _is_ip(value: str) -> bool:
    if not (_IPV4_RE.match(value) or _IPV6_RE.match(value)):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _value_tests() -> dict[str, Any]:
    """Per kind, a test of one value (``str``) used for the pattern shares."""
    return {
        "email": lambda v: bool(_EMAIL_RE.match(v)),
        "url": lambda v: bool(_URL_RE.match(v)),
        "ip_address": _is_ip,
        "phone": lambda v: bool(_PHONE_RE.match(v)) and 7 <= sum(c.isdigit() for c in v) <= 15,
        "phone_strict": lambda v: bool(_PHONE_STRICT_RE.match(v)) and 7 <= sum(c.isdigit() for c in v) <= 15,
        "national_id": lambda v: bool(_SSN_RE.match(v)),
        "credit_card": lambda v: bool(_CARD_RE.match(v)) and _luhn_ok(re.sub(r"\D", "", v)),
        "iban": lambda v: bool(_IBAN_RE.match(v.replace(" ", ""))) and _iban_ok(v.replace(" ", "")),
        "full_name": lambda v: bool(_PERSON_NAME_RE.match(v)),
        "text": lambda v: len(v.split()) >= 4,
    }


_TESTS = _value_tests()
#: Kinds the values alone can reveal, in the order they are tried (strict patterns first).
_VALUE_KINDS = ("email", "url", "ip_address", "iban", "credit_card", "national_id", "phone_strict")
#: Kinds a name alone does not settle, with the share of values that must match their pattern.
_CONFIRMED = {"full_name": VALUE_SHARE, "text": 0.5, "credit_card": 0.5, "iban": 0.5, "ip_address": 0.5}


@dataclass
class PiiColumn:
    """A column found to hold personal data.

    Attributes:
        kind: One of :data:`PII_KINDS`.
        reason: Why, in words: ``"name matches 'email'; 100% of 59 values match the email pattern"``.
    """

    kind: str
    reason: str


@dataclass(frozen=True)
class _Sample:
    """Up to :data:`SAMPLE_VALUES` of a column's values as stripped text: each distinct one
    with how often it was drawn (a category column's pattern tests run once per category)."""

    texts: list[str]
    counts: np.ndarray

    def __len__(self) -> int:
        return int(self.counts.sum())


def _sample(values: pd.Series, present_mask: np.ndarray | None = None) -> _Sample:
    present = values[present_mask] if present_mask is not None else values.dropna()
    if len(present) > SAMPLE_VALUES:
        present = present.sample(SAMPLE_VALUES, random_state=0)
    counts = pd.Series([str(v).strip() for v in present], dtype=object).value_counts(sort=False)
    return _Sample(counts.index.tolist(), counts.to_numpy())


def _share(kind: str, sample: _Sample) -> float:
    if not len(sample):
        return 0.0
    hits = np.fromiter(map(_TESTS[kind], sample.texts), dtype=bool, count=len(sample.texts))
    return float(sample.counts[hits].sum() / len(sample))


def _pattern_note(kind: str, share: float, n: int) -> str:
    label = {"phone_strict": "phone", "full_name": "person-name"}.get(kind, kind.replace("_", " "))
    return f"{share:.0%} of {n:,} values match the {label} pattern"


def detect_pii(table: Table, frame: pd.DataFrame, skip: set[str] = frozenset(),
               overrides: Mapping[str, str | None] | None = None,
               present: Callable[[str], np.ndarray] | None = None) -> dict[str, PiiColumn]:
    """The columns of ``table`` that hold personal data, with the reason for each.

    Only text columns are looked at (keys and FK columns in ``skip`` are regenerated anyway).
    A column is flagged by its name (its words: ``contact_email``, ``PostalCode``, ``address2``)
    or, whatever its name, when at least :data:`VALUE_SHARE` of a sample of its values match a
    kind's pattern (emails, URLs, IP addresses, IBANs and card numbers with valid checksums,
    SSNs, phones written with ``+`` or an area code). A bare ``name`` counts only in a table of
    people whose values look like names (``Genre.Name``, ``departments.name`` are not); a city
    only beside a street address (a city lookup table is not personal); free text only where
    most values have several words.

    Args:
        table: The table's schema.
        frame: Its rows (or a sample of them), in the frame convention.
        skip: Columns never flagged (keys, FK columns).
        overrides: Column → kind (flag it so) or None (never flag it); beats detection.
        present: A column's non-NULL mask, where the caller keeps them (the fit's column facts).
    """
    overrides = dict(overrides or {})
    found: dict[str, PiiColumn] = {}
    for col in table.columns:
        if col.name in overrides:
            kind = overrides[col.name]
            if kind is not None:
                found[col.name] = PiiColumn(kind, "set by the user")
            continue
        if col.kind != "string" or col.name in skip or col.name not in frame:
            continue
        sample = _sample(frame[col.name], present(col.name) if present is not None else None)
        by_name = _kind_by_name(col.name, table.name)
        if by_name is not None:
            kind, why = by_name
            reason = f"name matches '{why}'"
            if kind in _CONFIRMED:
                # Must look like it too: a product's or a genre's name is no person's name, a
                # card's approval code no card number.
                share = _share(kind, sample)
                if share < _CONFIRMED[kind]:
                    continue
                reason += "; " + _pattern_note(kind, share, len(sample))
            elif kind in _TESTS and sample:
                reason += "; " + _pattern_note(kind, _share(kind, sample), len(sample))
            found[col.name] = PiiColumn(kind, reason)
            continue
        for kind in _VALUE_KINDS:
            share = _share(kind, sample)
            if sample and share >= VALUE_SHARE:
                found[col.name] = PiiColumn(kind.removesuffix("_strict"), _pattern_note(kind, share, len(sample)))
                break
    if any(p.kind == "street_address" for p in found.values()):
        for col in table.columns:
            if (col.kind == "string" and col.name not in found and col.name not in skip
                    and col.name not in overrides and "city" in name_tokens(col.name)):
                found[col.name] = PiiColumn("city", "name matches 'city', beside a street address")
    return found


def check_pii_overrides(schema: Schema, overrides: Mapping[str, str | None] | None) -> dict[str, dict[str, str | None]]:
    """``{"Table.Column": kind or None}`` → per table, per column; every name and kind checked.

    Raises:
        ConfigError: A malformed key, an unknown table or column, or an unknown kind.
    """
    out: dict[str, dict[str, str | None]] = {}
    for key, kind in (overrides or {}).items():
        table, dot, column = str(key).partition(".")
        if not dot or not column:
            raise ConfigError(f"pii override {key!r} must be 'TABLE.COLUMN', e.g. 'Customer.Email'")
        if table not in schema.tables:
            raise ConfigError(f"pii override {key!r}: no table {table!r}{did_you_mean(table, list(schema.tables))}")
        names = [c.name for c in schema.tables[table].columns]
        if column not in names:
            raise ConfigError(f"pii override {key!r}: {table} has no column {column!r}{did_you_mean(column, names)}")
        if kind is not None and kind not in PII_KINDS:
            raise ConfigError(f"pii override {key!r}: unknown kind {kind!r}{did_you_mean(str(kind), PII_KINDS)}; "
                              f"use None (not personal) or one of {', '.join(PII_KINDS)}")
        out.setdefault(table, {})[column] = kind
    return out


# ---------------------------------------------------------------------- generation
def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


#: Values the letter case of a column is judged on (evenly spaced over the column).
CASE_VALUES = 5_000


def _case_of(values: list[str]) -> str:
    """``upper``/``lower`` when at least 80% of the lettered values are written so, else ``""``."""
    if len(values) > CASE_VALUES:
        values = values[:: len(values) // CASE_VALUES]
    lettered = [v for v in values if any(c.isalpha() for c in v)]
    if not lettered:
        return ""
    if sum(v == v.upper() for v in lettered) >= 0.8 * len(lettered):
        return "upper"
    if sum(v == v.lower() for v in lettered) >= 0.8 * len(lettered):
        return "lower"
    return ""


def _norm(values: Any) -> list[str]:
    """How values are compared with the source's: stripped and case-folded."""
    return [str(v).strip().casefold() for v in values]


def personal_values(detected: dict[str, dict[str, PiiColumn]], frames: dict[str, pd.DataFrame]) -> Iterator[Any]:
    """The distinct values of every personal-data column that names someone or something of
    theirs. Free text is left out: it is generated as Faker text at the source's lengths, which
    does not come out equal to a real note, and hashing every comment of a large table costs
    seconds for nothing."""
    for name, columns in detected.items():
        for column, found in columns.items():
            if found.kind != "text":
                yield from pd.unique(frames[name][column].dropna())


#: Kinds whose value names one person: the same value in two tables' columns is the same person.
LINK_KINDS = ("email", "phone", "full_name", "national_id", "credit_card", "iban", "street_address")
#: A column is linked to an earlier table's column of its kind when at least this share of its
#: rows with a value hold one of that column's values ...
LINK_MIN_SHARE = 0.2
#: ... and at least this many distinct values are shared (a few coincidences link nothing).
LINK_MIN_VALUES = 5


@dataclass
class PiiLink:
    """Personal columns of a table that hold, in a share of its rows, the values of an earlier
    table's row (the same person's email, name and phone in ``customer`` and ``newsletter``,
    with no foreign key between them).

    The sampler draws that share of ``table``'s rows from ``source_table``'s *synthetic* rows
    (every column of the link from the same row, so a person's fields stay together); the
    others get fresh values. Only the column names and the share are kept, no value.

    Attributes:
        table: The later table (in generation order).
        columns: Its linked columns.
        source_table: The earlier table.
        source_columns: Its columns, aligned with ``columns`` (each of the same kind).
        share: The share of ``table``'s rows (with a value in ``columns[0]``) whose value is one
            of ``source_table``'s.
    """

    table: str
    columns: list[str]
    source_table: str
    source_columns: list[str]
    share: float

    def describe(self) -> str:
        """The link in words: ``"newsletter.email, name ← customer.email, name (62% of rows)"``."""
        return (f"{self.table}.{', '.join(self.columns)} ← {self.source_table}.{', '.join(self.source_columns)} "
                f"({self.share:.0%} of rows)")

    def to_state(self) -> dict[str, Any]:
        return {"table": self.table, "columns": list(self.columns), "source_table": self.source_table,
                "source_columns": list(self.source_columns), "share": self.share}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PiiLink:
        return cls(str(state["table"]), [str(c) for c in state["columns"]], str(state["source_table"]),
                   [str(c) for c in state["source_columns"]], float(state["share"]))


def personal_links(schema: Schema, order: list[str], detected: Mapping[str, Mapping[str, PiiColumn]],
                   frames: Mapping[str, pd.DataFrame],
                   skip: Mapping[str, set[str]] | None = None) -> list[PiiLink]:
    """The personal columns whose values another table's rows share (see :class:`PiiLink`).

    A column of a :data:`LINK_KINDS` kind is linked to the earlier table (in ``order``) whose
    column of the same kind holds the values of the largest share of its rows, when that share
    is at least :data:`LINK_MIN_SHARE` and :data:`LINK_MIN_VALUES` distinct values are shared
    (compared stripped and case-folded, in memory; nothing of them is kept). One table is linked
    to at most one earlier table; its other personal columns whose kind the earlier table has
    (first and last names, city, ...) join the link where they share values at the same rate.
    Tables joined by a chain of foreign keys are never linked: there a child's value is its
    parent's row's (the model copies it along the FK, see ``TableModel.fit``).

    Args:
        schema: The tables (their foreign keys).
        order: Table names in generation order.
        detected: Per table, the personal-data columns.
        frames: The source rows (or a sample of each table).
        skip: Per table, columns never linked (copied from a parent row).
    """
    skip = skip or {}
    normed: dict[tuple[str, str], pd.Series] = {}

    def values(table: str, column: str) -> pd.Series:  # stripped, case-folded, blanks as NULL
        if (table, column) not in normed:
            s = frames[table][column].dropna().astype(str).str.strip().str.casefold()
            # As Python strings: pandas' isin on its Arrow-backed strings (pyarrow installed)
            # makes an Arrow scalar of every value looked up, 0.16 s of TPC-H SF 0.1's fit.
            normed[(table, column)] = s[s != ""].astype(object)
        return normed[(table, column)]

    def overlap(table: str, column: str, source: str, source_column: str) -> tuple[float, int]:
        ours, theirs = values(table, column), values(source, source_column)
        if not len(ours) or not len(theirs):
            return 0.0, 0
        inside = ours.isin(pd.unique(theirs)).to_numpy()
        return float(inside.mean()), int(pd.unique(ours[inside]).size)

    def linkable(table: str) -> dict[str, PiiColumn]:
        return {c: p for c, p in detected.get(table, {}).items()
                if c in frames.get(table, {}) and c not in skip.get(table, set())}

    related = _fk_related(schema)
    links: list[PiiLink] = []
    for i, name in enumerate(order):
        mine = linkable(name)
        best: tuple[float, str, str] | None = None
        for source in order[:i]:
            if source in related[name]:
                continue
            theirs = linkable(source)
            for column, found in mine.items():
                if found.kind not in LINK_KINDS:
                    continue
                for other, kind in ((c, p.kind) for c, p in theirs.items()):
                    if kind != found.kind:
                        continue
                    share, shared = overlap(name, column, source, other)
                    if share >= LINK_MIN_SHARE and shared >= LINK_MIN_VALUES and (best is None or share > best[0]):
                        best = (share, source, column)
        if best is None:
            continue
        share, source, identifying = best
        theirs = linkable(source)
        columns: list[str] = []
        source_columns: list[str] = []
        # The identifying column first (the sampler takes the rows that have a value there), then
        # the table's other personal columns whose kind the earlier table has, sharing values as often.
        for column in [identifying] + [c for c in mine if c != identifying]:
            fits = []
            for other in (c for c, p in theirs.items() if p.kind == mine[column].kind and c not in source_columns):
                rate, shared = overlap(name, column, source, other)
                if rate >= LINK_MIN_SHARE and shared >= min(LINK_MIN_VALUES, len(values(name, column))):
                    fits.append((rate, other))
            if fits:
                columns.append(column)
                source_columns.append(max(fits)[1])
        links.append(PiiLink(name, columns, source, source_columns, round(share, 4)))
    return links


def _fk_related(schema: Schema) -> dict[str, set[str]]:
    """Per table, the tables above it or below it through chains of foreign keys (itself included)."""
    related: dict[str, set[str]] = {name: set() for name in schema.tables}
    for name in schema.tables:
        queue = [name]
        while queue:  # every ancestor of ``name``
            table = queue.pop()
            if table in related[name] or table not in schema.tables:
                continue
            related[name].add(table)
            queue += [fk.ref_table for fk in schema.tables[table].foreign_keys]
    for name, ups in list(related.items()):
        for up in ups:
            related[up].add(name)
    return related


def personal_fingerprints(values: Any) -> tuple[int, np.ndarray]:
    """Bit width and fingerprints of personal source values (stripped, case-folded, blanks
    left out): what :class:`PiiGenerator` redraws against."""
    distinct = [v for v in dict.fromkeys(_norm(values)) if v]
    return source_fingerprints(distinct) if distinct else (0, np.zeros(0, dtype=np.uint64))



class PoolCache(dict):
    """The Faker pools of one column, kept across the partitions of a sample stream.

    A pool of :data:`POOL_SIZE` values per Faker method costs ~0.1 s to make; made for every
    partition it cost a quarter of a second per partition on TPC-H. Here each is made once, by
    a Faker (and a generator for text lengths) seeded from ``seed`` (the stream's seed and the
    column), so every worker makes the same pools whatever partitions it draws and in which
    order; threads drawing partitions side by side make each pool once, under :attr:`lock`. A
    pickled cache arrives empty (a worker makes its own, the same).
    """

    def __init__(self, seed: Sequence[int]) -> None:
        super().__init__()
        self.seed = [int(v) for v in seed]
        self.lock = threading.Lock()
        self._fake: Any = None

    def __reduce__(self) -> tuple:
        return (PoolCache, (self.seed,))

    def faker(self, locale: str) -> Any:
        with self.lock:
            if self._fake is None:
                self._fake = _faker(locale)
                self._fake.seed_instance(int(np.random.default_rng(self.seed).integers(0, 2**32 - 1)))
        return self._fake

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([*self.seed, 1])


@dataclass
class PiiGenerator:
    """Values of one personal-data column, made anew (see the module docstring).

    Attributes:
        kind: One of :data:`PII_KINDS`.
        locale: Faker locale (``en_US``, ``de_DE``, ...).
        case: ``upper``/``lower`` to write values as the source does, or ``""``.
        layout: Phones, postal codes, national IDs: the source's character layouts
            (``"+9 (999) 999-9999"``), filled with random characters.
        lengths: Free text: the distribution of the source's value lengths.
        style: Emails: ``"."``, ``"_"`` or ``""`` between first and last name, plus ``"+digits"``
            when most source addresses carry digits; first names: ``"initial"`` for a column of initials.
        domains: Emails: the domains at least ``k`` source addresses share, with ``domain_weights``
            (the rest of the mass goes to Faker's free email domains).
        sources: Columns of the same row a value is built from (an email from the row's first
            and last name, or full name).
        ipv6: IP addresses: the share of IPv6 values.
        unique: The column is UNIQUE: no value repeats.
        max_length: The column's declared length.
        exclude_bits, exclude: Fingerprints of the source values (case-folded): the column's
            own, or the whole database's (``avoid``). Not part of :meth:`to_state`: a model
            stores the database's set once (``Model.pii_fingerprints``) and hands it back on load.
    """

    kind: str
    locale: str = DEFAULT_LOCALE
    case: str = ""
    layout: TextGenerator | None = None
    lengths: NumericEncoder | None = None
    style: str = ""
    domains: list[str] = field(default_factory=list)
    domain_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sources: list[str] = field(default_factory=list)
    ipv6: float = 0.0
    unique: bool = False
    max_length: int | None = None
    exclude_bits: int = 0
    exclude: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    #: Attempts at redrawing values that repeat or may be a source value, before a numeric suffix.
    redraws: ClassVar[int] = 10

    @classmethod
    def fit(cls, kind: str, values: pd.Series, *, locale: str = DEFAULT_LOCALE, unique: bool = False,
            max_length: int | None = None, sources: list[str] | None = None, min_count: int = 5,
            rng: np.random.Generator | None = None, avoid: tuple[int, np.ndarray] | None = None) -> PiiGenerator:
        """Learn what a column's values look like, never the values.

        Args:
            kind: One of :data:`PII_KINDS`.
            values: The source column.
            locale: Faker locale.
            unique: The column is UNIQUE.
            max_length: The column's declared length.
            sources: Columns of the row an email is built from.
            min_count: Emails: a domain is kept only when this many source rows share it.
            rng: Random generator (the length encoder's distributional transform uses it).
            avoid: :func:`personal_fingerprints` of every personal value of the database, which
                no generated value may equal (a generated first name is no real customer's last
                name either); default: the column's own values.
        """
        if kind not in PII_KINDS:
            raise ConfigError(f"unknown personal-data kind {kind!r}{did_you_mean(kind, PII_KINDS)}")
        _check_locale(locale)  # an unknown locale fails at fit time, not at sampling
        present = [str(v) for v in values.dropna()]
        gen = cls(kind, locale, case=_case_of(present), unique=unique, max_length=max_length,
                  sources=list(sources or []))
        if kind in ("phone", "postal_code", "national_id") and present:
            gen.layout = TextGenerator.fit(present)
        elif kind == "text" and present:
            gen.lengths, _ = NumericEncoder.fit_transform(np.array([len(v) for v in present], dtype=np.float64),
                                                         rng or np.random.default_rng(0), integer=True)
        elif kind == "email" and present:
            gen._fit_email(present, min_count)
        elif kind == "first_name" and present and sum(bool(_INITIAL_RE.match(v)) for v in present) >= 0.8 * len(present):
            gen.style = "initial"
        elif kind == "ip_address" and present:
            gen.ipv6 = sum(":" in v for v in present) / len(present)
        gen.exclude_bits, gen.exclude = avoid if avoid is not None else personal_fingerprints(present)
        return gen

    def _fit_email(self, present: list[str], min_count: int) -> None:
        local, _, domain = zip(*(v.rpartition("@") for v in present))
        self.case = _case_of(list(local))  # MARY.SMITH@sakilacustomer.org: the name part's case
        seps = pd.Series([next((c for c in ".-_" if c in part), "") for part in local]).value_counts()
        self.style = str(seps.index[0]) + ("+digits" if sum(any(c.isdigit() for c in p) for p in local)
                                           >= 0.5 * len(local) else "")
        counts = pd.Series([d.lower() for d in domain if d]).value_counts()
        kept = counts[counts >= max(min_count, 1)]
        self.domains = [str(d) for d in kept.index]
        self.domain_weights = kept.to_numpy(dtype=np.float64) / len(present)

    # ----------------------------------------------------------------- sampling
    def describe(self) -> str:
        """How the values are made, in words (for ``Model.pii`` and the report)."""
        if self.layout is not None:
            shown = ", ".join(f"'{p}'" for p in self.layout.patterns[:2])
            return f"source layouts ({shown}{', ...' if len(self.layout.patterns) > 2 else ''}) with random characters"
        how = {"email": "built from the row's generated names" if self.sources else "Faker names",
               "text": "Faker text at the source's lengths", "first_name": "random initials"
               if self.style == "initial" else "Faker first names"}.get(self.kind, f"Faker {self.kind.replace('_', ' ')} values")
        if self.kind == "email":
            how += f", {len(self.domains)} shared source domain(s) and Faker's free email domains"
        return f"{how} ({self.locale})" + (f", {self.case}case" if self.case else "") + (", unique" if self.unique else "")

    def generate(self, n: int, rng: np.random.Generator, row: Mapping[str, pd.Series] | None = None,
                 pools: PoolCache | None = None) -> np.ndarray:
        """``n`` values (object array): none equal to a source value (case-insensitively), unique
        when the column is, no longer than the column allows; ``row`` holds the row's other
        generated columns (what an email is built from). Faker values are drawn from pools
        made for this call, or kept in ``pools`` across calls (a stream's partitions)."""
        if pools is not None:
            fake = pools.faker(self.locale)
        else:
            fake = _faker(self.locale)
            fake.seed_instance(int(rng.integers(0, 2**32 - 1)))
            pools = {}  # type: ignore[assignment]
        out = np.array(self._draw(np.arange(n), rng, fake, pools, row or {}), dtype=object)  # writable
        bad = self._bad(out)
        base = out
        for attempt in range(self.redraws + 5):
            if not bad.any():
                break
            idx = np.flatnonzero(bad)
            if attempt < self.redraws:
                out[idx] = self._draw(idx, rng, fake, pools, row or {})
            else:  # a small value space: number the rest
                base = out.copy() if attempt == self.redraws else base
                out[idx] = self._suffixed(base[idx], idx + attempt * n)
            bad[:] = False  # only the new values can be a source value now
            bad[idx] = self._rejected(out[idx])
            if self.unique:
                bad |= self._repeated(out)
        return out

    def _bad(self, values: np.ndarray) -> np.ndarray:
        """Values that may be a source value, or repeat an earlier one in a UNIQUE column."""
        return self._rejected(values) | self._repeated(values) if self.unique else self._rejected(values)

    def _rejected(self, values: np.ndarray) -> np.ndarray:
        """Values whose fingerprint (stripped, case-folded) is a source value's; blanks never."""
        if not self.exclude_bits or not values.size:
            return np.zeros(values.size, dtype=bool)
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        normed = _norm(uniques)
        prints = fingerprints(normed, self.exclude_bits)
        at = np.minimum(np.searchsorted(self.exclude, prints), max(self.exclude.size - 1, 0))  # exclude is sorted
        hit = (self.exclude.size > 0) & (self.exclude[at] == prints) & (np.asarray(normed, dtype=object) != "")
        return hit[codes]

    @staticmethod
    def _repeated(values: np.ndarray) -> np.ndarray:
        return pd.Series(values, dtype=object).str.casefold().duplicated().to_numpy()

    def _suffixed(self, values: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """Each value with its number (before the ``@`` of an email, after a dot so two
        numbered values cannot run together into the same text)."""
        tags = [str(p) for p in numbers]
        if self.kind == "email":
            return np.asarray([v.replace("@", f".{t}@", 1) for v, t in zip(values, tags)], dtype=object)
        keep = self.max_length or 10**6
        return np.asarray([f"{v[: max(keep - len(t), 0)]}{t}" for v, t in zip(values, tags)], dtype=object)

    def _pool(self, what: str, fake: Any, pools: dict[str, np.ndarray], size: int) -> np.ndarray:
        """Up to :data:`POOL_SIZE` Faker values of ``what``, fitting the column, made once per call
        of :meth:`generate` (or once for a :class:`PoolCache`)."""
        return _pooled(pools, what, lambda: self._new_pool(what, fake, size, isinstance(pools, PoolCache)))

    def _unseen_pool(self, what: str, fake: Any, pools: dict[str, np.ndarray], size: int) -> np.ndarray:
        """The pool of ``what`` less its values that equal a source value (the whole pool where
        that leaves none). Common first names are mostly source values too: drawn from the whole
        pool, a third of sakila's customers still had one after every redraw and got a number."""
        pool = self._pool(what, fake, pools, size)  # made first: a PoolCache's lock is not reentrant

        def unseen() -> np.ndarray:
            kept = pool[~self._rejected(pool)]
            return kept if kept.size else pool

        return _pooled(pools, f"{what} unseen", unseen)

    def _new_pool(self, what: str, fake: Any, size: int, kept: bool) -> np.ndarray:
        make = getattr(fake, what)
        # Twice the rows asked for (at least 100): few repeats in small tables; a kept pool serves
        # a stream's every partition.
        count = POOL_SIZE if kept else min(max(2 * size, 100), POOL_SIZE)
        values = self._cased(np.asarray([make() for _ in range(count)], dtype=object))
        if self.max_length:
            fits = np.fromiter(map(len, values), dtype=np.int64, count=values.size) <= self.max_length
            values = values[fits] if fits.any() else values
        return values

    def _cased(self, values: np.ndarray) -> np.ndarray:
        if self.case == "upper":
            return np.asarray([v.upper() for v in values], dtype=object)
        if self.case == "lower":
            return np.asarray([v.lower() for v in values], dtype=object)
        return values

    def _draw(self, idx: np.ndarray, rng: np.random.Generator, fake: Any, pools: dict[str, np.ndarray],
              row: Mapping[str, pd.Series]) -> np.ndarray:
        """Values for the rows ``idx`` (positions in the output, for the row's other columns)."""
        n = idx.size
        if n == 0:
            return np.empty(0, dtype=object)
        kind = self.kind
        if self.layout is not None:
            return self.layout.generate(n, rng)
        if kind == "first_name" and self.style == "initial":
            letters = np.asarray(list("ABCDEFGHIJKLMNOPRSTW"), dtype=object)
            return letters[rng.integers(0, letters.size, n)] + "."
        simple = {"first_name": "first_name", "last_name": "last_name", "street_address": "street_address",
                  "city": "city", "credit_card": "credit_card_number", "iban": "iban", "url": "url",
                  "phone": "phone_number", "postal_code": "postcode", "national_id": "ssn"}
        if kind in simple:
            pool = self._unseen_pool(simple[kind], fake, pools, n)
            return pool[rng.integers(0, pool.size, n)]
        if kind == "full_name":
            first, last = self._pool("first_name", fake, pools, n), self._pool("last_name", fake, pools, n)
            return first[rng.integers(0, first.size, n)] + " " + last[rng.integers(0, last.size, n)]
        if kind == "ip_address":
            v4, v6 = self._pool("ipv4", fake, pools, n), self._pool("ipv6", fake, pools, n)
            six = rng.random(n) < self.ipv6
            return np.where(six, v6[rng.integers(0, v6.size, n)], v4[rng.integers(0, v4.size, n)]).astype(object)
        if kind == "email":
            return self._emails(idx, rng, fake, pools, row)
        return self._texts(n, rng, fake, pools)

    def _emails(self, idx: np.ndarray, rng: np.random.Generator, fake: Any, pools: dict[str, np.ndarray],
                row: Mapping[str, pd.Series]) -> np.ndarray:
        n = idx.size
        given = [row[c].to_numpy(dtype=object)[idx] for c in self.sources if c in row]
        if not given:
            first, last = self._pool("first_name", fake, pools, n), self._pool("last_name", fake, pools, n)
            given = [first[rng.integers(0, first.size, n)], last[rng.integers(0, last.size, n)]]
        sep = self.style.removesuffix("+digits")

        def part(names: np.ndarray) -> pd.Series:  # each distinct name made an address part once
            codes, uniques = pd.factorize(pd.Series(names, dtype=object).fillna(""))
            made = [re.sub(r"[^a-z0-9]+", sep, _ascii(str(u)).lower()).strip(sep or " ") for u in uniques]
            return pd.Series(np.asarray(made, dtype=object)[codes], dtype=object)

        parts = [part(g) for g in given]
        local = parts[0]
        for p in parts[1:]:
            local = local.str.cat(p, sep=sep).str.strip(sep or " ")
        local = local.where(local.str.len() > 0, "user")
        if self.case == "upper":
            local = local.str.upper()
        if self.style.endswith("+digits"):
            # Up to two digits as in "orlando0", more where few names must give many unique addresses.
            top = max(100, 20 * n // max(local.nunique(), 1)) if self.unique else 100
            local = local + pd.Series(rng.integers(0, top, n).astype(str), dtype=object)
        free = self._pool("free_email_domain", fake, pools, 50)
        shared = float(self.domain_weights.sum()) if self.domains else 0.0
        domain = free[rng.integers(0, free.size, n)]
        if shared > 0:
            use = rng.random(n) < shared
            picks = rng.choice(len(self.domains), size=int(use.sum()), p=self.domain_weights / shared)
            domain[use] = np.asarray(self.domains, dtype=object)[picks]
        email = (local + "@" + pd.Series(domain, dtype=object)).to_numpy(dtype=object)
        if self.max_length:
            too_long = np.fromiter(map(len, email), dtype=np.int64, count=n) > self.max_length
            if too_long.any():  # shorten the local part, keep the domain
                email[too_long] = [e[: max(self.max_length - len(e) + e.index("@"), 1)] + e[e.index("@"):]
                                   for e in email[too_long]]
        return email

    def _texts(self, n: int, rng: np.random.Generator, fake: Any, pools: dict[str, np.ndarray]) -> np.ndarray:
        kept = pools if isinstance(pools, PoolCache) else None
        pool = _pooled(pools, "text", lambda: self._new_texts(n, rng, fake, kept))
        return pool[rng.integers(0, pool.size, n)]

    def _new_texts(self, n: int, rng: np.random.Generator, fake: Any, kept: PoolCache | None) -> np.ndarray:
        m = POOL_SIZE if kept is not None else min(n, POOL_SIZE)
        draws = kept.rng() if kept is not None else rng
        lengths = (self.lengths.decode(draws.standard_normal(m)) if self.lengths is not None
                   else np.full(m, 80.0)).astype(np.int64)
        if self.max_length:
            lengths = np.minimum(lengths, self.max_length)
        return self._cased(np.asarray(_lorem(fake.get_words_list(), lengths, draws), dtype=object))

    # -------------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "locale": self.locale, "case": self.case,
            "layout": None if self.layout is None else self.layout.to_state(),
            "lengths": None if self.lengths is None else self.lengths.to_state(),
            "style": self.style, "domains": list(self.domains), "domain_weights": self.domain_weights,
            "sources": list(self.sources), "ipv6": self.ipv6, "unique": self.unique, "max_length": self.max_length,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PiiGenerator:
        state = dict(state)
        state["layout"] = None if state.get("layout") is None else TextGenerator.from_state(state["layout"])
        state["lengths"] = None if state.get("lengths") is None else NumericEncoder.from_state(state["lengths"])
        state["domain_weights"] = np.asarray(state["domain_weights"], dtype=np.float64)
        return cls(**state)


def _lorem(words: list[str], lengths: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Texts of at most each length, as Faker's ``text`` writes them (sentences of three to nine
    of the locale's lorem ``words``, capitalized, each ending with a full stop, as many as fit;
    a last sentence cut short at a word), from random draws made up front: ~50 times faster
    than calling ``text`` per value (1,000 values took 0.05-0.15 s, for every text column)."""
    limits = [max(int(v), 1) for v in np.asarray(lengths).tolist()]
    # Each word takes two characters at least (one and a space), each sentence three words.
    picks = rng.integers(0, len(words), size=sum(n // 2 + 2 for n in limits)).tolist()
    sizes = rng.integers(3, 10, size=sum(n // 6 + 2 for n in limits)).tolist()
    wi = si = 0
    out = []
    for limit in limits:
        text, sentence, left = "", "", sizes[si]
        si += 1
        while True:
            word = words[picks[wi]]
            wi += 1
            longer = f"{sentence} {word}" if sentence else word[:1].upper() + word[1:]
            if len(text) + bool(text) + len(longer) + 1 > limit:
                break
            sentence, left = longer, left - 1
            if not left:
                text, sentence, left = f"{text} {sentence}." if text else f"{sentence}.", "", sizes[si]
                si += 1
        if sentence:
            text = f"{text} {sentence}." if text else f"{sentence}."
        out.append(text or (word[:1].upper() + word[1:] + ".")[:limit])
    return out


def _pooled(pools: dict[str, np.ndarray], what: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """``pools[what]``, made by ``make`` if it is not there yet (under a :class:`PoolCache`'s lock)."""
    with pools.lock if isinstance(pools, PoolCache) else contextlib.nullcontext():
        if what not in pools:
            pools[what] = make()
    return pools[what]


@functools.lru_cache(maxsize=None)
def _check_locale(locale: str) -> None:
    """Raise a ConfigError for a locale Faker does not know; each locale is tried once (making a
    Faker loads every provider: 33 ms, for each of TPC-H's 11 personal columns before)."""
    _faker(locale)


def faker_values(locale: str, method: str, count: int, rng: np.random.Generator) -> list[str]:
    """``count`` values of Faker's ``method`` (``"country"``, ``"company"``, ...) in ``locale``,
    from a Faker seeded by ``rng``."""
    fake = _faker(locale)
    fake.seed_instance(int(rng.integers(0, 2**32 - 1)))
    make = getattr(fake, method)
    return [str(make()) for _ in range(count)]


def _faker(locale: str) -> Any:
    """A Faker for ``locale``; an unknown locale is a ConfigError."""
    from faker import Faker

    try:
        return Faker(locale)
    except AttributeError:
        raise ConfigError(f"unknown Faker locale {locale!r}; use one such as en_US, de_DE, fr_FR, pt_BR") from None
