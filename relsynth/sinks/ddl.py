"""Schema → SQLAlchemy ``MetaData`` for one target dialect.

The reader maps every source dialect onto portable :data:`~relsynth.schema.model.Kind` values;
this module maps them back onto the target's types (PostgreSQL → SQLite, SQLite → PostgreSQL,
anything → MariaDB/MySQL) and declares keys and constraints. Every identifier goes through
SQLAlchemy, so names with spaces, quotes, unicode or SQL keywords are quoted by the dialect.

Where the target is of the source's dialect family, a column's ``native_type`` is declared as
it is (PostgreSQL arrays, tsvector, inet, money, enums by their own name, domains recreated with
their CHECKs; MySQL SET, YEAR, BIT(n), unsigned integers outside keys); elsewhere the kind's type
is the stated fallback (arrays become JSON, the rest their text form; see the README's "Types").

The writer creates tables in stages (bare columns first on PostgreSQL, keys after the bulk
load), so :class:`TargetDDL` builds a ``MetaData`` for any subset of constraint kinds from one
set of type decisions.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from relsynth.schema.checks import compile_checks
from relsynth.schema.model import Column, ForeignKey, Schema, Table, UniqueConstraint

__all__ = ["ConstraintKind", "NativeType", "TargetDDL", "dialect_family"]

log = logging.getLogger("relsynth")

#: Kinds of table-level constraint the writer can ask for.
ConstraintKind = Literal["primary_key", "unique", "foreign_key", "check"]
ALL_CONSTRAINTS: frozenset[str] = frozenset({"primary_key", "unique", "foreign_key", "check"})

_INT_RANGES = {16: 2**15 - 1, 32: 2**31 - 1, 64: 2**63 - 1}
# InnoDB index prefixes are limited to 3072 bytes; utf8mb4 takes up to 4 bytes per character.
_MYSQL_MAX_KEY_CHARS = 768
# Past this, VARCHARs risk MySQL's 65,535-byte row limit; a non-key column becomes TEXT instead.
_MYSQL_MAX_VARCHAR = 4096
_DEFAULT_DECIMAL = (18, 4)


class NativeType(sa.types.UserDefinedType):  # type: ignore[type-arg]
    """A type declared by its text (``text[]``, ``tsvector``, ``SET('a','b')``, ...)."""

    cache_ok = True

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def get_col_spec(self, **kw: Any) -> str:
        return self.spec


def dialect_family(name: str) -> str:
    """Map a SQLAlchemy dialect name onto the writer's families (``mariadb`` → ``mysql``)."""
    name = name.lower()
    if name in ("mariadb", "mysql"):
        return "mysql"
    if name in ("postgres", "postgresql"):
        return "postgresql"
    return name


def _max_identifier(family: str) -> int:
    return {"postgresql": 63, "mysql": 64}.get(family, 1000)


