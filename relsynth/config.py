"""Configuration files: one YAML file whose keys equal the library's keyword arguments.

::

    source: postgresql://app:${PGPASSWORD}@db/prod     # ${VAR} and ${VAR:-default} anywhere in a string
    target: ${RELSYNTH_TARGET:-sqlite:///copy.db}
    include: [patients, lab_results]                   # or exclude: [...]
    scale: 0.5
    seed: 7
    if_exists: replace
    fit_rows: 100000
    metadata: schema.json                              # SDV or relsynth metadata instead of the declared schema
    file_format: parquet                               # for a directory target (default csv)
    pii: {patients.notes: text, patients.city: null}   # personal-data detection overridden (null: not personal)
    locale: de_DE                                      # Faker locale of generated personal data
    rare_category_threshold: 5                         # categories fewer rows hold are not reproduced
    tables:
      patients:
        scale: 2                                       # this table's rows × 2; its children follow
        columns:
          notes: {skip: true}                          # NULL (nullable columns only)
          country: {value: NL}                         # one fixed value
          blood_type: {values: [A, B, AB, O]}          # or {values: {A: 0.4, O: 0.6}}: these frequencies
          age: {min: 18, max: 90}                      # clamp
          discharge_date: {rule: "discharge_date >= admission_date + 1"}   # every row satisfies it
          email: {faker: email}                        # made by Faker (a kind of relsynth.PII_KINDS)
    foreign_keys:                                      # keys the database does not declare
      - {table: lab_results, columns: [patient_id], ref_table: patients, ref_columns: [patient_id]}

:func:`load_config` reads and checks a file (unknown keys and wrong value types are
:class:`~relsynth.errors.ConfigError`\\ s with a did-you-mean); :meth:`Config.clone`,
:meth:`Config.fit` and :meth:`Config.sample` run it. The same values go to
``relsynth.clone(..., tables=..., foreign_keys=...)`` and ``Model.sample(..., tables=...)``
as keyword arguments, as plain dicts or as :class:`TableOptions` / ``ForeignKey`` values.
Names in the file are checked against the schema (:func:`config_problems`) before anything is
read or written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from relsynth.errors import ConfigError, RelsynthError, did_you_mean
from relsynth.schema.checks import CheckRule, compile_checks
from relsynth.schema.model import CheckConstraint, Column, ForeignKey, Schema, Table
from relsynth.sinks.files import FILE_FORMATS
from relsynth.sinks.sql import IF_EXISTS
from relsynth.subsample import FIT_ROWS
from relsynth.transform.pii import DEFAULT_LOCALE, PII_KINDS
from relsynth.transform.rare import RARE_CATEGORY_THRESHOLD

if TYPE_CHECKING:
    from relsynth.api import CloneResult
    from relsynth.models.relational import Model

__all__ = [
    "Config",
    "TableOptions",
    "ColumnOptions",
    "Condition",
    "Rebalance",
    "parse_condition",
    "merge_targets",
    "parse_target_options",
    "NO_VALUE",
    "VirtualForeignKey",
    "KEYS",
    "FIT_KEYS",
    "check_if_exists",
    "coerce_value",
    "load_config",
    "interpolate",
    "parse_tables",
    "parse_foreign_keys",
    "parse_pii",
    "pii_overrides",
    "add_foreign_keys",
    "config_problems",
    "require_valid",
    "Validation",
    "validate_config",
    "TRIAL_FIT_ROWS",
    "TRIAL_ROWS",
]

_PLACEHOLDER = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_COLUMN_KEYS = ("skip", "value", "values", "min", "max", "rule", "faker")
_TABLE_KEYS = ("scale", "size", "columns", "condition", "rebalance", "synthesizer")

Synthesizer = Literal["copula", "neural", "auto"]
#: What can learn a table (:mod:`relsynth.models.neural` for the network).
SYNTHESIZERS: tuple[str, ...] = ("copula", "neural", "auto")
#: Default training budget of a neural synthesizer, per table: most epochs and most seconds.
NEURAL_EPOCHS = 40
NEURAL_SECONDS = 60.0

_CONDITION_KEYS = ("values", "min", "max", "above", "below")
_FK_KEYS = ("table", "columns", "ref_table", "ref_columns", "name")
_NUMERIC = ("integer", "float", "decimal")
_DATES = ("date", "datetime")
_Scalar = str | int | float | bool | dt.date | dt.datetime


# ---------------------------------------------------------------------------- values
@dataclass
class VirtualForeignKey:
    """A foreign key the database does not declare, from ``foreign_keys:`` in a configuration.

    Attributes:
        table: The child table.
        columns: Its FK columns.
        ref_table: The parent table.
        ref_columns: The parent's key columns (empty: its primary key).
        name: Constraint name in the target (None: the target names it).
    """

    table: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str] = field(default_factory=list)
    name: str | None = None

    def to_foreign_key(self, ref_columns: list[str]) -> ForeignKey:
        """The schema's ``ForeignKey`` of this key, pointing at ``ref_columns``."""
        return ForeignKey(list(self.columns), self.ref_table, list(ref_columns), self.name)


class _NoValue:
    """The type of :data:`NO_VALUE`."""

    def __repr__(self) -> str:
        return "NO_VALUE"


#: ``ColumnOptions.value`` when no fixed value is set (``None`` is a fixed NULL).
NO_VALUE: Any = _NoValue()


@dataclass
class ColumnOptions:
    """An override of one generated column, applied after sampling and before CHECK/UNIQUE
    enforcement (so the table's constraints still hold).

    At most one of ``skip``, ``value``, ``values``, ``min``/``max`` or ``faker`` is set;
    ``rule`` goes with any of them.

    Attributes:
        skip: Leave the column NULL (nullable columns only).
        value: Every row gets this value (``None``: NULL; :data:`NO_VALUE`: not set).
        values: The column's domain: without ``weights`` the generated values in it are kept
            and the others replaced by uniform draws from it; with ``weights`` (one per value,
            the YAML form is a mapping value → weight) every non-NULL value is redrawn with
            those frequencies.
        weights: Relative frequencies of ``values`` (normalized to sum to 1), or None.
        min: Values below are raised to it (numbers, dates).
        max: Values above are lowered to it (numbers, dates).
        rule: A condition every row satisfies, in SQL over the row's columns (``"discharge_date
            >= admission_date + 1"``): enforced like a CHECK constraint (rows that break it are
            redrawn, the few that keep breaking it dropped, see :mod:`relsynth.schema.checks`),
            but not declared on the target.
        faker: Generate the column with Faker as personal data of this kind (one of
            :data:`relsynth.transform.pii.PII_KINDS`); the same as ``pii={"Table.Column": kind}``
            of :func:`relsynth.fit`, so it acts when the model is fitted.
    """

    skip: bool = False
    value: Any = NO_VALUE
    values: list[Any] | None = None
    weights: list[float] | None = None
    min: Any = None
    max: Any = None
    rule: str | None = None
    faker: str | None = None

    def __post_init__(self) -> None:
        if self.weights is not None:
            if self.values is None or len(self.weights) != len(self.values):
                raise ConfigError(f"weights {self.weights!r} need one value each; give as many values as weights")
            total = float(sum(self.weights))
            if not np.isfinite(total) or total <= 0 or min(self.weights) < 0:
                raise ConfigError(f"weights {self.weights!r} must be numbers ≥ 0 with a positive sum")
            self.weights = [float(w) / total for w in self.weights]

    @property
    def has_value(self) -> bool:
        """Whether a fixed ``value`` (possibly NULL) is set."""
        return self.value is not NO_VALUE

    @property
    def active(self) -> bool:
        """Whether the override changes the sampled values (``rule`` and ``faker`` act elsewhere)."""
        return self.skip or self.has_value or self.values is not None or self.min is not None or self.max is not None


