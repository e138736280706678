"""Schema values: plain, dialect-neutral dataclasses that every stage passes along.

A :class:`Schema` describes tables, columns (with a portable logical type), primary keys,
foreign keys (composite ones included), UNIQUE and CHECK constraints. It carries no data and
no connection, converts to and from a JSON-able dict (the model file stores it), and is what
the writer turns back into DDL for any target dialect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from relsynth.errors import SchemaError, SelectionError, did_you_mean

__all__ = [
    "Kind",
    "KINDS",
    "Column",
    "ForeignKey",
    "UniqueConstraint",
    "CheckConstraint",
    "Table",
    "Schema",
]

#: Portable logical column types. The reader maps every dialect's types onto these; the writer
#: maps them back onto the target dialect's types.
Kind = Literal[
    "integer",
    "float",
    "decimal",
    "boolean",
    "string",
    "date",
    "datetime",
    "time",
    "uuid",
    "binary",
    "json",
]
KINDS: tuple[str, ...] = get_args(Kind)


@dataclass
class Column:
    """One column.

    Attributes:
        name: Column name as the database spells it.
        kind: Portable logical type (see :data:`Kind`).
        nullable: Whether NULL is allowed.
        sql_type: The source's own type text, for information and same-dialect round trips.
        length: Maximum length of a string column, if declared.
        precision: Total digits of a decimal column, or bits of an integer (16/32/64).
        scale: Digits after the point of a decimal column.
        timezone: Whether a datetime column is timezone-aware.
        enum_values: Allowed values of an enumerated column (PostgreSQL/MySQL ENUM).
        autoincrement: Whether the database generates the value (serial/identity).
        native_type: The source's own type, declared as it is when the target is of the same
            dialect family as :attr:`Schema.dialect` (a PostgreSQL array such as ``text[]``,
            ``tsvector``, ``xml``, ``inet``, ``interval``, ``money``, an enum's or a domain's name;
            MySQL ``SET(...)``, ``YEAR``, ``BIT(n)``, unsigned integers). Set only for types
            relsynth generates valid values of; other targets get the kind's type (see the
            "Types" table in the README). None: the kind says it all.
        element_kind: Kind of the elements of an array column (``native_type`` ends in ``[]``).
        domain: For a PostgreSQL domain column (``native_type`` is its name): ``base`` (the
            base type's text), ``not_null`` and ``checks`` (``[[name, expression], ...]``, the
            expressions speaking of ``VALUE``).
    """

    name: str
    kind: Kind
    nullable: bool = True
    sql_type: str | None = None
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    timezone: bool = False
    enum_values: list[str] | None = None
    autoincrement: bool = False
    native_type: str | None = None
    element_kind: str | None = None
    domain: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SchemaError(
                f"column {self.name!r} has unknown kind {self.kind!r}{did_you_mean(self.kind, KINDS)}; "
                f"use one of: {', '.join(KINDS)}"
            )
        if self.element_kind is not None and self.element_kind not in KINDS:
            raise SchemaError(
                f"column {self.name!r} has unknown element kind {self.element_kind!r}"
                f"{did_you_mean(self.element_kind, KINDS)}; use one of: {', '.join(KINDS)}"
            )


@dataclass
class ForeignKey:
    """A (possibly composite) foreign key from ``columns`` to ``ref_table.ref_columns``."""

    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    name: str | None = None

    @property
    def label(self) -> str:
        """Human-readable ``(a, b) -> parent(x, y)`` form."""
        return f"({', '.join(self.columns)}) -> {self.ref_table}({', '.join(self.ref_columns)})"


@dataclass
class UniqueConstraint:
    """A UNIQUE constraint (or unique index) over one or more columns."""

    columns: list[str]
    name: str | None = None


@dataclass
class CheckConstraint:
    """A CHECK constraint, as SQL text in the source dialect."""

    sqltext: str
    name: str | None = None


@dataclass
class Table:
    """One table: columns in order, keys and constraints, and the source row count if known."""

    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    unique: list[UniqueConstraint] = field(default_factory=list)
    checks: list[CheckConstraint] = field(default_factory=list)
    row_count: int | None = None

    def column(self, name: str) -> Column:
        """Return the column called ``name``, or raise a SchemaError that lists the valid names."""
        for col in self.columns:
            if col.name == name:
                return col
        names = [c.name for c in self.columns]
        raise SchemaError(
            f"table {self.name!r} has no column {name!r}{did_you_mean(name, names)}; "
            f"columns are: {', '.join(names)}"
        )

    def fk_nullable(self, fk: ForeignKey) -> bool:
        """Whether ``fk`` may be NULL: every one of its columns is nullable."""
        return all(self.column(c).nullable for c in fk.columns)

    def fk_index(self, fk: ForeignKey) -> int:
        """Return the position of ``fk`` in :attr:`foreign_keys` (model files key FKs by it).

        The very object is looked for first, so of two equal declarations each finds its own
        position; an equal copy (e.g. from a schema read back from a model file) is found next.

        Args:
            fk: A foreign key of this table.

        Returns:
            Its index in :attr:`foreign_keys`.

        Raises:
            SchemaError: The table has no such foreign key.
        """
        for i, candidate in enumerate(self.foreign_keys):
            if candidate is fk:
                return i
        for i, candidate in enumerate(self.foreign_keys):
            if candidate == fk:
                return i
        raise SchemaError(
            f"foreign key {fk.label} is not part of table {self.name!r}; the schema and the model or plan disagree"
        )

    @property
    def column_names(self) -> list[str]:
        """The columns' names, in table order."""
        return [c.name for c in self.columns]

    @property
    def fk_columns(self) -> set[str]:
        """Names of every column that takes part in some foreign key."""
        return {c for fk in self.foreign_keys for c in fk.columns}

    @property
    def filled_fk_columns(self) -> set[str]:
        """FK columns whose values are copied from a parent row.

        A self-reference ``(tenant, parent_id) -> (tenant, id)`` keeps the row's own ``tenant``:
        that column is part of the row's key, not filled from the parent, so it is generated
        like any other column unless another FK fills it.
        """
        return {
            c
            for fk in self.foreign_keys
            for c, r in zip(fk.columns, fk.ref_columns)
            if not (fk.ref_table == self.name and c == r)
        }

    @property
    def unique_sets(self) -> list[list[str]]:
        """Column sets that must be unique: the primary key, then each UNIQUE constraint."""
        sets = [list(self.primary_key)] if self.primary_key else []
        sets += [list(u.columns) for u in self.unique if list(u.columns) not in sets]
        return sets


