"""Values of types whose text form has rules of its own: arrays, SET, tsvector, network types, ...

Frames hold these columns as kind ``string`` in the source's text form (PostgreSQL arrays as
``{a,"b c"}``, MySQL SET values as ``a,b``, tsvector as ``'lex':1 'other':2``, ...). A column
with few distinct values is learned by the copula as categories: whole source values, valid by
construction. A column with many distinct values would get character-pattern text, which is not
a valid value of these types (``'ab':0`` is no tsvector, ``734.102.5.88`` no inet), so it gets
one of the generators here instead, each of which only ever produces valid values:

- :class:`ArrayGenerator`: PostgreSQL arrays, MySQL SET values and tsvectors as lists of
  elements: a length distribution plus an element model (a learned vocabulary with frequencies
  when elements repeat and are few; otherwise numbers from a quantile marginal, random UUIDs, or
  character-pattern text, so no free-text element is stored).
- :class:`AddressGenerator`: random inet/cidr addresses with the source's mix of IP versions and
  prefix lengths; random macaddr/macaddr8 values.
- :class:`IntervalGenerator`: intervals from the quantile marginal of their length in seconds.
- :class:`XmlGenerator`: pattern-generated text content, escaped, inside the most common root
  element (the structure below the root is not reproduced).
- :class:`JsonGenerator`: JSON (any dialect) with the source's structures and generated leaves.

:func:`generated_style` says which generator a column needs (None: an ordinary column); the module
also parses and writes PostgreSQL array literals for the readers (driver lists → literal) and the
writers (literal → JSON for targets without arrays). Like the encoders, every generator is plain
data with ``to_state``/``from_state`` (no pickle).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from relsynth.transform.encoders import CategoricalEncoder, NumericEncoder, TextGenerator, UuidGenerator

__all__ = [
    "ARRAY_ELEMENT_KINDS",
    "ArrayGenerator",
    "AddressGenerator",
    "IntervalGenerator",
    "XmlGenerator",
    "JsonGenerator",
    "NATIVE_GENERATORS",
    "native_style",
    "generated_style",
    "fit_native",
    "parse_pg_array",
    "format_pg_array",
    "render_pg_array",
    "pg_array_to_json",
    "interval_text",
    "timedelta_interval",
]

#: Element kinds of arrays that are generated natively (others fall back to text).
ARRAY_ELEMENT_KINDS = ("integer", "float", "decimal", "boolean", "string", "uuid")
#: Elements are drawn from the learned vocabulary when it has at most this many distinct values
#: and each value occurs twice on average; otherwise they are generated.
VOCABULARY_LIMIT = 200


def native_style(native_type: str | None, element_kind: str | None = None) -> str | None:
    """The generator style a column's native type needs, or None for an ordinary column.

    Args:
        native_type: :attr:`relsynth.schema.model.Column.native_type`.
        element_kind: :attr:`relsynth.schema.model.Column.element_kind` (arrays).

    Returns:
        ``array``, ``set``, ``tsvector``, ``inet``, ``cidr``, ``macaddr``, ``macaddr8``,
        ``interval``, ``xml`` or None.
    """
    t = (native_type or "").strip().lower()
    if t.endswith("[]"):
        return "array" if element_kind in ARRAY_ELEMENT_KINDS else None
    if t.startswith("set("):
        return "set"
    if t in ("tsvector", "xml", "inet", "cidr", "macaddr", "macaddr8"):
        return t
    if t == "interval" or t.startswith(("interval(", "interval ")):
        return "interval"
    return None


# --------------------------------------------------------------------------- PostgreSQL arrays

_QUOTE_NEEDED = re.compile(r'[{}",\\\s]')


def parse_pg_array(text: str) -> list[Any] | None:
    """Elements of a PostgreSQL array literal (nested lists for more dimensions), None if malformed.

    Quoted elements are unescaped; an unquoted ``NULL`` is None; a leading dimension decoration
    (``[0:1]={...}``) is dropped.
    """
    s = text.strip()
    if s.startswith("["):
        s = s.partition("=")[2].strip()
    try:
        value, end = _parse_level(s, 0)
    except ValueError:
        return None
    return value if not s[end:].strip() else None


def _skip_blank(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def _parse_level(s: str, i: int) -> tuple[list[Any], int]:
    if i >= len(s) or s[i] != "{":
        raise ValueError("no opening brace")
    out: list[Any] = []
    i = _skip_blank(s, i + 1)
    if i < len(s) and s[i] == "}":
        return out, i + 1
    while True:
        i = _skip_blank(s, i)
        if i >= len(s):
            raise ValueError("unterminated")
        if s[i] == "{":
            value, i = _parse_level(s, i)
            out.append(value)
        elif s[i] == '"':
            buf, i = [], i + 1
            while True:
                if i >= len(s):
                    raise ValueError("unterminated quote")
                if s[i] == "\\" and i + 1 < len(s):
                    buf.append(s[i + 1])
                    i += 2
                elif s[i] == '"':
                    i += 1
                    break
                else:
                    buf.append(s[i])
                    i += 1
            out.append("".join(buf))
        else:
            buf = []
            while i < len(s) and s[i] not in ",}":
                if s[i] in '{"':
                    raise ValueError("misplaced brace or quote")
                if s[i] == "\\" and i + 1 < len(s):
                    i += 1
                buf.append(s[i])
                i += 1
            token = "".join(buf).strip()
            if not token:
                raise ValueError("empty element")
            out.append(None if token.upper() == "NULL" else token)
        i = _skip_blank(s, i)
        if i >= len(s):
            raise ValueError("unterminated")
        if s[i] == "}":
            return out, i + 1
        if s[i] != ",":
            raise ValueError("expected a comma")
        i += 1


def format_pg_array(elements: list[Any]) -> str:
    """A PostgreSQL array literal of element texts (None → NULL; nested lists → more dimensions)."""
    parts = []
    for e in elements:
        if e is None:
            parts.append("NULL")
        elif isinstance(e, list):
            parts.append(format_pg_array(e))
        elif e == "" or e.upper() == "NULL" or _QUOTE_NEEDED.search(e):
            parts.append('"' + e.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            parts.append(e)
    return "{" + ",".join(parts) + "}"


def _element_text(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [_element_text(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return "t" if v else "f"
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v) if isinstance(v, float) else str(v)


def render_pg_array(value: list[Any] | tuple[Any, ...] | np.ndarray) -> str:
    """The PostgreSQL literal of a Python list (what drivers other than COPY hand over)."""
    return format_pg_array([_element_text(v) for v in list(value)])


def _json_element(e: Any, element_kind: str | None) -> Any:
    if e is None:
        return None
    if isinstance(e, list):
        return [_json_element(x, element_kind) for x in e]
    if element_kind == "boolean":
        return e.lower() in ("t", "true")
    if element_kind in ("integer", "float", "decimal"):
        try:
            number = int(e) if element_kind == "integer" else float(e)
        except ValueError:
            return e
        return number if math.isfinite(number) else e  # JSON has no NaN/Infinity: keep the text
    return e


def pg_array_to_json(text: str, element_kind: str | None) -> str:
    """A PostgreSQL array literal as JSON array text (numbers and booleans as JSON values).

    Used where the target has no arrays; a literal that does not parse becomes a JSON string.
    """
    elements = parse_pg_array(text)
    if elements is None:
        return json.dumps(text, ensure_ascii=False)
    return json.dumps(_json_element(elements, element_kind), ensure_ascii=False)


# --------------------------------------------------------------------------- tsvector / SET

_LEXEME_RE = re.compile(r"'((?:[^'\\]|''|\\.)*)'(?::([0-9A-Da-d,]+))?")
_UNESCAPE_RE = re.compile(r"\\(.)")


def _parse_tsvector(text: str) -> tuple[list[str], bool]:
    """Lexemes of a tsvector's text form and whether it carries positions."""
    matches = list(_LEXEME_RE.finditer(text))
    if not matches and "'" not in text:
        words = [w.split(":", 1) for w in text.split()]
        return [w[0] for w in words if w[0]], any(len(w) > 1 for w in words)
    lexemes = [_UNESCAPE_RE.sub(r"\1", m.group(1).replace("''", "'")) for m in matches]
    return [x for x in lexemes if x], any(m.group(2) for m in matches)