@dataclass
class Condition:
    """What the values of one column must be in a targeted sample (``condition:`` of a table).

    Either ``values`` (set membership; ``None`` in it stands for NULL) or a range from ``min``
    to ``max`` (either may be open), inclusive unless ``strict_min``/``strict_max``.

    Attributes:
        column: The column.
        values: The allowed values, or None for a range.
        min: Lowest allowed value (None: no lower bound).
        max: Highest allowed value (None: no upper bound).
        strict_min: ``min`` itself is excluded (``age > 70``).
        strict_max: ``max`` itself is excluded.
    """

    column: str
    values: list[Any] | None = None
    min: Any = None
    max: Any = None
    strict_min: bool = False
    strict_max: bool = False

    def holds(self, series: pd.Series) -> np.ndarray:
        """Whether each value of ``series`` (in the frame convention) satisfies the condition."""
        if self.values is not None:
            present = [v for v in self.values if v is not None]
            ok = np.array(series.isin(present), dtype=bool) if present else np.zeros(len(series), dtype=bool)
            if any(v is None for v in self.values):
                ok |= series.isna().to_numpy()
            return ok
        ok = np.array(series.notna(), dtype=bool)
        values = series.where(series.notna())
        if self.min is not None:
            ok &= (values > self.min if self.strict_min else values >= self.min).fillna(False).to_numpy(dtype=bool)
        if self.max is not None:
            ok &= (values < self.max if self.strict_max else values <= self.max).fillna(False).to_numpy(dtype=bool)
        return ok

    def __str__(self) -> str:
        if self.values is not None:
            shown = ", ".join("NULL" if v is None else repr(v) for v in self.values)
            return f"{self.column} = {shown}" if len(self.values) == 1 else f"{self.column} in ({shown})"
        parts = []
        if self.min is not None:
            parts.append(f"{self.column} {'>' if self.strict_min else '>='} {self.min!r}")
        if self.max is not None:
            parts.append(f"{self.column} {'<' if self.strict_max else '<='} {self.max!r}")
        return " and ".join(parts) or f"{self.column} is not NULL"


@dataclass
class Rebalance:
    """Target shares of a categorical column's categories (``rebalance:`` of a table).

    Attributes:
        column: The column.
        shares: Share of rows per category (summing to at most 1); the categories not listed
            share the rest in proportion to their learned frequencies. None: every category
            the model learned gets the same share.
    """

    column: str
    shares: dict[Any, float] | None = None


@dataclass
class TableOptions:
    """Per-table options: ``scale`` (this table's rows = source rows × scale, instead of the
    global scale or its parent's; its children follow) or ``size`` (this many rows), column
    overrides by name, and targeted generation: ``condition`` (what every row's values must
    be) and ``rebalance`` (target category shares of one column); children of such rows follow
    them as real children follow such parents. ``synthesizer`` (a fit option) is what learns
    the table, instead of the configuration's ``synthesizer``."""

    scale: float | None = None
    columns: dict[str, ColumnOptions] = field(default_factory=dict)
    size: int | None = None
    condition: dict[str, Condition] = field(default_factory=dict)
    rebalance: Rebalance | None = None
    synthesizer: Synthesizer | None = None

    @property
    def targeted(self) -> bool:
        """Whether rows of this table are drawn under a condition or rebalanced."""
        return bool(self.condition) or self.rebalance is not None

    def rules(self, table: Table) -> list[CheckRule]:
        """The columns' ``rule`` conditions compiled as CHECK rules of ``table`` (generic SQL)."""
        checks = [CheckConstraint(o.rule, f"rule on {name}") for name, o in self.columns.items() if o.rule]
        if not checks:
            return []
        return compile_checks(Table(table.name, table.columns, checks=checks), None)