def check_selection(tables: dict[str, Table]) -> None:
    """Raise :class:`SelectionError` when the tables are none, or one's FK points outside them.

    Args:
        tables: The tables an include/exclude selection keeps, by name.
    """
    if not tables:
        raise SelectionError("the include/exclude selection leaves no tables; include at least one table")
    for table in tables.values():
        for fk in table.foreign_keys:
            if fk.ref_table not in tables:
                raise SelectionError(
                    f"table {table.name!r} has foreign key {fk.label} to {fk.ref_table!r}, which the "
                    f"selection leaves out; include {fk.ref_table!r} or exclude {table.name!r}"
                )


@dataclass
class Schema:
    """A set of tables with their keys; the first value every stage receives."""

    tables: dict[str, Table]
    dialect: str | None = None

    def __post_init__(self) -> None:
        for table in self.tables.values():
            for fk in table.foreign_keys:
                if fk.ref_table not in self.tables:
                    raise SchemaError(
                        f"foreign key {table.name}.{fk.label} points at table {fk.ref_table!r}, "
                        "which is not in the selection; include that table or drop the key"
                    )
                if len(fk.columns) != len(fk.ref_columns):
                    raise SchemaError(
                        f"foreign key {table.name}.{fk.label} has {len(fk.columns)} columns but "
                        f"references {len(fk.ref_columns)}; declare the same number on both sides"
                    )
                parent = self.tables[fk.ref_table]
                for col in fk.columns:
                    table.column(col)
                for col in fk.ref_columns:
                    parent.column(col)

    def table(self, name: str) -> Table:
        """Return the table called ``name``, or raise a SchemaError naming the valid tables."""
        try:
            return self.tables[name]
        except KeyError:
            raise SchemaError(
                f"no table {name!r} in the schema{did_you_mean(name, self.tables)}; "
                f"tables are: {', '.join(self.tables)}"
            ) from None

    def select(self, include: list[str] | None = None, exclude: list[str] | None = None) -> Schema:
        """Return a schema restricted to ``include`` minus ``exclude`` (FKs must stay inside)."""
        names = list(self.tables)
        for name in (include or []) + (exclude or []):
            if name not in self.tables:
                raise SelectionError(
                    f"no table {name!r} in the schema{did_you_mean(name, names)}; tables are: {', '.join(names)}"
                )
        keep = [n for n in names if (include is None or n in include) and n not in (exclude or [])]
        check_selection({n: self.tables[n] for n in keep})
        return Schema({n: self.tables[n] for n in keep}, dialect=self.dialect)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description; :meth:`from_dict` reads it back."""
        return {"dialect": self.dialect, "tables": [asdict(t) for t in self.tables.values()]}

    def to_sdv_metadata(self) -> dict[str, Any]:
        """This schema as SDV multi-table metadata (see :func:`relsynth.schema.sdv.to_sdv_metadata`)."""
        from relsynth.schema.sdv import to_sdv_metadata

        return to_sdv_metadata(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Build a schema from :meth:`to_dict` output (also the library's metadata format)."""
        try:
            tables = {}
            for t in data["tables"]:
                tables[t["name"]] = Table(
                    name=t["name"],
                    columns=[Column(**c) for c in t["columns"]],
                    primary_key=list(t.get("primary_key") or []),
                    foreign_keys=[ForeignKey(**fk) for fk in t.get("foreign_keys") or []],
                    unique=[UniqueConstraint(**u) for u in t.get("unique") or []],
                    checks=[CheckConstraint(**c) for c in t.get("checks") or []],
                    row_count=t.get("row_count"),
                )
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"schema description is malformed ({exc}); see Schema.to_dict() for the format") from None
        return cls(tables, dialect=data.get("dialect"))