def _format_tsvector(lexemes: list[str], positions: bool) -> str:
    parts = []
    for i, lex in enumerate(dict.fromkeys(x for x in lexemes if x)):
        quoted = "'" + lex.replace("\\", "\\\\").replace("'", "''") + "'"
        parts.append(f"{quoted}:{min(i + 1, 16383)}" if positions else quoted)
    return " ".join(parts)


# --------------------------------------------------------------------------- generators


@dataclass
class ArrayGenerator:
    """Lists of elements: PostgreSQL arrays (``array``), MySQL SET values (``set``), tsvectors.

    Attributes:
        style: ``array``, ``set`` or ``tsvector``.
        element_kind: Kind of each element (numbers are generated from a marginal).
        lengths: Distribution of the number of elements.
        null_share: Share of NULL elements (arrays only).
        vocabulary: Element categories with their frequencies, when elements repeat and are few.
        numbers: Marginal of numeric elements otherwise.
        text: Pattern generator of text elements otherwise (tsvector lexemes always).
        positions: tsvector only: write positions (``'lex':1``) as the source did.
    """

    style: str
    element_kind: str
    lengths: NumericEncoder
    null_share: float = 0.0
    vocabulary: CategoricalEncoder | None = None
    numbers: NumericEncoder | None = None
    text: TextGenerator | None = None
    positions: bool = False

    @classmethod
    def fit(cls, values: list[str] | np.ndarray, style: str, element_kind: str | None,
            rng: np.random.Generator) -> ArrayGenerator:
        """Learn from the non-null text values of a column (values that do not parse are skipped)."""
        kind = element_kind or "string"
        lists: list[list[Any]] = []
        positions = False
        for v in values:
            if style == "tsvector":
                lexemes, has_pos = _parse_tsvector(str(v))
                lists.append(list(lexemes))
                positions = positions or has_pos
            elif style == "set":
                lists.append([e for e in str(v).split(",") if e])
            else:
                parsed = parse_pg_array(str(v))
                # Multi-dimensional arrays are learned (and generated) as their flat elements.
                if parsed is not None:
                    lists.append(_flatten(parsed))
        lengths, _ = NumericEncoder.fit_transform(np.array([len(x) for x in lists] or [0], dtype=np.float64),
                                                  rng, integer=True)
        elements = [e for x in lists for e in x]
        present = [e for e in elements if e is not None]
        gen = cls(style, kind, lengths, null_share=(1 - len(present) / len(elements)) if elements else 0.0,
                  positions=positions)
        if not present:
            return gen
        distinct = len(set(present))
        few = distinct <= VOCABULARY_LIMIT and 2 * distinct <= len(present)
        if style == "set" or kind == "boolean" or (style == "array" and few):
            gen.vocabulary, _ = CategoricalEncoder.fit_transform(np.asarray(present, dtype=object), rng)
        elif kind in ("integer", "float", "decimal"):
            x = np.array([_as_float(e) for e in present], dtype=np.float64)
            x = x[np.isfinite(x)]
            if x.size:
                gen.numbers, _ = NumericEncoder.fit_transform(x, rng, integer=kind == "integer")
        elif kind != "uuid":
            gen.text = TextGenerator.fit(present)
        return gen

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` values in the style's text form (object array)."""
        lengths = np.maximum(self.lengths.decode(rng.standard_normal(n)).astype(np.int64), 0)
        elements = self._elements(int(lengths.sum()), rng)
        out = np.empty(n, dtype=object)
        start = 0
        for i, k in enumerate(lengths.tolist()):
            part = elements[start : start + k]
            start += k
            if self.style == "set":
                out[i] = ",".join(dict.fromkeys(e for e in part if e is not None))
            elif self.style == "tsvector":
                out[i] = _format_tsvector([e for e in part if e is not None], self.positions)
            else:
                out[i] = format_pg_array(list(part))
        return out

    def _elements(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.vocabulary is not None:
            out = self.vocabulary.decode(rng.standard_normal(n)).astype(object)
        elif self.numbers is not None:
            x = self.numbers.decode(rng.standard_normal(n))
            out = np.asarray([str(int(v)) if self.element_kind == "integer" else repr(float(v)) for v in x],
                             dtype=object)
        elif self.text is not None:
            out = self.text.generate(n, rng)
        elif self.element_kind == "uuid":
            out = UuidGenerator().generate(n, rng)
        else:  # the source had only NULL elements
            return np.full(n, None, dtype=object)
        if self.null_share > 0 and self.style == "array":
            out[rng.random(n) < self.null_share] = None
        return out

    def to_state(self) -> dict[str, Any]:
        return {
            "style": self.style,
            "element_kind": self.element_kind,
            "lengths": self.lengths.to_state(),
            "null_share": self.null_share,
            "vocabulary": None if self.vocabulary is None else self.vocabulary.to_state(),
            "numbers": None if self.numbers is None else self.numbers.to_state(),
            "text": None if self.text is None else self.text.to_state(),
            "positions": self.positions,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ArrayGenerator:
        return cls(
            style=state["style"],
            element_kind=state["element_kind"],
            lengths=NumericEncoder.from_state(state["lengths"]),
            null_share=float(state["null_share"]),
            vocabulary=None if state["vocabulary"] is None else CategoricalEncoder.from_state(state["vocabulary"]),
            numbers=None if state["numbers"] is None else NumericEncoder.from_state(state["numbers"]),
            text=None if state["text"] is None else TextGenerator.from_state(state["text"]),
            positions=bool(state["positions"]),
        )


def _flatten(value: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in value:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def _as_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


@dataclass
class AddressGenerator:
    """Random network addresses: inet/cidr with the source's IP versions and prefix lengths.

    ``families`` holds categories like ``"4/24"`` (IPv4, 24-bit prefix) with their frequencies;
    the addresses themselves are random (a cidr's host bits are zero), so none is copied.
    macaddr/macaddr8 values are random bytes.
    """

    style: str
    families: CategoricalEncoder | None = None

    @classmethod
    def fit(cls, values: list[str] | np.ndarray, style: str, rng: np.random.Generator) -> AddressGenerator:
        if style not in ("inet", "cidr"):
            return cls(style)
        labels = []
        for v in values:
            try:
                iface = ipaddress.ip_interface(str(v).strip())
            except ValueError:
                continue
            labels.append(f"{iface.version}/{iface.network.prefixlen}")
        enc, _ = CategoricalEncoder.fit_transform(np.asarray(labels or ["4/32"], dtype=object), rng)
        return cls(style, enc)

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.style in ("macaddr", "macaddr8"):
            width = 6 if self.style == "macaddr" else 8
            raw = rng.integers(0, 256, size=(n, width), dtype=np.uint8)
            return np.asarray([":".join(f"{b:02x}" for b in row) for row in raw.tolist()], dtype=object)
        assert self.families is not None
        labels = self.families.decode(rng.standard_normal(n))
        out = np.empty(n, dtype=object)
        hi = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True).tolist()
        lo = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True).tolist()
        for i, label in enumerate(labels):
            version, prefix = (int(x) for x in str(label).split("/"))
            if version == 4:
                addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(lo[i] >> 32)
            else:
                addr = ipaddress.IPv6Address(hi[i] << 64 | lo[i])
            if self.style == "cidr":
                out[i] = str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
            else:
                out[i] = str(addr) if prefix == addr.max_prefixlen else f"{addr}/{prefix}"
        return out

    def to_state(self) -> dict[str, Any]:
        return {"style": self.style, "families": None if self.families is None else self.families.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AddressGenerator:
        fam = state["families"]
        return cls(state["style"], None if fam is None else CategoricalEncoder.from_state(fam))


_INTERVAL_PART = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*(years?|mons?|months?|days?)", re.IGNORECASE)
_INTERVAL_TIME = re.compile(r"([+-])?(\d+):(\d{2})(?::(\d{2}(?:\.\d+)?))?")
_UNIT_SECONDS = {"y": 365.25 * 86400, "m": 30 * 86400, "d": 86400}


def _interval_seconds(text: str) -> float | None:
    """Seconds of an interval in PostgreSQL's ``postgres`` output style (a month as 30 days)."""
    total, found = 0.0, False
    for number, unit in _INTERVAL_PART.findall(text):
        total += float(number) * _UNIT_SECONDS[unit[0].lower()]
        found = True
    rest = _INTERVAL_PART.sub("", text)
    m = _INTERVAL_TIME.search(rest)
    if m:
        secs = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4) or 0)
        total += -secs if m.group(1) == "-" else secs
        found = True
    return total if found else None


def interval_text(seconds: float) -> str:
    """An interval literal PostgreSQL reads back (``-3 days -04:05:06.5``)."""
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    days = int(rest // 86400)
    rest -= days * 86400
    hours, rest = int(rest // 3600), rest % 3600
    minutes, secs = int(rest // 60), rest % 60
    clock = f"{sign}{hours:02d}:{minutes:02d}:{secs:09.6f}".rstrip("0").rstrip(".")
    return f"{sign}{days} days {clock}" if days else clock


def timedelta_interval(value: dt.timedelta) -> str:
    """A ``datetime.timedelta`` (how drivers return intervals) as interval text."""
    return interval_text(value.total_seconds())


@dataclass
class IntervalGenerator:
    """Intervals drawn from the quantile marginal of their length in seconds."""

    seconds: NumericEncoder

    @classmethod
    def fit(cls, values: list[str] | np.ndarray, rng: np.random.Generator) -> IntervalGenerator:
        secs = [s for v in values if (s := _interval_seconds(str(v))) is not None]
        enc, _ = NumericEncoder.fit_transform(np.asarray(secs or [0.0], dtype=np.float64), rng)
        return cls(enc)

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.asarray([interval_text(float(s)) for s in self.seconds.decode(rng.standard_normal(n))], dtype=object)

    def to_state(self) -> dict[str, Any]:
        return {"seconds": self.seconds.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IntervalGenerator:
        return cls(NumericEncoder.from_state(state["seconds"]))


_TAG_RE = re.compile(r"<[^>]*>")
_ROOT_RE = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<([A-Za-z_][\w.\-]*)", re.DOTALL)
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&apos;": "'"}


@dataclass
class XmlGenerator:
    """XML content: pattern-generated text, escaped, inside the source's most common root element."""

    text: TextGenerator
    root: str | None = None

    @classmethod
    def fit(cls, values: list[str] | np.ndarray) -> XmlGenerator:
        texts, roots = [], Counter()
        for v in values:
            s = str(v)
            m = _ROOT_RE.match(s)
            if m:
                roots[m.group(1)] += 1
            content = _TAG_RE.sub(" ", s)
            for entity, char in _ENTITIES.items():
                content = content.replace(entity, char)
            texts.append(" ".join(content.split()))
        root = roots.most_common(1)[0][0] if roots else None
        return cls(TextGenerator.fit(texts), root)

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        body = [t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for t in self.text.generate(n, rng)]
        if self.root:
            body = [f"<{self.root}>{t}</{self.root}>" for t in body]
        return np.asarray(body, dtype=object)

    def to_state(self) -> dict[str, Any]:
        return {"text": self.text.to_state(), "root": self.root}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> XmlGenerator:
        return cls(TextGenerator.from_state(state["text"]), state["root"])


_LEAF = "\x00"  # marks a leaf placeholder in a JSON skeleton: "\x00<type>:<path>"


@dataclass
class JsonGenerator:
    """JSON documents: the source's structures (keys, nesting) with generated leaves.

    Each document is reduced to a skeleton, its leaves replaced by typed placeholders named by
    their path (``a.b``, ``tags[]``); skeletons are drawn by frequency (the most common
    :attr:`max_shapes`) and each leaf from its path's model: numbers from a quantile marginal,
    strings from character patterns, booleans at their rate. Keys are stored (they are the
    documents' structure); no string value is.
    """

    shapes: CategoricalEncoder
    leaves: dict[str, dict[str, Any]]
    max_shapes: int = 300

    @classmethod
    def fit(cls, values: list[str] | np.ndarray, rng: np.random.Generator) -> JsonGenerator:
        shapes: list[str] = []
        collected: dict[str, list[Any]] = {}
        for v in values:
            try:
                doc = json.loads(str(v))
            except ValueError:
                continue
            shapes.append(json.dumps(_skeleton(doc, "", collected), ensure_ascii=False, sort_keys=True))
        if not shapes:
            shapes = ["null"]
        counts = Counter(shapes).most_common(cls.max_shapes)
        kept = np.asarray([s for s, c in counts for _ in range(c)], dtype=object)
        enc, _ = CategoricalEncoder.fit_transform(kept, rng)
        leaves: dict[str, dict[str, Any]] = {}
        for key, vals in collected.items():
            kind, path = key.split(":", 1)
            if kind == "n":
                x = np.asarray([float(v) for v in vals if math.isfinite(float(v))] or [0.0], dtype=np.float64)
                integer = all(isinstance(v, int) for v in vals)
                leaves[key] = NumericEncoder.fit_transform(x, rng, integer=integer)[0].to_state()
            elif kind == "s":
                leaves[key] = TextGenerator.fit([str(v) for v in vals]).to_state()
            else:
                leaves[key] = {"true": float(np.mean([bool(v) for v in vals]))}
        return cls(enc, leaves)

    def generate(self, n: int, rng: np.random.Generator) -> np.ndarray:
        shapes = self.shapes.decode(rng.standard_normal(n))
        parsed = {s: json.loads(s) for s in set(shapes.tolist())}
        leaves = {s: Counter(_leaf_keys(doc)) for s, doc in parsed.items()}
        need: Counter[str] = Counter()
        for shape, times in Counter(shapes.tolist()).items():
            need.update({key: k * times for key, k in leaves[shape].items()})
        # Every leaf of one path is drawn at once; documents then take them in turn.
        pools = {key: iter(self._draw(key, count, rng)) for key, count in need.items()}
        return np.asarray([json.dumps(_fill(parsed[s], pools), ensure_ascii=False) for s in shapes], dtype=object)

    def _draw(self, key: str, n: int, rng: np.random.Generator) -> list[Any]:
        state = self.leaves.get(key)
        if state is None:
            return [None] * n
        if key.startswith("n:"):
            enc = NumericEncoder.from_state(state)
            x = enc.decode(rng.standard_normal(n))
            return [int(v) for v in x] if enc.integer else [float(v) for v in x]
        if key.startswith("s:"):
            return [str(v) for v in TextGenerator.from_state(state).generate(n, rng)]
        return (rng.random(n) < state["true"]).tolist()

    def to_state(self) -> dict[str, Any]:
        return {"shapes": self.shapes.to_state(), "leaves": self.leaves}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> JsonGenerator:
        return cls(CategoricalEncoder.from_state(state["shapes"]), dict(state["leaves"]))


def _leaf_keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for v in node.values() for k in _leaf_keys(v)]
    if isinstance(node, list):
        return [k for v in node for k in _leaf_keys(v)]
    return [node[1:]] if isinstance(node, str) and node.startswith(_LEAF) else []


def _fill(node: Any, pools: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, pools) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, pools) for v in node]
    if isinstance(node, str) and node.startswith(_LEAF):
        return next(pools[node[1:]])
    return node


def _skeleton(node: Any, path: str, collected: dict[str, list[Any]]) -> Any:
    """``node`` with each leaf replaced by its placeholder; leaf values collected by placeholder."""
    if isinstance(node, dict):
        return {k: _skeleton(v, f"{path}.{k}" if path else str(k), collected) for k, v in node.items()}
    if isinstance(node, list):
        return [_skeleton(v, path + "[]", collected) for v in node]
    if node is None:
        return None
    kind = "b" if isinstance(node, bool) else "n" if isinstance(node, (int, float)) else "s"
    key = f"{kind}:{path}"
    collected.setdefault(key, []).append(node)
    return _LEAF + key


NativeGenerator = ArrayGenerator | AddressGenerator | IntervalGenerator | XmlGenerator | JsonGenerator
#: Generator classes by name, for model files.
NATIVE_GENERATORS: dict[str, type] = {c.__name__: c for c in (ArrayGenerator, AddressGenerator,
                                                             IntervalGenerator, XmlGenerator, JsonGenerator)}


def generated_style(kind: str, native_type: str | None, element_kind: str | None) -> str | None:
    """The generator style of a column with many distinct values, or None for pattern text.

    JSON columns always get :class:`JsonGenerator` (pattern text is no valid JSON); string
    columns with a native type get theirs (see :func:`native_style`).
    """
    if kind == "json":
        return "json"
    return native_style(native_type, element_kind) if kind == "string" else None


def fit_native(style: str, element_kind: str | None, values: list[str] | np.ndarray,
               rng: np.random.Generator) -> NativeGenerator:
    """Fit the generator for ``style`` (see :func:`generated_style`) on a column's non-null values."""
    if style == "json":
        return JsonGenerator.fit(values, rng)
    if style in ("array", "set", "tsvector"):
        return ArrayGenerator.fit(values, style, element_kind, rng)
    if style in ("inet", "cidr", "macaddr", "macaddr8"):
        return AddressGenerator.fit(values, style, rng)
    if style == "interval":
        return IntervalGenerator.fit(values, rng)
    if style == "xml":
        return XmlGenerator.fit(values)
    raise ValueError(f"no generator for style {style!r}")