@dataclass
class Config:
    """A configuration: the keyword arguments of :func:`relsynth.clone` as one value.

    Attributes:
        source: URL of the real database.
        target: URL of the database the synthetic copy is written to.
        include: Only these tables.
        exclude: All tables but these.
        scale: Multiplies the number of rows (children follow their parents).
        seed: Same seed, same synthetic data (None: a fresh one each run).
        if_exists: ``fail``, ``truncate``, ``append`` or ``replace``.
        fit_rows: Tables with more rows are learned from an FK-consistent sample of this many.
        partition_rows: Output rows drawn and loaded at a time (None: the default,
            :data:`relsynth.sampling.relational.PARTITION_ROWS`).
        workers: Draw the partitions on a local Dask cluster of this many worker processes.
        scheduler: Draw the partitions on an existing Dask cluster (its scheduler's address,
            ``tcp://host:8786``).
        metadata: A metadata file (relsynth's schema JSON or SDV metadata) describing the
            source instead of its declared schema.
        file_format: ``csv`` or ``parquet`` for a directory target (None: csv).
        pii: Overrides of the personal-data detection, ``{"Table.Column": kind or None}``.
        locale: Faker locale of the generated personal data.
        rare_category_threshold: Categories fewer source rows hold are not reproduced (0: all are).
        synthesizer: What learns every table: ``copula`` (default), ``neural`` (needs
            ``relsynth[neural]``) or ``auto`` (neural where it beats the copula); a table's own
            ``synthesizer`` in ``tables`` wins.
        neural_epochs: Most training epochs of a neural synthesizer.
        neural_seconds: Most training seconds of a neural synthesizer, per table.
        tables: Per-table options (:class:`TableOptions`).
        foreign_keys: Foreign keys the database does not declare, learned and written like
            declared ones.
        given: The keys the file set (command-line options that were not given take these).
        path: The file it was read from, if any.
    """

    source: str | None = None
    target: str | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    scale: float = 1.0
    seed: int | None = None
    if_exists: str = "fail"
    fit_rows: int = FIT_ROWS
    partition_rows: int | None = None
    workers: int | None = None
    scheduler: str | None = None
    tables: dict[str, TableOptions] = field(default_factory=dict)
    foreign_keys: list[VirtualForeignKey] = field(default_factory=list)
    metadata: str | None = None
    file_format: str | None = None
    pii: dict[str, str | None] | None = None
    locale: str = DEFAULT_LOCALE
    rare_category_threshold: int = RARE_CATEGORY_THRESHOLD
    synthesizer: Synthesizer = "copula"
    neural_epochs: int = NEURAL_EPOCHS
    neural_seconds: float = NEURAL_SECONDS
    given: frozenset[str] = frozenset()
    path: Path | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, where: str = "config") -> Config:
        """Check and convert a parsed configuration (``${VAR}`` already replaced).

        Args:
            data: The mapping, as :func:`yaml.safe_load` returns it (None: an empty file).
            where: Prefix of error messages (the file name).

        Raises:
            ConfigError: An unknown key (with did-you-mean) or a value of the wrong type.
        """
        data = _mapping(data if data is not None else {}, where)
        _known(data, KEYS, where)
        values: dict[str, Any] = {}
        for key in ("source", "target"):
            if data.get(key) is not None:
                values[key] = _string(data[key], f"{where}: {key}", "a database URL")
        for key in ("include", "exclude"):
            if data.get(key) is not None:
                values[key] = _names(data[key], f"{where}: {key}", "table names")
        if data.get("scale") is not None:
            values["scale"] = _positive(data["scale"], f"{where}: scale")
        if data.get("seed") is not None:
            values["seed"] = _count(data["seed"], f"{where}: seed", "a whole number ≥ 0")
        if data.get("if_exists") is not None:
            values["if_exists"] = check_if_exists(data["if_exists"], f"{where}: if_exists")
        if data.get("fit_rows") is not None:
            values["fit_rows"] = _count(data["fit_rows"], f"{where}: fit_rows", "0 (no limit) or a number of rows")
        if data.get("partition_rows") is not None:
            values["partition_rows"] = _count(data["partition_rows"], f"{where}: partition_rows", "a number of rows")
            if values["partition_rows"] < 1:
                raise ConfigError(f"{where}: partition_rows must be a positive number of rows, got {values['partition_rows']}")
        if data.get("workers") is not None:
            values["workers"] = _count(data["workers"], f"{where}: workers", "a number of Dask workers")
            if values["workers"] < 1:
                raise ConfigError(f"{where}: workers must be a positive number of Dask workers, got {values['workers']}")
        if data.get("scheduler") is not None:
            values["scheduler"] = _string(data["scheduler"], f"{where}: scheduler", "a Dask scheduler address (tcp://host:8786)")
        if data.get("workers") is not None and data.get("scheduler") is not None:
            raise ConfigError(f"{where}: give either workers (a local Dask cluster) or scheduler (an existing one), not both")
        if data.get("metadata") is not None:
            values["metadata"] = _string(data["metadata"], f"{where}: metadata", "a metadata file path")
        if data.get("file_format") is not None:
            values["file_format"] = data["file_format"]
            if data["file_format"] not in FILE_FORMATS:
                hint = did_you_mean(data["file_format"], FILE_FORMATS) if isinstance(data["file_format"], str) else ""
                raise ConfigError(f"{where}: file_format must be csv or parquet, got {data['file_format']!r}{hint}")
        if data.get("pii") is not None:
            values["pii"] = parse_pii(data["pii"], f"{where}: pii")
        if data.get("locale") is not None:
            values["locale"] = _string(data["locale"], f"{where}: locale", "a Faker locale such as en_US")
        if data.get("rare_category_threshold") is not None:
            values["rare_category_threshold"] = _count(data["rare_category_threshold"], f"{where}: rare_category_threshold",
                                                       "0 (keep every category) or a number of rows")
        if data.get("synthesizer") is not None:
            values["synthesizer"] = check_synthesizer(data["synthesizer"], f"{where}: synthesizer")
        if data.get("neural_epochs") is not None:
            values["neural_epochs"] = _count(data["neural_epochs"], f"{where}: neural_epochs", "a whole number ≥ 1")
            if values["neural_epochs"] < 1:
                raise ConfigError(f"{where}: neural_epochs must be a whole number ≥ 1, got 0")
        if data.get("neural_seconds") is not None:
            values["neural_seconds"] = _positive(data["neural_seconds"], f"{where}: neural_seconds")
        values["tables"] = parse_tables(data.get("tables"), f"{where}: tables")
        values["foreign_keys"] = parse_foreign_keys(data.get("foreign_keys"), f"{where}: foreign_keys")
        return cls(**values, given=frozenset(k for k, v in data.items() if v is not None))

    # ------------------------------------------------------------------ running
    def clone(self, **overrides: Any) -> CloneResult:
        """Run :func:`relsynth.clone` with this configuration (``overrides`` win over its keys)."""
        from relsynth.api import clone

        kwargs = self.clone_kwargs() | overrides
        return clone(self._url(kwargs, "source"), self._url(kwargs, "target"), **kwargs)

    def fit(self, **overrides: Any) -> Model:
        """Run :func:`relsynth.fit` on ``source`` with this configuration's tables and keys."""
        from relsynth.api import fit

        kwargs = {k: v for k, v in self.clone_kwargs().items() if k in FIT_KEYS} | {"tables": self.tables} | overrides
        kwargs["pii"] = pii_overrides(kwargs.get("pii"), self.tables)
        return fit(self._url(kwargs, "source"), **kwargs)

    def sample(self, model: Model, **overrides: Any) -> dict[str, pd.DataFrame]:
        """Run ``model.sample`` with this configuration's ``scale``, ``seed`` and ``tables``."""
        kwargs = {"scale": self.scale, "seed": self.seed, "tables": self.tables} | overrides
        return model.sample(**kwargs)

    def clone_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`relsynth.clone` (``source`` and ``target`` included)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in KEYS}

    @property
    def _name(self) -> str:
        return str(self.path) if self.path else "config"

    def _url(self, kwargs: dict[str, Any], key: str) -> str:
        """Pop ``key`` (source or target) from ``kwargs``; a ConfigError where it is not set."""
        url = kwargs.pop(key)
        if not url:
            raise ConfigError(f"{self._name}: no {key} database URL; add `{key}:` to the file or pass {key}=")
        return url


#: The top-level keys of a configuration file (the keyword arguments of :func:`relsynth.clone`).
KEYS = ("source", "target", "include", "exclude", "scale", "seed", "if_exists", "fit_rows", "partition_rows",
        "workers", "scheduler", "tables", "foreign_keys", "metadata", "file_format", "pii", "locale",
        "rare_category_threshold", "synthesizer", "neural_epochs", "neural_seconds")
#: The keys :func:`relsynth.fit` takes (:meth:`Config.fit` passes these).
FIT_KEYS = ("source", "include", "exclude", "fit_rows", "foreign_keys", "metadata", "pii", "locale",
            "rare_category_threshold", "synthesizer", "neural_epochs", "neural_seconds")


def check_synthesizer(value: Any, where: str) -> str:
    """``value`` if it names a synthesizer, else a ConfigError listing them."""
    if not isinstance(value, str) or value not in SYNTHESIZERS:
        hint = did_you_mean(value, SYNTHESIZERS) if isinstance(value, str) else ""
        raise ConfigError(f"{where} must be one of {', '.join(SYNTHESIZERS)}, got {value!r}{hint}")
    return value


def table_synthesizers(synthesizer: Any, tables: Mapping[str, Any] | None, names: list[str]) -> dict[str, str]:
    """Per table of ``names``, what learns it: its own ``synthesizer`` in ``tables``, else ``synthesizer``.

    Raises:
        ConfigError: An unknown synthesizer, or one given for a table not in ``names``.
    """
    default = check_synthesizer(synthesizer, "synthesizer")
    out = dict.fromkeys(names, default)
    for name, options in parse_tables(tables).items():
        if options.synthesizer is None:
            continue
        if name not in out:
            raise ConfigError(f"tables.{name}.synthesizer: there is no table {name!r} to learn"
                              f"{did_you_mean(name, names)}; tables: {', '.join(names)}")
        out[name] = options.synthesizer
    return out


# ---------------------------------------------------------------------------- loading
def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read a YAML configuration file.

    Every ``${VAR}`` in a string value is replaced by the environment variable ``VAR``,
    ``${VAR:-default}`` by ``default`` where ``VAR`` is unset or empty, and ``$$`` by ``$``. A
    value that is a single placeholder is read as YAML after the replacement, so
    ``scale: ${SCALE:-2}`` is a number.

    Args:
        path: The file (``relsynth.yaml`` by convention).
        env: Variables to use instead of ``os.environ``.

    Returns:
        The checked :class:`Config`.

    Raises:
        ConfigError: The file is missing or not YAML, a variable is unset, a key is unknown or
            a value has the wrong type.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; write one with `relsynth init SRC -o {path}`") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    import yaml  # here: a clone without a configuration file need not import it (10 ms)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{at}: {problem}") from None
    data = _interpolate_tree(data, os.environ if env is None else env, str(path), "")
    config = Config.from_dict(data, str(path))
    config.path = path
    return config