@dataclass
class TargetDDL:
    """Type and constraint decisions for writing ``schema`` to one target dialect.

    Attributes:
        schema: The logical schema to create.
        dialect: Target dialect name (``sqlite``, ``postgresql``, ``mysql``, ``mariadb``).
        frames: The data to be written, if known; integer widths and decimal precisions are
            widened so every value fits (a declared INTEGER holding 5e9 becomes BIGINT).
        int_bounds: Largest absolute values integer columns will hold beyond ``frames`` (data
            written in pieces after the tables are created).
    """

    schema: Schema
    dialect: str
    frames: Mapping[str, pd.DataFrame] | None = None
    int_bounds: Mapping[tuple[str, str], int] | None = None
    family: str = field(init=False)
    types: dict[tuple[str, str], TypeEngine] = field(init=False)
    enum_names: dict[tuple[str, str], str] = field(init=False)
    implicit_unique: dict[str, list[list[str]]] = field(init=False)
    constraint_names: dict[int, str | None] = field(init=False)

    def __post_init__(self) -> None:
        self.family = dialect_family(self.dialect)
        self.implicit_unique = self._implicit_unique()
        self.enum_names = self._enum_names()
        self.constraint_names = self._constraint_names()
        self.types = self._plan_types()

    # ------------------------------------------------------------------ metadata
    def metadata(self, include: Collection[str] = ALL_CONSTRAINTS) -> sa.MetaData:
        """Build a fresh ``MetaData`` holding every table of the schema.

        Args:
            include: Which of ``primary_key``, ``unique``, ``foreign_key``, ``check`` to declare.
                Columns and NOT NULL are always declared (primary-key columns are always NOT NULL).

        Returns:
            A ``MetaData`` whose table names equal the schema's.
        """
        md = sa.MetaData()
        for table in self.schema.tables.values():
            self._table(md, table, include)
        return md

    def _table(self, md: sa.MetaData, table: Table, include: Collection[str]) -> sa.Table:
        pk = set(table.primary_key)
        columns = [
            sa.Column(
                col.name,
                self.types[(table.name, col.name)],
                nullable=col.nullable and col.name not in pk,
                # Values are always supplied: never SERIAL / AUTO_INCREMENT / IDENTITY.
                autoincrement=False,
            )
            for col in table.columns
        ]
        constraints: list[sa.Constraint] = []
        if "primary_key" in include and table.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*table.primary_key))
        if "unique" in include:
            for uq in table.unique:
                if list(uq.columns) != list(table.primary_key):
                    constraints.append(sa.UniqueConstraint(*uq.columns, name=self.constraint_names.get(id(uq))))
            for cols in self.implicit_unique.get(table.name, []):
                constraints.append(sa.UniqueConstraint(*cols))
        if "foreign_key" in include:
            for fk in table.foreign_keys:
                constraints.append(
                    sa.ForeignKeyConstraint(
                        list(fk.columns),
                        [f"{fk.ref_table}.{c}" for c in fk.ref_columns],
                        name=self.constraint_names.get(id(fk)),
                        # Cycles: SQLAlchemy must not try to sort these; the writer orders loads.
                        use_alter=self.family != "sqlite",
                    )
                )
        if "check" in include:
            constraints.extend(self._checks(table))
        kwargs: dict[str, Any] = {}
        if self.family == "mysql":
            # InnoDB for transactions and FKs; a binary collation so string keys compare like
            # they do in PostgreSQL and SQLite ("a" != "A", trailing spaces count).
            kwargs = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
        items: list[sa.schema.SchemaItem] = [*columns, *constraints]
        return sa.Table(table.name, md, *items, **kwargs)

    def _checks(self, table: Table) -> list[sa.Constraint]:
        """CHECK constraints for ``table``, translated into the target dialect.

        Only the rules :mod:`relsynth.schema.checks` can evaluate are declared: those are the ones
        the sampler guarantees in the output, so the target's own check of them cannot fail the
        load. The others are reported by the fit (``Model.notes``). SQLite and MySQL/MariaDB
        declare them in CREATE TABLE; PostgreSQL adds them with ALTER TABLE after the COPY. A rule
        rendered in the source's dialect that sqlglot cannot render in the target's (none known)
        is left out with a warning: the rows hold it all the same.
        """
        out: list[sa.Constraint] = []
        for rule in compile_checks(table, self.schema.dialect):
            if not rule.enforceable:
                continue
            try:
                condition = rule.sql(self.family)
            except Exception as exc:  # noqa: BLE001 - sqlglot raises many types while rendering
                log.warning("%s is not declared in the %s target: cannot translate it (%s); the rows satisfy it",
                            rule.label, self.family, type(exc).__name__)
                continue
            out.append(sa.CheckConstraint(condition, name=self._check_names.get(rule.check.name)))
        return out

    @cached_property
    def _check_names(self) -> dict[str | None, str]:
        """Source CHECK names kept where unique in the schema and short enough (MySQL: per database)."""
        counts: dict[str, int] = {}
        for t in self.schema.tables.values():
            for c in t.checks:
                if c.name:
                    counts[c.name] = counts.get(c.name, 0) + 1
        limit = _max_identifier(self.family)
        return {name: name for name, n in counts.items() if n == 1 and len(name) <= limit}

    # ------------------------------------------------------------------ decisions
    def _implicit_unique(self) -> dict[str, list[list[str]]]:
        """Column sets that a foreign key references but no PK/UNIQUE covers.

        PostgreSQL refuses such a foreign key and SQLite reports "foreign key mismatch" on the
        first insert, so the parent side gets a UNIQUE constraint (the data is generated unique).
        """
        out: dict[str, list[list[str]]] = {}
        for table in self.schema.tables.values():
            for fk in table.foreign_keys:
                parent = self.schema.tables[fk.ref_table]
                wanted = set(fk.ref_columns)
                covered = [set(s) for s in parent.unique_sets] + [set(s) for s in out.get(parent.name, [])]
                if wanted not in covered:
                    log.info("adding UNIQUE%s to %s: foreign key %s.%s references it", tuple(fk.ref_columns),
                             parent.name, table.name, fk.label)
                    out.setdefault(parent.name, []).append(list(fk.ref_columns))
        return out

    def _constraint_names(self) -> dict[int, str | None]:
        """Keep source constraint names only where they are unique and short enough.

        PostgreSQL index names and MySQL FK names are unique per database, while a source such as
        MySQL repeats names per table; a clash would fail the load, so those go unnamed and the
        target picks a name.
        """
        objs: list[ForeignKey | UniqueConstraint] = []
        for t in self.schema.tables.values():
            objs += t.foreign_keys
            objs += t.unique
        counts: dict[str, int] = {}
        for obj in objs:
            if obj.name:
                counts[obj.name] = counts.get(obj.name, 0) + 1
        limit = _max_identifier(self.family)
        return {
            id(obj): obj.name if obj.name and counts[obj.name] == 1 and len(obj.name) <= limit else None
            for obj in objs
        }

    def native(self, col: Column) -> bool:
        """Whether ``col`` is declared with its source's own type (``native_type``).

        Only when the target is of the source's dialect family: ``text[]`` or an enum's name
        mean nothing elsewhere, where the column gets its kind's type (see the README's "Types").
        """
        return bool(col.native_type) and dialect_family(self.schema.dialect or "") == self.family

    @property
    def named_types(self) -> list[tuple[str, str]]:
        """``("domain" | "type", name)`` of the PostgreSQL domains and enum types this DDL creates.

        Domains first: that is the order in which they can be dropped.
        """
        if self.family != "postgresql":
            return []
        domains = {col.native_type: None for table in self.schema.tables.values() for col in table.columns
                   if col.domain is not None and col.native_type and self.native(col)}
        enums = dict.fromkeys(self.enum_names.values())
        return [("domain", n) for n in domains if n] + [("type", n) for n in enums]

    def _enum_names(self) -> dict[tuple[str, str], str]:
        names: dict[tuple[str, str], str] = {}
        used: set[str] = set()
        limit = _max_identifier(self.family)
        for table in self.schema.tables.values():
            for col in table.columns:
                if col.kind == "string" and col.enum_values and col.native_type and self.native(col):
                    # The source's own enum type, shared by every column that has it.
                    names[(table.name, col.name)] = col.native_type
                    used.add(col.native_type)
        for table in self.schema.tables.values():
            for col in table.columns:
                if (table.name, col.name) in names:
                    continue
                if col.kind == "string" and col.enum_values:
                    base = f"{table.name}_{col.name}_enum"[:limit]
                    name, n = base, 1
                    while name in used:
                        suffix = f"_{n}"
                        name, n = base[: limit - len(suffix)] + suffix, n + 1
                    used.add(name)
                    names[(table.name, col.name)] = name
        return names

    def _keyed(self, table: Table) -> set[str]:
        cols = set(table.primary_key) | table.fk_columns
        for u in table.unique:
            cols |= set(u.columns)
        for cols_ in self.implicit_unique.get(table.name, []):
            cols |= set(cols_)
        return cols

    def _plan_types(self) -> dict[tuple[str, str], TypeEngine]:
        bits = self._integer_bits()
        types: dict[tuple[str, str], TypeEngine] = {}
        for table in self.schema.tables.values():
            keyed = self._keyed(table)
            for col in table.columns:
                key = (table.name, col.name)
                types[key] = self._type(table, col, col.name in keyed, bits.get(key, 32))
        return types

    def _integer_bits(self) -> dict[tuple[str, str], int]:
        """Integer width per column: declared bits, widened to fit the data, equal across FKs.

        MySQL/MariaDB reject a foreign key between INT and BIGINT, so every column linked by a
        foreign key gets the widest width of its group.
        """
        bits: dict[tuple[str, str], int] = {}
        for table in self.schema.tables.values():
            frame = None if self.frames is None else self.frames.get(table.name)
            for col in table.columns:
                if col.kind != "integer":
                    continue
                b = 16 if col.precision and col.precision <= 16 else 64 if col.precision and col.precision > 32 else 32
                if frame is not None and col.name in frame.columns and len(frame):
                    try:
                        s = frame[col.name]
                        lo, hi = s.min(), s.max()
                        if not (pd.isna(lo) or pd.isna(hi)):
                            biggest = max(abs(int(lo)), abs(int(hi)))
                            while b < 64 and biggest > _INT_RANGES[b]:
                                b *= 2
                    except (TypeError, ValueError):
                        pass  # not numeric: the writer reports the column when it converts it
                bound = (self.int_bounds or {}).get((table.name, col.name))
                while bound is not None and b < 64 and bound > _INT_RANGES[b]:
                    b *= 2
                bits[(table.name, col.name)] = b
        # Union-find over FK column pairs.
        parent: dict[tuple[str, str], tuple[str, str]] = {k: k for k in bits}

        def find(k: tuple[str, str]) -> tuple[str, str]:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for table in self.schema.tables.values():
            for fk in table.foreign_keys:
                for c, r in zip(fk.columns, fk.ref_columns):
                    a, b_ = (table.name, c), (fk.ref_table, r)
                    if a in parent and b_ in parent:
                        parent[find(a)] = find(b_)
        widest: dict[tuple[str, str], int] = {}
        for k, b in bits.items():
            root = find(k)
            widest[root] = max(widest.get(root, 0), b)
        return {k: widest[find(k)] for k in bits}

    def _decimal(self, table: Table, col: Column) -> tuple[int, int]:
        p, s = col.precision, col.scale
        if p is None:
            p, s = _DEFAULT_DECIMAL if s is None else (max(_DEFAULT_DECIMAL[0], s + 1), s)
        s = 0 if s is None else s
        frame = None if self.frames is None else self.frames.get(table.name)
        if frame is not None and col.name in frame.columns and len(frame):
            try:
                biggest = pd.to_numeric(frame[col.name], errors="coerce").abs().max()
                if pd.notna(biggest) and biggest != float("inf") and biggest >= 1:
                    p = max(p, len(str(int(biggest))) + s)
            except (TypeError, ValueError):
                pass
        if self.family == "mysql":
            s = min(s, 30)
            p = min(max(p, s), 65)
        return p, s

    def _native_type(self, table: Table, col: Column, keyed: bool) -> TypeEngine | None:
        """The source's own type for a same-family target, or None to use the kind's type."""
        if col.enum_values:
            return sa.Enum(*col.enum_values, name=self.enum_names[(table.name, col.name)],
                           create_constraint=False, validate_strings=False)
        if col.domain is not None:
            from sqlalchemy.dialects import postgresql  # only PostgreSQL has domains

            checks = [str(expr) for _, expr in col.domain.get("checks") or []]
            return postgresql.DOMAIN(
                str(col.native_type),
                NativeType(str(col.domain["base"])),
                not_null=bool(col.domain.get("not_null")) or None,
                # SQLAlchemy declares one CHECK per domain: several are joined with AND.
                check=(checks[0] if len(checks) == 1 else " AND ".join(f"({c})" for c in checks)) if checks else None,
                constraint_name=col.domain["checks"][0][0] if len(checks) == 1 else None,
            )
        if col.kind == "integer" and keyed:
            # MySQL UNSIGNED/YEAR keys: FK columns must have equal types, and new keys may outgrow
            # the source's range; the kind's widened integer type serves both.
            return None
        return NativeType(str(col.native_type))

    def _type(self, table: Table, col: Column, keyed: bool, bits: int) -> TypeEngine:
        fam, kind = self.family, col.kind
        # A family's own types are loaded for that family only: a SQLite run spares the ~70 ms
        # of importing SQLAlchemy's PostgreSQL and MySQL dialects.
        if fam == "mysql":
            from sqlalchemy.dialects import mysql
        elif fam == "postgresql":
            from sqlalchemy.dialects import postgresql
        if self.native(col):
            native = self._native_type(table, col, keyed)
            if native is not None:
                return native
        if col.element_kind and kind == "string":
            kind = "json"  # an array where the target has none: JSON array text (see sinks.sql)
        if kind == "integer":
            if fam == "sqlite":
                return sa.Integer()  # 64-bit anyway; INTEGER keeps a one-column PK the rowid
            return {16: sa.SmallInteger(), 32: sa.Integer(), 64: sa.BigInteger()}[bits]
        if kind == "float":
            return sa.Double()
        if kind == "decimal":
            if col.precision is None and col.scale is None and fam != "mysql":
                return sa.Numeric(asdecimal=True)  # unconstrained NUMERIC keeps every digit
            p, s = self._decimal(table, col)
            return sa.Numeric(p, s, asdecimal=True)
        if kind == "boolean":
            return sa.Boolean(create_constraint=False)
        if kind == "string":
            if col.enum_values and fam in ("postgresql", "mysql"):
                return sa.Enum(*col.enum_values, name=self.enum_names[(table.name, col.name)],
                               create_constraint=False, validate_strings=False)
            length = col.length
            if col.enum_values and not length:
                length = max(len(v) for v in col.enum_values)
            if fam == "mysql":
                if keyed:
                    return sa.String(min(length or 255, _MYSQL_MAX_KEY_CHARS))
                if length is None or length > _MYSQL_MAX_VARCHAR:
                    return mysql.LONGTEXT() if length is None or length > 16_383 else sa.Text()
            return sa.String(length) if length else sa.Text()
        if kind == "date":
            return sa.Date()
        if kind == "datetime":
            if fam == "mysql":
                return mysql.DATETIME(fsp=6)  # DATETIME defaults to whole seconds
            return sa.DateTime(timezone=col.timezone)
        if kind == "time":
            return mysql.TIME(fsp=6) if fam == "mysql" else sa.Time()
        if kind == "uuid":
            if fam == "postgresql":
                return sa.Uuid(as_uuid=False)
            return sa.CHAR(36)  # sa.Uuid elsewhere is CHAR(32) without dashes; keep the text form
        if kind == "binary":
            if fam == "mysql":
                return sa.VARBINARY(min(col.length or 255, 3072)) if keyed else mysql.LONGBLOB()
            return sa.LargeBinary()
        if kind == "json":
            if fam == "postgresql":
                return postgresql.JSONB() if (col.sql_type or "").lower().startswith("jsonb") else sa.JSON()
            if fam == "mysql":
                return sa.JSON()
            return sa.Text()
        raise AssertionError(f"unhandled kind {kind!r}")  # Column.__post_init__ validates kinds
