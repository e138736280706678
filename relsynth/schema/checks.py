"""CHECK constraints: parsed once, evaluated on synthetic frames, rendered for the target dialect.

A CHECK read from the source is SQL text in the source's dialect (PostgreSQL normalizes
``rating IN ('G', 'PG')`` into ``(rating)::text = ANY (ARRAY['G'::varchar, ...])``, MySQL adds
``_utf8mb4`` introducers, SQLite keeps what the user typed). :func:`compile_checks` parses it with
sqlglot, rewrites it into a small portable form (IN lists, no casts on columns, every column
quoted with its exact schema name) and returns a :class:`CheckRule` that can

- tell, for every row of a synthetic frame, whether the row satisfies it (:meth:`CheckRule.holds`,
  vectorized numpy, SQL's three-valued logic: a CHECK that is NULL passes), so the sampler can
  redraw rows that break it before any child is generated under them; and
- render itself as SQL for the target dialect (:meth:`CheckRule.sql`), so the target enforces it.

A CHECK that relsynth cannot evaluate (a user-defined function, a subquery, an operator outside the
supported set) is *not enforceable*: it is neither guaranteed in the output nor declared on the
target, and :attr:`CheckRule.problem` says why; the clone reports it. Declaring a rule the output
was not checked against would only make the load fail.

Supported: column references, number/string/boolean/NULL literals, casts of literals (dates,
timestamps, numbers, text), ``+ - * / %``, comparisons, ``AND/OR/NOT``, ``IN``, ``BETWEEN``,
``IS [NOT] NULL``, ``LIKE``, regular-expression matches, ``= ANY(ARRAY[...])``,
``length/char_length``, ``lower``, ``upper``, ``trim``, ``abs``, ``coalesce``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from relsynth.schema.model import CheckConstraint, Table

__all__ = ["CheckRule", "compile_checks", "sqlglot_dialect"]

_SQLGLOT_DIALECTS = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql",
                     "sqlite": "sqlite"}


def sqlglot_dialect(name: str | None) -> str | None:
    """sqlglot's name for a SQLAlchemy dialect name (None: sqlglot's generic SQL)."""
    return _SQLGLOT_DIALECTS.get((name or "").lower())


class _Unsupported(Exception):
    """The expression uses something the evaluator does not know."""


@dataclass
class CheckRule:
    """One CHECK constraint of one table, ready to evaluate and to render.

    Attributes:
        check: The constraint as read from the source.
        table: The table's name.
        expression: The portable parsed form (None when it could not be parsed).
        columns: The columns it reads.
        problem: Why it is not enforceable, or None when it is.
    """

    check: CheckConstraint
    table: str
    expression: Any
    columns: tuple[str, ...]
    problem: str | None
    kinds: dict[str, str]
    _sql: dict[str | None, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def enforceable(self) -> bool:
        """Whether relsynth can evaluate it (then the output satisfies it and the target declares it)."""
        return self.problem is None

    @property
    def label(self) -> str:
        """``table: CHECK name (expression)``, as messages name it."""
        return f"{self.table}: CHECK {self.check.name + ' ' if self.check.name else ''}({self.check.sqltext})"

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        """True for each row that satisfies the CHECK (TRUE or NULL), False where it is broken."""
        if not self.enforceable:
            return np.ones(len(frame), dtype=bool)
        value = _Evaluator(frame, self.kinds).eval(self.expression)
        value = _broadcast(value, len(frame))
        if value.kind != "bool":
            value = _truthy(value)
        return value.null | value.data.astype(bool)

    def sql(self, dialect: str) -> str:
        """The CHECK's condition in ``dialect`` (a SQLAlchemy dialect name), rendered once per
        dialect: every DDL build of a load asks again."""
        target = sqlglot_dialect(dialect)
        if target not in self._sql:
            self._sql[target] = self._render(target)
        return self._sql[target]

    def _render(self, target: str | None) -> str:
        from sqlglot import exp

        tree = self.expression
        if target == "postgres":
            tree = tree.copy()
            # PostgreSQL has no boolean = integer operator; SQLite and MySQL store booleans as 0/1.
            for node in list(tree.find_all(exp.EQ, exp.NEQ, exp.In)):
                col = node.this
                if isinstance(col, exp.Column) and self.kinds.get(col.name) == "boolean":
                    for lit in list(node.find_all(exp.Literal)):
                        if not lit.is_string and lit.this in ("0", "1"):
                            lit.replace(exp.Boolean(this=lit.this == "1"))
        if target == "mysql":
            # MariaDB refuses REGEXP_LIKE() in a CHECK but takes the REGEXP operator.
            tree = tree.transform(lambda n: exp.Var(
                this=f"({n.this.sql(dialect=target)} REGEXP {n.expression.sql(dialect=target)})"
            ) if isinstance(n, exp.RegexpLike) else n)
        return tree.sql(dialect=target)


def compile_checks(table: Table, dialect: str | None) -> list[CheckRule]:
    """Parse every CHECK of ``table`` (written in ``dialect``) into a :class:`CheckRule`.

    The fit, the sampler and every DDL build ask for the same rules: each is compiled once
    (parsing, the trial evaluation and a rendering cost ~2 ms) and shared, read-only.
    """
    columns = tuple((c.name, c.kind) for c in table.columns)
    return [_compile(check.sqltext, check.name, table.name, columns, dialect) for check in table.checks]


@lru_cache(maxsize=1024)
def _compile(sqltext: str, name: str | None, table: str, columns: tuple[tuple[str, str], ...],
             dialect: str | None) -> CheckRule:
    check = CheckConstraint(sqltext, name)
    kinds = dict(columns)
    try:
        import sqlglot
        from sqlglot.errors import SqlglotError
    except ImportError:  # pragma: no cover - sqlglot is a core dependency
        return CheckRule(check, table, None, (), "sqlglot is not installed", kinds)
    try:
        tree = sqlglot.parse_one(check.sqltext, read=sqlglot_dialect(dialect))
    except (SqlglotError, ValueError, RecursionError) as exc:
        return CheckRule(check, table, None, (), f"cannot parse it ({str(exc).splitlines()[0][:80]})", kinds)
    try:
        tree, used = _portable(tree, table, list(kinds))
        rule = CheckRule(check, table, tree, tuple(used), None, kinds)
        _Evaluator(_empty_frame(columns), kinds).eval(tree)  # every node kind is known before any data is seen
        # Rendered in the source's dialect here, so that one that cannot be is known before any
        # data is seen; in another target's when that target's DDL asks (a few ms of sqlglot's
        # dialect modules and renderings saved where the target is the source's kind).
        for target in (dialect,) if sqlglot_dialect(dialect) else ("sqlite", "postgresql", "mysql"):
            rule.sql(target)
        return rule
    except _Unsupported as exc:
        return CheckRule(check, table, None, (), str(exc), kinds)
    except Exception as exc:  # noqa: BLE001 - sqlglot raises many types while rendering
        return CheckRule(check, table, None, (), f"cannot translate it ({type(exc).__name__})", kinds)


@lru_cache(maxsize=64)
def _empty_frame(columns: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """A table's columns without rows (each of its kind's dtype), for a trial evaluation; one per
    table, shared by its checks (the evaluator only reads it)."""
    return pd.DataFrame({c: pd.Series([], dtype=_EMPTY_DTYPES.get(k, object)) for c, k in columns})


_EMPTY_DTYPES = {"integer": "Int64", "float": "float64", "decimal": "float64", "boolean": "boolean",
                 "date": "datetime64[us]", "datetime": "datetime64[us]"}

_TEXT_TYPES = {"TEXT", "VARCHAR", "CHAR", "NCHAR", "NVARCHAR", "BPCHAR", "NAME", "STRING"}
_NUMBER_TYPES = {"INT", "BIGINT", "SMALLINT", "TINYINT", "DECIMAL", "DOUBLE", "FLOAT", "REAL", "NUMERIC",
                 "MONEY", "UINT", "UBIGINT", "USMALLINT", "UTINYINT", "BIGDECIMAL"}
_TIME_TYPES = {"DATE", "DATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ", "DATETIME64", "TIMESTAMPNTZ"}


def _type_name(node: Any) -> str:
    return node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)


def _portable(tree: Any, table: str, column_names: list[str]) -> tuple[Any, list[str]]:
    """Rewrite into the portable form; returns the tree and the columns it reads."""
    from sqlglot import exp

    by_lower = {c.lower(): c for c in column_names}
    names = set(column_names)
    columns: list[str] = []

    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.Introducer):
            return node.expression
        if isinstance(node, exp.Column):
            if node.table or isinstance(node.this, exp.Star):
                raise _Unsupported(f"it refers to {node.sql()}")
            raw = node.name
            name = raw if raw in names else by_lower.get(raw.lower())
            if name is None:
                raise _Unsupported(f"it refers to {raw!r}, which is not a column of {table}")
            if name not in columns:
                columns.append(name)
            return exp.column(name, quoted=True)
        if isinstance(node, exp.Cast):
            inner = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
            type_name = _type_name(node)
            if type_name in _TEXT_TYPES or type_name == "ARRAY":
                return inner
            if isinstance(inner, exp.Column) and (type_name in _NUMBER_TYPES or type_name in _TIME_TYPES):
                return inner
            return node
        return node

    def rewrite_any(node: Any) -> Any:
        if isinstance(node, (exp.EQ, exp.NEQ)) and isinstance(node.expression, (exp.Any, exp.All, exp.Anonymous)):
            wrapper = node.expression
            if isinstance(wrapper, exp.Anonymous) and wrapper.name.upper() not in ("ANY", "ALL"):
                return node
            is_any = isinstance(wrapper, exp.Any) or (isinstance(wrapper, exp.Anonymous) and wrapper.name.upper() == "ANY")
            arr = wrapper.this if not isinstance(wrapper, exp.Anonymous) else wrapper.expressions[0]
            while isinstance(arr, (exp.Paren, exp.Cast)):
                arr = arr.this
            if not isinstance(arr, exp.Array):
                raise _Unsupported("it compares with a non-literal array")
            members = [m.this if isinstance(m, exp.Cast) else m for m in arr.expressions]
            inlist = exp.In(this=node.this, expressions=members)
            if isinstance(node, exp.EQ) and is_any:
                return inlist
            if isinstance(node, exp.NEQ) and not is_any:
                return exp.Not(this=exp.Paren(this=inlist))
            raise _Unsupported("it uses = ALL / <> ANY over an array")
        return node

    tree = tree.transform(rewrite).transform(rewrite_any)
    # A column wrapped in parentheses (PostgreSQL writes "(rating)::text") is just the column.
    tree = tree.transform(lambda n: n.this if isinstance(n, exp.Paren) and isinstance(n.this, (exp.Column, exp.Literal)) else n)
    return tree, columns


# ---------------------------------------------------------------------- evaluation
@dataclass
class _Value:
    """A column of values with a NULL mask; kind is num, str, time or bool."""

    data: np.ndarray
    null: np.ndarray
    kind: str


@dataclass
class _Scalar:
    value: Any  # None for NULL
    kind: str  # num, str, time, bool, null


def _broadcast(v: _Value | _Scalar, n: int) -> _Value:
    if isinstance(v, _Value):
        return v
    kind = "num" if v.kind == "null" else v.kind
    dtype = {"num": float, "bool": bool, "time": "datetime64[us]"}.get(kind, object)
    if v.value is None:
        filler = {"num": 0.0, "bool": False, "time": np.datetime64("NaT"), "str": ""}[kind]
        return _Value(np.full(n, filler, dtype=dtype), np.ones(n, dtype=bool), kind)
    return _Value(np.full(n, v.value, dtype=dtype), np.zeros(n, dtype=bool), kind)


def _truthy(v: _Value) -> _Value:
    if v.kind == "num":
        return _Value(np.where(v.null, False, v.data != 0), v.null, "bool")
    raise _Unsupported("a non-boolean value is used as a condition")


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, kinds: dict[str, str]) -> None:
        self.frame = frame
        self.kinds = kinds
        self.n = len(frame)

    # -- operands
    def eval(self, node: Any) -> _Value | _Scalar:
        from sqlglot import exp

        handler: Callable[[Any], _Value | _Scalar] | None = getattr(self, f"_{type(node).__name__.lower()}", None)
        if handler is None:
            if isinstance(node, exp.Binary) and type(node).__name__ in _COMPARE:
                return self._compare(node)
            raise _Unsupported(f"it uses {type(node).__name__} ({node.sql()[:60]})")
        return handler(node)

    def _paren(self, node: Any) -> _Value | _Scalar:
        return self.eval(node.this)

    def _column(self, node: Any) -> _Value:
        name = node.name
        kind = self.kinds[name]
        s = self.frame[name]
        null = s.isna().to_numpy()
        if kind in ("integer", "float", "decimal"):
            return _Value(pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan), null, "num")
        if kind == "boolean":
            return _Value(s.astype("boolean").to_numpy(dtype=bool, na_value=False), null, "bool")
        if kind in ("date", "datetime"):
            return _Value(pd.to_datetime(s).to_numpy(dtype="datetime64[us]"), null, "time")
        if kind in ("string", "uuid", "json"):
            text = s.to_numpy(dtype=object, copy=True)
            text[null] = ""
            return _Value(text, null, "str")
        raise _Unsupported(f"it reads the {kind} column {name!r}")

    def _literal(self, node: Any) -> _Scalar:
        if node.is_string:
            return _Scalar(node.this, "str")
        return _Scalar(float(node.this), "num")

    def _boolean(self, node: Any) -> _Scalar:
        return _Scalar(bool(node.this), "bool")

    def _null(self, node: Any) -> _Scalar:
        return _Scalar(None, "null")

    def _neg(self, node: Any) -> _Value | _Scalar:
        v = self._num(self.eval(node.this))
        return _Scalar(-v.value, "num") if isinstance(v, _Scalar) and v.value is not None else (
            v if isinstance(v, _Scalar) else _Value(-v.data, v.null, "num"))

    def _cast(self, node: Any) -> _Value | _Scalar:
        inner = self.eval(node.this)
        type_name = _type_name(node)
        if isinstance(inner, _Scalar) and inner.value is not None:
            if type_name in _TIME_TYPES:
                return _Scalar(_to_time(inner.value), "time")
            if type_name in _NUMBER_TYPES:
                return _Scalar(float(inner.value), "num")
            if type_name in _TEXT_TYPES:
                return _Scalar(str(inner.value), "str")
        if type_name in _TIME_TYPES and isinstance(inner, _Value) and inner.kind == "time":
            return inner
        raise _Unsupported(f"it casts to {type_name}")

    # -- arithmetic
    def _num(self, v: _Value | _Scalar) -> _Value | _Scalar:
        if v.kind == "null":
            return _Scalar(None, "num")
        if v.kind == "num":
            return v
        if v.kind == "bool":
            return _Scalar(float(v.value), "num") if isinstance(v, _Scalar) else _Value(v.data.astype(float), v.null, "num")
        raise _Unsupported("it does arithmetic on non-numbers")

    def _arith(self, node: Any, op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> _Value:
        a = _broadcast(self._num(self.eval(node.this)), self.n)
        b = _broadcast(self._num(self.eval(node.expression)), self.n)
        with np.errstate(all="ignore"):
            data = op(a.data, b.data)
        null = a.null | b.null | ~np.isfinite(data)
        return _Value(np.where(null, 0.0, data), null, "num")

    def _add(self, node: Any) -> _Value:
        return self._arith(node, np.add)

    def _sub(self, node: Any) -> _Value:
        return self._arith(node, np.subtract)

    def _mul(self, node: Any) -> _Value:
        return self._arith(node, np.multiply)

    def _div(self, node: Any) -> _Value:
        return self._arith(node, np.divide)

    def _mod(self, node: Any) -> _Value:
        return self._arith(node, np.fmod)

    def _abs(self, node: Any) -> _Value:
        v = _broadcast(self._num(self.eval(node.this)), self.n)
        return _Value(np.abs(v.data), v.null, "num")

    # -- strings
    def _str(self, node: Any) -> _Value:
        v = _broadcast(self.eval(node), self.n)
        if v.kind != "str":
            raise _Unsupported("a text function is applied to a non-text value")
        return v

    def _length(self, node: Any) -> _Value:
        v = self._str(node.this)
        return _Value(pd.Series(v.data, dtype=object).str.len().to_numpy(dtype=float, na_value=0.0), v.null, "num")

    _charlength = _length

    def _lower(self, node: Any) -> _Value:
        v = self._str(node.this)
        return _Value(pd.Series(v.data, dtype=object).str.lower().to_numpy(dtype=object), v.null, "str")

    def _upper(self, node: Any) -> _Value:
        v = self._str(node.this)
        return _Value(pd.Series(v.data, dtype=object).str.upper().to_numpy(dtype=object), v.null, "str")

    def _trim(self, node: Any) -> _Value:
        if node.args.get("expression") is not None or node.args.get("position"):
            raise _Unsupported("it trims other characters than spaces")
        v = self._str(node.this)
        return _Value(pd.Series(v.data, dtype=object).str.strip(" ").to_numpy(dtype=object), v.null, "str")

    def _coalesce(self, node: Any) -> _Value:
        parts = [_broadcast(self.eval(e), self.n) for e in [node.this, *node.expressions]]
        out = parts[0]
        for p in parts[1:]:
            a, b = self._pair(out, p)
            out = _Value(np.where(a.null, b.data, a.data), a.null & b.null, a.kind)
        return out

    # -- predicates
    def _compare(self, node: Any) -> _Value:
        a, b = self._pair(self.eval(node.this), self.eval(node.expression))
        null = a.null | b.null
        data = np.asarray(_COMPARE[type(node).__name__](a.data, b.data), dtype=bool)
        return _Value(np.where(null, False, data), null, "bool")

    def _pair(self, a: _Value | _Scalar, b: _Value | _Scalar) -> tuple[_Value, _Value]:
        """Both operands as columns of one kind (a literal takes the other side's kind)."""
        if isinstance(a, _Scalar) and isinstance(b, _Value):
            a = _scalar_as(a, b.kind)
        elif isinstance(b, _Scalar) and isinstance(a, _Value):
            b = _scalar_as(b, a.kind)
        return _align(_broadcast(a, self.n), _broadcast(b, self.n))

    def _in(self, node: Any) -> _Value:
        if node.args.get("query") is not None or node.args.get("field") is not None:
            raise _Unsupported("it uses IN with a subquery")
        x = _broadcast(self.eval(node.this), self.n)
        hit = np.zeros(self.n, dtype=bool)
        has_null = False
        literals = []
        for member in node.expressions:
            m = self.eval(member)
            if isinstance(m, _Scalar) and m.value is None:
                has_null = True
            elif isinstance(m, _Scalar):
                literals.append(_scalar_as(m, x.kind).value)
            else:
                a, b = self._pair(x, m)
                hit |= np.asarray(a.data == b.data, dtype=bool) & ~b.null
        if literals:
            hit |= pd.Series(x.data, dtype=object).isin(literals).to_numpy() if x.kind == "str" else np.isin(x.data, np.asarray(literals))
        null = x.null | (~hit & has_null)
        return _Value(np.where(null, False, hit), null, "bool")

    def _between(self, node: Any) -> _Value:
        from sqlglot import exp

        low = exp.GTE(this=node.this, expression=node.args["low"])
        high = exp.LTE(this=node.this, expression=node.args["high"])
        return self._and(exp.And(this=low, expression=high))

    def _is(self, node: Any) -> _Value:
        from sqlglot import exp

        if not isinstance(node.expression, exp.Null):
            raise _Unsupported("it uses IS with something other than NULL")
        v = _broadcast(self.eval(node.this), self.n)
        data = ~v.null if node.args.get("negate") else v.null.copy()
        return _Value(data, np.zeros(self.n, dtype=bool), "bool")

    def _like(self, node: Any, flags: int = 0, escape: str | None = None) -> _Value:
        pattern = self.eval(node.expression)
        if not isinstance(pattern, _Scalar) or pattern.kind != "str":
            raise _Unsupported("it uses LIKE with a non-literal pattern")
        regex = _like_regex(pattern.value, escape)
        return self._match(node.this, re.compile(regex, flags | re.DOTALL), full=True)

    def _ilike(self, node: Any) -> _Value:
        return self._like(node, re.IGNORECASE)

    def _escape(self, node: Any) -> _Value:
        """``x LIKE 'a!%' ESCAPE '!'``: sqlglot wraps the LIKE."""
        from sqlglot import exp

        escape = self.eval(node.expression)
        if not isinstance(node.this, (exp.Like, exp.ILike)) or not isinstance(escape, _Scalar) or escape.kind != "str":
            raise _Unsupported("it uses ESCAPE outside LIKE")
        return self._like(node.this, re.IGNORECASE if isinstance(node.this, exp.ILike) else 0, escape.value)

    def _regexplike(self, node: Any) -> _Value:
        pattern = self.eval(node.expression)
        if not isinstance(pattern, _Scalar) or pattern.kind != "str":
            raise _Unsupported("it matches a non-literal regular expression")
        try:
            regex = re.compile(pattern.value)
        except re.error:
            raise _Unsupported("its regular expression is not one Python understands") from None
        return self._match(node.this, regex, full=False)

    def _match(self, operand: Any, regex: re.Pattern[str], full: bool) -> _Value:
        v = self._str(operand)
        test = regex.fullmatch if full else regex.search
        data = np.fromiter((bool(test(s)) if isinstance(s, str) else False for s in v.data), dtype=bool, count=self.n)
        return _Value(np.where(v.null, False, data), v.null, "bool")

    def _not(self, node: Any) -> _Value:
        v = self._bool(node.this)
        return _Value(np.where(v.null, False, ~v.data), v.null, "bool")

    def _and(self, node: Any) -> _Value:
        a, b = self._bool(node.this), self._bool(node.expression)
        false = (~a.data & ~a.null) | (~b.data & ~b.null)
        null = ~false & (a.null | b.null)
        return _Value(~false & ~null, null, "bool")

    def _or(self, node: Any) -> _Value:
        a, b = self._bool(node.this), self._bool(node.expression)
        true = (a.data & ~a.null) | (b.data & ~b.null)
        null = ~true & (a.null | b.null)
        return _Value(true, null, "bool")

    def _bool(self, node: Any) -> _Value:
        v = _broadcast(self.eval(node), self.n)
        if v.kind == "bool":
            return v
        return _truthy(v)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b, "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b, "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
}