def interpolate(text: str, env: Mapping[str, str] | None = None, where: str = "value") -> str:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``$$`` in ``text`` (see :func:`load_config`).

    Raises:
        ConfigError: ``VAR`` is unset and has no default.
    """
    env = os.environ if env is None else env

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is not None:  # set but empty, and no default: empty, as in the shell
            return ""
        raise ConfigError(f"{where}: environment variable {name} is not set; set it or write ${{{name}:-default}}")

    return _PLACEHOLDER.sub(replace, text)


def _interpolate_tree(obj: Any, env: Mapping[str, str], where: str, path: str) -> Any:
    if isinstance(obj, str):
        out = interpolate(obj, env, f"{where}: {path or 'value'}")
        whole = _PLACEHOLDER.fullmatch(obj)
        if whole and whole.group(0) != "$$" and out != obj:
            import yaml

            try:
                parsed = yaml.safe_load(out)
            except yaml.YAMLError:
                return out
            return parsed if isinstance(parsed, (int, float, bool)) else out
        return out
    if isinstance(obj, dict):
        return {k: _interpolate_tree(v, env, where, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_interpolate_tree(v, env, where, f"{path}[{i}]") for i, v in enumerate(obj)]
    return obj


# ---------------------------------------------------------------------------- parsing
def check_if_exists(value: Any, where: str = "if_exists") -> str:
    """Return ``value`` if it is one of the writer's ``IF_EXISTS`` choices, else raise a ConfigError."""
    if value not in IF_EXISTS:
        hint = did_you_mean(value, IF_EXISTS) if isinstance(value, str) else ""
        raise ConfigError(f"{where} must be fail, truncate, append or replace, got {value!r}{hint}")
    return value


def parse_tables(data: Any, where: str = "tables") -> dict[str, TableOptions]:
    """Per-table options from a mapping ``{table: {scale: .., columns: {col: {...}}}}``.

    :class:`TableOptions` values are taken as they are; ``None`` gives no options.

    Raises:
        ConfigError: An unknown key or a value of the wrong type.
    """
    if data is None:
        return {}
    out: dict[str, TableOptions] = {}
    for name, spec in _mapping(data, where).items():
        here = f"{where}.{name}"
        if isinstance(spec, TableOptions):
            out[str(name)] = spec
            continue
        spec = _mapping(spec if spec is not None else {}, here)
        _known(spec, _TABLE_KEYS, here)
        options = TableOptions()
        if spec.get("scale") is not None:
            options.scale = _positive(spec["scale"], f"{here}.scale")
        if spec.get("size") is not None:
            options.size = _size(spec["size"], f"{here}.size")
        if options.scale is not None and options.size is not None:
            raise ConfigError(f"{here}: scale and size cannot be combined; give this table's size or its scale")
        for column, cspec in _mapping(spec.get("condition") or {}, f"{here}.condition").items():
            options.condition[str(column)] = parse_condition(str(column), cspec, f"{here}.condition.{column}")
        if spec.get("rebalance") is not None:
            options.rebalance = _rebalance(spec["rebalance"], f"{here}.rebalance")
        if spec.get("synthesizer") is not None:
            options.synthesizer = check_synthesizer(spec["synthesizer"], f"{here}.synthesizer")
        for column, cspec in _mapping(spec.get("columns") or {}, f"{here}.columns").items():
            options.columns[str(column)] = _column_options(cspec, f"{here}.columns.{column}")
        out[str(name)] = options
    return out


def parse_condition(column: str, spec: Any, where: str = "condition") -> Condition:
    """One column's condition from its configuration form.

    ``true`` / ``'copd'`` / ``5``: that value; a list: one of those values; a tuple ``(lo, hi)``
    (library only): the inclusive range, ``None`` for an open end; a mapping with ``values``,
    ``min``/``max`` (inclusive) or ``above``/``below`` (strict). :class:`Condition` values are
    taken as they are.

    Raises:
        ConfigError: An unknown key, an empty list or a value that is no single value.
    """
    if isinstance(spec, Condition):
        return spec
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ConfigError(f"{where}: a range is (min, max) with None for an open end, got {spec!r}")
        spec = {"min": spec[0], "max": spec[1]}
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, Mapping):
        return Condition(column, values=[_scalar(spec, where, allow_null=True)])
    spec = _mapping(spec, where)
    _known(spec, _CONDITION_KEYS, where)
    if "values" in spec:
        if set(spec) != {"values"}:
            raise ConfigError(f"{where}: values cannot be combined with a range; give one or the other")
        values = spec["values"] if isinstance(spec["values"], list) else [spec["values"]]
        if not values:
            raise ConfigError(f"{where}.values is empty; list at least one value")
        return Condition(column, values=[_scalar(v, f"{where}.values", allow_null=True) for v in values])
    for low, high in (("min", "above"), ("max", "below")):
        if spec.get(low) is not None and spec.get(high) is not None:
            raise ConfigError(f"{where}: {low} and {high} cannot be combined; give one of them")
    lo = spec.get("min") if spec.get("min") is not None else spec.get("above")
    hi = spec.get("max") if spec.get("max") is not None else spec.get("below")
    if lo is None and hi is None:
        raise ConfigError(f"{where}: give values, or min/above and/or max/below")
    cond = Condition(column, min=None if lo is None else _scalar(lo, f"{where}.min"),
                     max=None if hi is None else _scalar(hi, f"{where}.max"),
                     strict_min=spec.get("above") is not None, strict_max=spec.get("below") is not None)
    if cond.min is not None and cond.max is not None:
        try:
            empty = cond.max < cond.min
        except TypeError:
            raise ConfigError(f"{where}: {cond.min!r} and {cond.max!r} are not comparable; give two numbers or two dates") from None
        if empty:
            raise ConfigError(f"{where}: the range {cond.min!r} .. {cond.max!r} is empty; swap them")
    return cond


def _rebalance(spec: Any, where: str) -> Rebalance:
    """``column`` (equal shares), or ``{column: {category: share, ...}}`` / ``{column: null}``."""
    if isinstance(spec, Rebalance):
        return spec
    if isinstance(spec, str):
        return Rebalance(spec)
    spec = _mapping(spec, where)
    if len(spec) != 1:
        raise ConfigError(f"{where}: rebalance one column per table, e.g. {{diagnosis: {{copd: 0.5}}}}; got {len(spec)}")
    column, shares = next(iter(spec.items()))
    if shares is None:
        return Rebalance(column)
    shares = _mapping(shares, f"{where}.{column}")
    out: dict[Any, float] = {}
    for category, share in shares.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise ConfigError(f"{where}.{column}.{category}: a share is a number from 0 to 1, got {share!r}")
        out[category] = float(share)
    if sum(out.values()) > 1 + 1e-9:
        raise ConfigError(f"{where}.{column}: the shares sum to {sum(out.values()):g}, above 1; lower them")
    return Rebalance(column, out)


def merge_targets(tables: Mapping[str, Any] | None, conditions: Mapping[str, Any] | None = None,
                  size: Mapping[str, int] | None = None, rebalance: Mapping[str, Any] | None = None,
                  ) -> dict[str, TableOptions]:
    """Per-table options with the keyword forms of targeted generation folded in.

    ``conditions={"patients": {"smoker": True, "age": (70, None)}}``, ``size={"patients": 1000}``
    and ``rebalance={"patients": "diagnosis"}`` (or ``{"patients": {"diagnosis": {"copd": 0.5}}}``)
    become the ``condition``, ``size`` and ``rebalance`` of those tables' options, next to what
    ``tables`` already sets (a keyword wins over the same key in ``tables``).
    """
    out = {name: TableOptions(o.scale, dict(o.columns), o.size, dict(o.condition), o.rebalance, o.synthesizer)
           for name, o in parse_tables(tables).items()}
    for name, spec in _mapping(conditions or {}, "conditions").items():
        options = out.setdefault(name, TableOptions())
        for column, cspec in _mapping(spec, f"conditions.{name}").items():
            options.condition[column] = parse_condition(column, cspec, f"conditions.{name}.{column}")
    for name, n in _mapping(size or {}, "size").items():
        options = out.setdefault(name, TableOptions())
        options.size, options.scale = _size(n, f"size.{name}"), None
    for name, spec in _mapping(rebalance or {}, "rebalance").items():
        out.setdefault(name, TableOptions()).rebalance = _rebalance(spec, f"rebalance.{name}")
    return out


_CONDITION_TEXT = re.compile(r"^\s*([^.\s]+)\.([^<>=!\s]+)\s*(>=|<=|==|=|>|<)\s*(.*?)\s*$")


def parse_target_options(conditions: list[str] | None = None, sizes: list[str] | None = None,
                         rebalance: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The command line's ``--condition``, ``--size`` and ``--rebalance`` as the keyword
    arguments of :func:`merge_targets` (``conditions``, ``size``, ``rebalance``).

    ``--condition "patients.age>=70"`` (``>=``, ``<=``, ``>``, ``<``, ``=``; ``=a,b`` is one of
    several values; values are read as YAML scalars: ``true``, ``70``, ``2024-01-31``, text),
    ``--size patients=1000``, ``--rebalance patients.diagnosis`` (equal shares) or
    ``--rebalance patients.diagnosis=cancer:0.5,copd:0.2``.

    Raises:
        ConfigError: A text that does not follow these forms.
    """
    out: dict[str, dict[str, Any]] = {"conditions": {}, "size": {}, "rebalance": {}}
    for text in conditions or []:
        m = _CONDITION_TEXT.match(text)
        if not m or not m.group(4):
            raise ConfigError(f"--condition {text!r} is not TABLE.COLUMN OP VALUE; write e.g. "
                              "\"patients.age>=70\" or \"patients.diagnosis=copd,cancer\"")
        table, column, op, raw = m.groups()
        values = [_yaml_scalar(v) for v in raw.split(",")] if op in ("=", "==") else [_yaml_scalar(raw)]
        spec: Any = {"values": values} if op in ("=", "==") else {
            ">=": "min", "<=": "max", ">": "above", "<": "below"}[op]
        if not isinstance(spec, dict):
            spec = {spec: values[0]}
        out["conditions"].setdefault(table, {})[column] = parse_condition(column, spec, f"--condition {text!r}")
    for text in sizes or []:
        table, eq, n = text.partition("=")
        if not eq or not n.strip().isdigit():
            raise ConfigError(f"--size {text!r} is not TABLE=ROWS; write e.g. patients=1000")
        out["size"][table.strip()] = int(n)
    for text in rebalance or []:
        target, eq, shares = text.partition("=")
        table, dot, column = target.strip().partition(".")
        if not dot or not column:
            raise ConfigError(f"--rebalance {text!r} is not TABLE.COLUMN[=CATEGORY:SHARE,...]; "
                              "write e.g. patients.diagnosis=cancer:0.5")
        parsed: dict[Any, Any] | None = None
        if eq:
            parsed = {}
            for item in shares.split(","):
                category, colon, share = item.rpartition(":")
                try:
                    parsed[_yaml_scalar(category)] = float(share)
                except ValueError:
                    raise ConfigError(f"--rebalance {text!r}: {item!r} is not CATEGORY:SHARE; write e.g. cancer:0.5") from None
                if not colon:
                    raise ConfigError(f"--rebalance {text!r}: {item!r} is not CATEGORY:SHARE; write e.g. cancer:0.5")
        out["rebalance"][table] = {column: parsed}
    return out


def _yaml_scalar(text: str) -> Any:
    """A command-line value read as a YAML scalar (``true``, ``70``, ``2024-01-31``), else as text."""
    if not re.fullmatch(r"[\w.:+ -]+", text):
        return text  # YAML would read >, |, & ... as syntax
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, _Scalar) or value is None else text


def _size(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{where} must be a number of rows (a whole number ≥ 0), got {value!r}")
    return int(value)


def _column_options(spec: Any, where: str) -> ColumnOptions:
    if isinstance(spec, ColumnOptions):
        return spec
    spec = _mapping(spec if spec is not None else {}, where)
    _known(spec, _COLUMN_KEYS, where)
    kinds = [k for k in ("skip", "value", "values") if k in spec] + (["min/max"] if {"min", "max"} & set(spec) else [])
    kinds += ["faker"] if "faker" in spec else []
    if len(kinds) > 1:
        raise ConfigError(f"{where}: {' and '.join(kinds)} cannot be combined; "
                          "choose one of skip, value, values, min/max, faker (rule goes with any)")
    options = ColumnOptions()
    if "values" in spec:
        values, weights = _domain(spec["values"], f"{where}.values")
        options = ColumnOptions(values=values, weights=weights)
    if "skip" in spec:
        if not isinstance(spec["skip"], bool):
            raise ConfigError(f"{where}.skip must be true or false, got {spec['skip']!r}")
        options.skip = spec["skip"]
    if "value" in spec:
        options.value = _scalar(spec["value"], f"{where}.value", allow_null=True)
    for key in ("min", "max"):
        if spec.get(key) is not None:
            setattr(options, key, _scalar(spec[key], f"{where}.{key}"))
    if spec.get("rule") is not None:
        options.rule = _string(spec["rule"], f"{where}.rule", 'a condition in SQL, e.g. "b >= a"')
    if spec.get("faker") is not None:
        options.faker = _pii_kind(spec["faker"], f"{where}.faker")
    if options.min is not None and options.max is not None:
        try:
            if options.max < options.min:
                raise ConfigError(f"{where}: min {options.min!r} is above max {options.max!r}; swap them")
        except TypeError:
            raise ConfigError(f"{where}: min {options.min!r} and max {options.max!r} are not comparable; "
                              "give two numbers or two dates") from None
    return options


def _domain(value: Any, where: str) -> tuple[list[Any], list[float] | None]:
    if isinstance(value, Mapping):
        items = list(value.items())
        if not items:
            raise ConfigError(f"{where} is empty; list at least one value")
        for k, w in items:
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
                raise ConfigError(f"{where}.{k}: a weight must be a number ≥ 0, got {w!r}")
        total = float(sum(w for _, w in items))
        if total <= 0:
            raise ConfigError(f"{where}: the weights sum to 0; give at least one positive weight")
        return [_scalar(k, f"{where}.{k}") for k, _ in items], [float(w) for _, w in items]
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where} is empty; list at least one value")
        return [_scalar(v, f"{where}[{i}]") for i, v in enumerate(value)], None
    raise ConfigError(f"{where} must be a list of values or a mapping value: weight, got {value!r}")


def _pii_kind(value: Any, where: str) -> str:
    if value not in PII_KINDS:
        hint = did_you_mean(value, PII_KINDS) if isinstance(value, str) else ""
        raise ConfigError(f"{where}: unknown kind {value!r}{hint}; kinds are: {', '.join(PII_KINDS)}")
    return value


def parse_pii(data: Any, where: str = "pii") -> dict[str, str | None]:
    """Personal-data overrides from a mapping ``{"Table.Column": kind or null}``.

    Raises:
        ConfigError: A key that is not ``Table.Column`` or a kind not in
            :data:`~relsynth.transform.pii.PII_KINDS` (with did-you-mean and the list of kinds).
    """
    out: dict[str, str | None] = {}
    for key, kind in _mapping(data, where).items():
        table, _, column = key.partition(".")
        if not table or not column:
            raise ConfigError(f"{where}: key {key!r} must be Table.Column, e.g. patients.email")
        out[key] = None if kind is None else _pii_kind(kind, f"{where}.{key}")
    return out


def pii_overrides(pii: Mapping[str, str | None] | None, tables: Mapping[str, Any] | None) -> dict[str, str | None] | None:
    """``pii`` with every column's ``faker:`` kind of ``tables`` added (``"Table.Column": kind``),
    as :func:`relsynth.fit` takes them (None when there are none).

    Raises:
        ConfigError: ``pii`` and a ``faker:`` option name different kinds for one column.
    """
    out = dict(pii or {})
    for name, options in parse_tables(tables).items():
        for column, override in options.columns.items():
            if override.faker is None:
                continue
            key = f"{name}.{column}"
            if out.get(key, override.faker) != override.faker:
                raise ConfigError(f"tables.{name}.columns.{column}.faker is {override.faker!r} but pii sets {key} to "
                                  f"{out[key]!r}; keep one of them")
            out[key] = override.faker
    return out or None


def parse_foreign_keys(data: Any, where: str = "foreign_keys") -> list[VirtualForeignKey]:
    """Virtual foreign keys from a list of ``{table, columns, ref_table, ref_columns[, name]}``.

    ``columns`` and ``ref_columns`` may be one name instead of a list; without
    ``ref_columns`` the key points at the parent's primary key (filled in by
    :func:`add_foreign_keys`). :class:`VirtualForeignKey` values are taken as they are.

    Raises:
        ConfigError: An unknown key, a missing one, or a value of the wrong type.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{where} must be a list of {{table, columns, ref_table, ref_columns}} entries, got {data!r}")
    out = []
    for i, spec in enumerate(data):
        here = f"{where}[{i}]"
        if isinstance(spec, VirtualForeignKey):
            out.append(spec)
            continue
        spec = _mapping(spec, here)
        _known(spec, _FK_KEYS, here)
        for key in ("table", "columns", "ref_table"):
            if spec.get(key) is None:
                raise ConfigError(f"{here}: `{key}` is missing; a foreign key needs table, columns and ref_table")
        columns = _names(spec["columns"], f"{here}.columns", "column names", single=True)
        ref_columns = (_names(spec["ref_columns"], f"{here}.ref_columns", "column names", single=True)
                       if spec.get("ref_columns") is not None else [])
        if ref_columns and len(ref_columns) != len(columns):
            raise ConfigError(f"{here}: {len(columns)} columns but {len(ref_columns)} ref_columns; "
                              "give the same number on both sides")
        out.append(VirtualForeignKey(
            table=_string(spec["table"], f"{here}.table", "a table name"), columns=columns,
            ref_table=_string(spec["ref_table"], f"{here}.ref_table", "a table name"), ref_columns=ref_columns,
            name=_string(spec["name"], f"{here}.name", "a name") if spec.get("name") is not None else None))
    return out