def _to_time(value: Any) -> np.datetime64:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise _Unsupported(f"{value!r} is not a date") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.to_datetime64(), "us")


def _scalar_as(v: _Scalar, kind: str) -> _Scalar:
    """A literal in the kind of the column it is compared with ('2007-01-01' with a date, 1 with a boolean)."""
    if v.value is None or v.kind == kind:
        return _Scalar(v.value, kind)
    if kind == "time" and v.kind == "str":
        return _Scalar(_to_time(v.value), "time")
    if kind == "num" and v.kind in ("str", "bool"):
        try:
            return _Scalar(float(v.value), "num")
        except ValueError:
            raise _Unsupported(f"it compares a number with {v.value!r}") from None
    if kind == "bool" and v.kind == "num" and v.value in (0.0, 1.0):
        return _Scalar(bool(v.value), "bool")
    if kind == "str" and v.kind == "num":
        return _Scalar(str(int(v.value)) if float(v.value).is_integer() else str(v.value), "str")
    raise _Unsupported(f"it compares {kind} with {v.kind}")


def _align(a: _Value, b: _Value) -> tuple[_Value, _Value]:
    """Two columns of different kinds, converted as the databases compare them."""
    if a.kind == b.kind:
        return a, b
    for x, y, flip in ((a, b, False), (b, a, True)):
        if x.kind == "bool" and y.kind == "num":
            converted = _Value(x.data.astype(float), x.null, "num")
            return (y, converted) if flip else (converted, y)
        if x.kind == "time" and y.kind == "str":
            times = pd.to_datetime(pd.Series(y.data).where(~y.null), errors="coerce")
            converted = _Value(times.to_numpy(dtype="datetime64[us]"), y.null | times.isna().to_numpy(), "time")
            return (converted, x) if flip else (x, converted)
    raise _Unsupported(f"it compares {a.kind} with {b.kind}")


def _like_regex(pattern: str, escape: str | None) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)