# ---------------------------------------------------------------------------- against a schema
def add_foreign_keys(schema: Schema, foreign_keys: list[Any], include: list[str] | None = None,
                     exclude: list[str] | None = None) -> Schema:
    """Return ``schema`` with the virtual ``foreign_keys`` (see :func:`parse_foreign_keys`) added.

    Keys of tables that ``include``/``exclude`` left out of ``schema`` are skipped; the rest
    are checked first.

    Raises:
        ConfigError: A key names a table or column the schema lacks, or does not point at the
            parent's primary key or a UNIQUE column set.
    """
    keys = parse_foreign_keys(list(foreign_keys))
    problems = _fk_problems(schema, keys, include, exclude)
    if problems:
        raise ConfigError(problems[0] + _more(problems))
    if not keys:
        return schema
    tables = dict(schema.tables)
    for fk in keys:
        if fk.table not in tables:
            continue
        table = tables[fk.table]
        ref_columns = fk.ref_columns or list(schema.tables[fk.ref_table].primary_key)
        tables[fk.table] = Table(table.name, table.columns, table.primary_key,
                                 [*table.foreign_keys, fk.to_foreign_key(ref_columns)],
                                 table.unique, table.checks, table.row_count)
    return Schema(tables, dialect=schema.dialect)


def _left_out(name: str, include: list[str] | None, exclude: list[str] | None) -> bool:
    """Whether include/exclude leave table ``name`` out (so the schema read does not have it)."""
    return name in (exclude or []) or (include is not None and name not in include)


def _no_table(schema: Schema, name: str, where: str) -> str:
    return (f"{where}: no table {name!r} in the source{did_you_mean(name, schema.tables)}; "
            f"tables are: {', '.join(schema.tables)}")


def _fk_problems(schema: Schema, keys: list[VirtualForeignKey], include: list[str] | None,
                 exclude: list[str] | None) -> list[str]:
    problems = []
    for i, fk in enumerate(keys):
        here = f"foreign_keys[{i}]"
        if fk.table not in schema.tables:
            if not _left_out(fk.table, include, exclude):
                problems.append(_no_table(schema, fk.table, here))
            continue  # left out of this run: its keys do not apply
        if fk.ref_table not in schema.tables:
            problems.append(f"{here}: ref_table {fk.ref_table!r} is left out by include/exclude; include it too"
                            if _left_out(fk.ref_table, include, exclude) else _no_table(schema, fk.ref_table, here))
            continue
        table, parent = schema.tables[fk.table], schema.tables[fk.ref_table]
        ref_columns = fk.ref_columns or list(parent.primary_key)
        if not ref_columns:
            problems.append(f"{here}: {fk.ref_table} has no primary key; give ref_columns (a UNIQUE column set)")
            continue
        if len(ref_columns) != len(fk.columns):
            problems.append(f"{here}: {len(fk.columns)} columns but {fk.ref_table}'s key has {len(ref_columns)} "
                            f"({', '.join(ref_columns)}); give ref_columns")
            continue
        bad = [_column_problem(t, c, here) for t, cols in ((table, fk.columns), (parent, ref_columns)) for c in cols]
        bad = [b for b in bad if b]
        if bad:
            problems.extend(bad)
            continue
        if sorted(ref_columns) not in [sorted(s) for s in parent.unique_sets]:
            problems.append(f"{here}: {fk.ref_table}({', '.join(ref_columns)}) is neither its primary key nor "
                            "UNIQUE; a foreign key must point at one")
            continue
        for c, r in zip(fk.columns, ref_columns):
            ck, rk = table.column(c).kind, parent.column(r).kind
            if ck != rk and not (ck in _NUMERIC and rk in _NUMERIC):
                problems.append(f"{here}: {fk.table}.{c} is {ck} but {fk.ref_table}.{r} is {rk}; "
                                "a foreign key joins columns of the same kind")
        if any(list(d.columns) == list(fk.columns) and d.ref_table == fk.ref_table for d in table.foreign_keys):
            problems.append(f"{here}: {fk.table}({', '.join(fk.columns)}) -> {fk.ref_table} is already declared "
                            "by the database; remove it from the config")
    return problems


def _column_problem(table: Table, column: str, where: str) -> str | None:
    names = table.column_names
    if column in names:
        return None
    return f"{where}: table {table.name!r} has no column {column!r}{did_you_mean(column, names)}"


def config_problems(schema: Schema, tables: Mapping[str, Any] | None = None,
                    foreign_keys: list[Any] | None = None, include: list[str] | None = None,
                    exclude: list[str] | None = None) -> list[str]:
    """Everything in ``tables`` and ``foreign_keys`` that does not fit ``schema``, one line each.

    Checks that every table and column exists (with did-you-mean), that keys are not
    overridden, that ``skip`` is on nullable columns only, that override values fit the
    column's kind (and length, enumeration, UNIQUE, CHECK constraints on that column alone),
    and the virtual foreign keys (see :func:`add_foreign_keys`). ``schema`` is the one read
    with ``include``/``exclude``, before the virtual keys are added; options of tables those
    leave out are not checked.

    Returns:
        The problems; empty when everything fits.
    """
    keys = parse_foreign_keys(list(foreign_keys or []))
    problems = _fk_problems(schema, keys, include, exclude)
    virtual = add_foreign_keys(schema, keys, include, exclude) if not problems else schema
    for name, options in parse_tables(tables or {}).items():
        here = f"tables.{name}"
        if name not in virtual.tables:
            if not _left_out(name, include, exclude):
                problems.append(_no_table(schema, name, here))
            continue
        table = virtual.tables[name]
        for column, override in options.columns.items():
            problem = _column_problem(table, column, f"{here}.columns.{column}")
            problems.extend([problem] if problem else _override_problems(virtual, table, table.column(column),
                                                                         override, f"{here}.columns.{column}"))
        problems.extend(_target_problems(table, options, here))
    return problems


def _target_problems(table: Table, options: TableOptions, here: str) -> list[str]:
    """Conditions and rebalancing on columns that do not exist, are keys, or get values not of their kind."""
    problems = []
    named = [(c.column, f"{here}.condition.{name}", c) for name, c in options.condition.items()]
    if options.rebalance is not None:
        named.append((options.rebalance.column, f"{here}.rebalance", None))
    for column, where, cond in named:
        problem = _column_problem(table, column, where)
        if problem is None and (column in table.primary_key or column in table.fk_columns):
            problem = f"{where}: {column} is a key column; keys are generated, condition the other columns"
        if problem is None and cond is not None:
            try:
                for v in (cond.values or []) + [cond.min, cond.max]:
                    coerce_value(v, table.column(column))
            except ConfigError as exc:
                problem = f"{where}: {exc}"
        if problem:
            problems.append(problem)
    if options.rebalance is not None and options.rebalance.column in options.condition:
        problems.append(f"{here}: {options.rebalance.column} is both conditioned and rebalanced; "
                        "give its shares in rebalance only")
    return problems


def require_valid(schema: Schema, tables: Mapping[str, Any] | None = None, foreign_keys: list[Any] | None = None,
                  include: list[str] | None = None, exclude: list[str] | None = None) -> None:
    """Raise the first of :func:`config_problems` as a ConfigError (none: return)."""
    problems = config_problems(schema, tables, foreign_keys, include, exclude)
    if problems:
        raise ConfigError(problems[0] + _more(problems))


def _more(problems: list[str]) -> str:
    return f" (and {len(problems) - 1} more problem(s); `relsynth validate` lists them all)" if len(problems) > 1 else ""


def _override_problems(schema: Schema, table: Table, column: Column, o: ColumnOptions, where: str) -> list[str]:
    if not (o.active or o.faker):
        return _rule_problems(table, o, where)
    if column.name in table.primary_key or column.name in table.fk_columns:
        return [f"{where}: {column.name} is a key column (primary or foreign key); keys are generated, "
                "overrides apply to the other columns"]
    if o.faker:
        return _rule_problems(table, o, where) + _faker_problems(schema, table, column, where)
    problems = _rule_problems(table, o, where)
    if o.skip:
        return [] if column.nullable else [f"{where}: skip leaves the column NULL but {table.name}.{column.name} "
                                           "is NOT NULL; use value or values instead"]
    if o.has_value and o.value is None:
        return [] if column.nullable else [f"{where}: value null on NOT NULL column {table.name}.{column.name}"]
    candidates = [o.value] if o.has_value else list(o.values or []) + [v for v in (o.min, o.max) if v is not None]
    if (o.min is not None or o.max is not None) and column.kind not in _NUMERIC + _DATES:
        return problems + [f"{where}: min/max clamp numbers and dates, but {column.name} is {column.kind}"]
    for v in candidates:
        try:
            coerce_value(v, column)
        except ConfigError as exc:
            return problems + [f"{where}: {exc}"]  # the first bad value says what the column takes
    if o.has_value and [column.name] in table.unique_sets:
        problems.append(f"{where}: {column.name} is UNIQUE, so one fixed value would leave a single row; "
                        "use values (a domain) instead")
    values = [o.value] if o.has_value else (o.values or [])
    if values:
        probe = pd.DataFrame({column.name: pd.Series([coerce_value(v, column) for v in values], dtype=object)})
        for rule in compile_checks(table, schema.dialect):
            if rule.enforceable and set(rule.columns) == {column.name}:
                broken = [v for v, ok in zip(values, rule.holds(_typed(probe, column))) if not ok]
                if broken:
                    problems.append(f"{where}: {', '.join(map(repr, broken))} break(s) {rule.label}")
    return problems


#: Stands in for a Faker value when the column's CHECK constraints are probed.
_FAKER_PROBE = "Probe Value 42"


def _faker_problems(schema: Schema, table: Table, column: Column, where: str) -> list[str]:
    """Why Faker text cannot fill ``column``: it is not text, or it takes listed values only
    (an enumeration, or a CHECK on the column alone that free text breaks)."""
    if column.kind != "string":
        return [f"{where}: faker makes text, but {table.name}.{column.name} is {column.kind}; use it on a text column"]
    listed = bool(column.enum_values)
    if not listed:
        probe = pd.DataFrame({column.name: pd.Series([_FAKER_PROBE], dtype=object)})
        listed = any(not rule.holds(probe)[0] for rule in compile_checks(table, schema.dialect)
                     if rule.enforceable and set(rule.columns) == {column.name})
    if listed:
        return [f"{where}: {table.name}.{column.name} takes listed values only (an enumeration or a CHECK), so "
                "Faker text would break it; use values instead"]
    return []


def _rule_problems(table: Table, o: ColumnOptions, where: str) -> list[str]:
    """Why ``o.rule`` cannot be enforced on ``table`` (an unknown column, unsupported SQL), if it cannot."""
    if not o.rule:
        return []
    rule = TableOptions(columns={"_": o}).rules(table)[0]
    if rule.enforceable:
        return []
    return [f"{where}.rule {o.rule!r} cannot be enforced: {rule.problem}; write a condition over "
            f"{table.name}'s columns with comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE, + - * /"]


def _typed(frame: pd.DataFrame, column: Column) -> pd.DataFrame:
    from relsynth.schema.frames import coerce_series

    return pd.DataFrame({column.name: coerce_series(frame[column.name], column)})


def coerce_value(value: Any, column: Column) -> Any:
    """``value`` (from YAML) as a value of ``column``'s kind (dates as ``pandas.Timestamp``).

    Raises:
        ConfigError: The value does not fit the column's kind, length or enumeration.
    """
    kind = column.kind
    if value is None:
        return None
    if kind in _NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{value!r} is not a number but {column.name} is {kind}")
        if kind == "integer" and float(value) != int(value):
            raise ConfigError(f"{value!r} is not a whole number but {column.name} is integer")
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ConfigError(f"{value!r} is not true/false but {column.name} is boolean")
        return value
    if kind in _DATES:
        if isinstance(value, bool) or not isinstance(value, (str, dt.date)):
            raise ConfigError(f"{value!r} is not a date but {column.name} is {kind}; write e.g. 2024-01-31")
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ConfigError(f"{value!r} is not a date but {column.name} is {kind}; write e.g. 2024-01-31") from None
        return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
    if kind in ("string", "uuid", "time"):
        if not isinstance(value, str):
            raise ConfigError(f"{value!r} is not text but {column.name} is {kind}; quote it: '{value}'")
        if column.length and len(value) > column.length:
            raise ConfigError(f"{value!r} is longer than {column.name}'s {column.length} characters")
        if column.enum_values and value not in column.enum_values:
            raise ConfigError(f"{value!r} is not one of {column.name}'s values "
                              f"({', '.join(column.enum_values)}){did_you_mean(value, column.enum_values)}")
        if kind != "string":  # a time or a UUID must parse as one
            from relsynth.schema.frames import coerce_series

            try:
                coerce_series(pd.Series([value], dtype=object), column)
            except (RelsynthError, ValueError, TypeError):
                raise ConfigError(f"{value!r} is not a {kind} but {column.name} is {kind}") from None
        return value
    raise ConfigError(f"{column.name} is {kind}; only skip applies to {kind} columns")


# ---------------------------------------------------------------------------- small checks
def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of key: value, got {value!r}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{where}: key {bad[0]!r} is not text; quote it")
    return value


def _known(spec: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in spec:
        if key not in keys:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, keys)}; keys are: {', '.join(keys)}")


def _string(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be {what} (text), got {value!r}")
    return value


def _names(value: Any, where: str, what: str, single: bool = False) -> list[str]:
    if single and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of {what}, e.g. [a, b], got {value!r}")
    return list(value)


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{where} must be a positive number, e.g. 0.5 or 2, got {value!r}")
    return float(value)


def _count(value: Any, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where} must be {what}, got {value!r}")
    return value


def _scalar(value: Any, where: str, allow_null: bool = False) -> Any:
    if value is None and allow_null:
        return None
    if isinstance(value, float) and not np.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    if not isinstance(value, _Scalar):
        raise ConfigError(f"{where} must be one value (text, number, true/false or date), got {value!r}")
    return value


# ---------------------------------------------------------------------------- validation
#: ``relsynth validate`` fits on at most this many rows per table ...
TRIAL_FIT_ROWS = 2_000
#: ... and samples at most this many rows per table.
TRIAL_ROWS = 200


@dataclass
class Validation:
    """What :func:`validate_config` found.

    Attributes:
        problems: Each thing that does not fit the live schema, or broke in the trial, one line each.
        source_rows: Rows per table of the source (the tables the configuration selects).
        trial_rows: Rows per table of the trial sample (empty when the checks failed first).
        violations: Constraint rows of the trial sample with violations (``frame_integrity``
            rows, only those with a violation).
        dangling: Per virtual foreign key (``"table: (cols) -> parent(cols)"``), the source
            rows whose non-NULL key matches no parent row.
    """

    problems: list[str]
    source_rows: dict[str, int | None] = field(default_factory=dict)
    trial_rows: dict[str, int] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    dangling: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No problems and no violations."""
        return not self.problems and not self.violations

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (``relsynth validate --format json``)."""
        return {"ok": self.ok, "problems": self.problems, "source_rows": self.source_rows,
                "trial_rows": self.trial_rows, "violations": self.violations, "dangling": self.dangling}


def _virtual_dangling(config: Config, schema: Schema) -> list[tuple[str, str, int]]:
    """``(table, FK label, source rows)`` per virtual foreign key: the rows whose non-NULL value
    matches no parent row (read-only anti-joins)."""
    from relsynth.sinks.integrity import dangling_references

    virtual = add_foreign_keys(schema, config.foreign_keys, config.include, config.exclude)
    only = {n: Table(t.name, t.columns, t.primary_key, t.foreign_keys[len(schema.tables[n].foreign_keys):],
                     t.unique, t.checks, t.row_count) for n, t in virtual.tables.items()}
    counts = dangling_references(config.source, Schema(only, dialect=schema.dialect))
    return [(table, label, n) for table, fks in counts.items() for label, n in fks.items()]


def validate_config(config: Config) -> Validation:
    """Check ``config`` against its live source and trial-sample a few rows.

    The schema is read (with include/exclude); tables, columns, virtual foreign keys and
    override values are checked (:func:`config_problems`), the source rows that break a virtual
    foreign key counted (all of them: a problem); then the source is fitted on at most
    :data:`TRIAL_FIT_ROWS` rows per table and every table sampled at its configured scale, but
    at most :data:`TRIAL_ROWS` rows, with the column overrides applied, and the sample's keys
    and constraints are checked in memory. Nothing is written. The trial fit is the copula's
    whatever ``synthesizer`` says (a neural one only needs torch, which is checked).

    Raises:
        ConfigError: The configuration has no ``source``.
        SourceError: The source cannot be read.
    """
    from relsynth.api import fit
    from relsynth.errors import SchemaError
    from relsynth.evaluate.integrity import frame_integrity
    from relsynth.schema.dataframes import schema_from_metadata
    from relsynth.schema.reader import read_schema
    from relsynth.transform.pii import check_pii_overrides

    config._url({"source": config.source}, "source")
    try:
        if config.metadata is not None:
            schema = schema_from_metadata(config.metadata).select(config.include, config.exclude)
        else:
            schema = read_schema(config.source, include=config.include, exclude=config.exclude)
    except SchemaError as exc:  # a table named in include/exclude that is not there
        return Validation([f"include/exclude: {exc}"])
    result = Validation(config_problems(schema, config.tables, config.foreign_keys, config.include, config.exclude),
                        {n: t.row_count for n, t in schema.tables.items()})
    pii = pii_overrides(config.pii, config.tables)
    try:
        check_pii_overrides(add_foreign_keys(schema, config.foreign_keys, config.include, config.exclude), pii)
    except ConfigError as exc:
        result.problems.append(str(exc))
    if {config.synthesizer, *(o.synthesizer for o in config.tables.values())} - {"copula", None}:
        from relsynth.models.neural import require_torch

        try:
            require_torch()
        except ImportError as exc:
            result.problems.append(f"synthesizer: {exc}")
    if result.problems:
        return result
    for table, label, n in _virtual_dangling(config, schema):
        result.dangling[f"{table}: {label}"] = n
        if n and n == schema.tables[table].row_count:
            result.problems.append(f"foreign key {table}: {label}: no source row matches a parent row; "
                                   "check columns and ref_columns")
    fit_rows = min(config.fit_rows or TRIAL_FIT_ROWS, TRIAL_FIT_ROWS)
    logger = logging.getLogger("relsynth")
    level = logger.level
    logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))  # "fitted on a sample" is the point here
    try:
        model = fit(config.source, schema=schema, fit_rows=fit_rows, foreign_keys=config.foreign_keys, pii=pii,
                    locale=config.locale, rare_category_threshold=config.rare_category_threshold)
    finally:
        logger.setLevel(level)
    trial = {}
    for name, tm in model.tables.items():
        options = config.tables.get(name, TableOptions())
        wanted = options.scale if options.scale is not None else config.scale
        if options.size is not None and tm.n_rows:
            wanted = max(options.size / tm.n_rows, 1e-9)
        scale = min(wanted, TRIAL_ROWS / tm.n_rows) if tm.n_rows else wanted
        # Conditions and rebalancing are tried too: an impossible condition is a problem.
        trial[name] = TableOptions(scale=scale, columns=options.columns, condition=options.condition,
                                   rebalance=options.rebalance)
    frames = model.sample(scale=config.scale, seed=config.seed if config.seed is not None else 0, tables=trial)
    result.trial_rows = {n: len(f) for n, f in frames.items()}
    result.violations = [row for row in frame_integrity(model.schema, frames) if row["violations"]]
    for name, n in result.trial_rows.items():
        if n == 0 and (model.tables[name].n_rows or 0) > 0:
            result.problems.append(f"tables.{name}: the trial sample has no rows (source: {model.tables[name].n_rows:,}); "
                                   "a column override may break a CHECK constraint on every row")
    return result
