"""The commented ``relsynth.yaml`` that ``relsynth init`` writes for a live schema.

Every key of :mod:`relsynth.config` appears, set to its default or commented out, every table
with its row count and every column with its kind and an override that fits it (commented), so
the file loads back as a configuration that clones exactly as no configuration would.
"""

from __future__ import annotations

import sqlalchemy as sa

from relsynth.schema.model import Column, Schema, Table
from relsynth.subsample import FIT_ROWS
from relsynth.transform.pii import PII_KINDS
from relsynth.transform.rare import RARE_CATEGORY_THRESHOLD
from relsynth.urls import normalize_url

__all__ = ["config_template", "password_placeholder"]

#: Environment variable named in place of the source URL's password.
PASSWORD_VARIABLE = "RELSYNTH_SOURCE_PASSWORD"

_HEADER = """\
# relsynth configuration for {source} ({tables} tables), written by `relsynth init`.
# Check it against the database with `relsynth validate --config {path}`; run it with
# `relsynth clone --config {path}` (options given on the command line win) or, in Python,
# relsynth.load_config("{path}").clone(). Keys equal the keyword arguments of relsynth.clone().
# ${{VAR}} is replaced by the environment variable VAR, ${{VAR:-default}} by default where VAR is unset.

source: {source_value}
target: {target_value}

{include}# only these tables
{exclude}# all tables but these
scale: 1.0                        # rows × scale; children follow their parents
# seed: 42                        # same seed, same synthetic data
if_exists: fail                   # the target has the tables already: fail, truncate, append or replace
{fit_rows}# a larger table is learned from an FK-consistent sample of this many rows
# partition_rows: 500000          # the copy is drawn and loaded this many rows at a time (memory)
# workers: 2                      # draw the partitions on a local Dask cluster of this many processes (relsynth[dask])
# scheduler: tcp://HOST:8786      # ... or on an existing Dask cluster (instead of workers)
# metadata: schema.json           # an SDV or relsynth metadata JSON describing the source instead of its declared schema
# file_format: csv                # for a directory target: csv or parquet
# locale: en_US                   # Faker locale of generated personal data (de_DE, fr_FR, ...)
{rare}# categories fewer source rows hold are not reproduced verbatim (0: keep all)
# synthesizer: copula             # what learns each table: copula, neural (pip install "relsynth[neural]") or auto
# neural_epochs: 40               # neural synthesizer: most training epochs per table ...
# neural_seconds: 60              # ... and most training seconds per table
# Personal-data detection overridden: TABLE.COLUMN: kind (one of {kinds}) or null (not personal data)
# pii: {{{first}.column: null}}

# Foreign keys the database does not declare: learned, kept and declared in the target like real ones.
# {{table: child, columns: [col], ref_table: parent, ref_columns: [key]}} (ref_columns: the parent's primary key if left out)
foreign_keys:
{fk_examples}
# Per table: `scale` (this table's rows = source rows × scale, its children follow) and column
# overrides, applied before CHECK and UNIQUE constraints are enforced, so those still hold:
#   {{skip: true}}                 leave NULL (nullable columns only)
#   {{value: X}}                   every row gets X
#   {{values: [A, B]}}             keep generated values that are A or B, replace the others by A or B
#   {{values: {{A: 0.7, B: 0.3}}}}   every value drawn with these frequencies
#   {{min: 0, max: 100}}           clamp numbers and dates
#   {{faker: email}}               made by Faker as personal data of this kind (text columns; see pii above)
#   {{rule: "b >= a + 1"}}         every row satisfies this SQL condition over the row's columns (goes with any of the above)
# Primary and foreign key columns are generated and cannot be overridden.
# Targeted generation (README "Targeted generation"): `size: 1000` (rows, instead of scale),
# `condition: {{age: {{min: 70}}, smoker: true, diagnosis: [copd, cancer]}}` (every row meets it;
# its children follow), `rebalance: {{diagnosis: {{cancer: 0.5}}}}` (category shares).
# `synthesizer: neural` (or copula, auto) learns this table so, whatever the global `synthesizer:`.
tables:
"""


def password_placeholder(url: str) -> str:
    """``url`` with its password replaced by ``${RELSYNTH_SOURCE_PASSWORD}`` (and ``$`` kept as ``$$``).

    Args:
        url: A database URL.

    Returns:
        Text for a configuration file's ``source:``; the same URL once the variable is set.
    """
    parsed = sa.make_url(url)
    if not parsed.password:
        return url.replace("$", "$$")
    marker = "RELSYNTHPASSWORDMARKER"
    text = parsed.set(password=marker).render_as_string(hide_password=False)
    return text.replace("$", "$$").replace(marker, "${" + PASSWORD_VARIABLE + "}")


def _default_target(url: str) -> str:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        stem = parsed.database.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return f"sqlite:///{stem}_synthetic.db".replace("$", "$$")
    return f"sqlite:///{(parsed.database or 'source').replace('$', '$$')}_synthetic.db"


def _example(table: Table, column: Column) -> str:
    """A commented override that fits ``column`` (or why it has none)."""
    if column.name in table.primary_key:
        return f"# {column.name}: primary key, generated"
    if column.name in table.fk_columns:
        return f"# {column.name}: foreign key, filled from the parent row"
    notes = [column.kind] + (["nullable"] if column.nullable else ["NOT NULL"])
    if [column.name] in [list(u.columns) for u in table.unique]:
        notes.append("UNIQUE")
    if column.nullable:
        example = "{skip: true}"
    elif column.kind in ("integer", "float", "decimal"):
        example = "{min: 0, max: 100}"
    elif column.kind == "date":
        example = "{min: 2020-01-01, max: 2030-12-31}"
    elif column.kind == "datetime":
        example = "{min: '2020-01-01 00:00:00'}"
    elif column.kind == "boolean":
        example = "{value: false}"
    elif column.kind in ("string", "uuid", "time"):
        choices = (column.enum_values or ["A", "B"])[:2]
        example = "{values: [" + ", ".join(_quoted(c) for c in choices) + "]}"
    else:
        return f"# {column.name}: {', '.join(notes)} (no override applies)"
    return f"# {_key(column.name)}: {example}".ljust(48) + f"  # {', '.join(notes)}"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _suggested_keys(schema: Schema) -> list[str]:
    """Undeclared FKs suggested by name: a column named like another table's one-column
    primary key (``Album.ArtistId`` → ``Artist.ArtistId``), of the same kind."""
    keys = {}
    for parent in schema.tables.values():
        if len(parent.primary_key) == 1 and parent.primary_key[0].lower() not in ("id", "key", "code", "name"):
            keys.setdefault(parent.primary_key[0].lower(), parent)
    out = []
    for table in schema.tables.values():
        declared = table.fk_columns
        for column in table.columns:
            parent = keys.get(column.name.lower())
            if (parent is None or parent.name == table.name or column.name in declared
                    or table.primary_key == [column.name]
                    or parent.column(parent.primary_key[0]).kind != column.kind):
                continue
            out.append(f"#  - {{table: {table.name}, columns: [{column.name}], ref_table: {parent.name}, "
                       f"ref_columns: [{parent.primary_key[0]}]}}")
    return out


def config_template(schema: Schema, source: str, path: str = "relsynth.yaml",
                    include: list[str] | None = None, exclude: list[str] | None = None) -> str:
    """The commented YAML configuration ``relsynth init`` writes.

    Args:
        schema: The source's schema (row counts shown when known), read with ``include`` / ``exclude``.
        source: The source URL (its password becomes ``${RELSYNTH_SOURCE_PASSWORD}``).
        path: The file's name, for the usage lines at its top.
        include: Written as the file's ``include`` (else a commented example).
        exclude: Written as the file's ``exclude`` (else a commented example).

    Returns:
        YAML text; :func:`relsynth.config.load_config` reads it back as a configuration that
        changes nothing (every override and optional key is commented out).
    """
    suggested = _suggested_keys(schema)
    first = _key(next(iter(schema.tables), "table"))
    if suggested:
        fk_examples = "# Columns named like another table's primary key, not declared as foreign keys (uncomment to use):\n"
        fk_examples += "\n".join(suggested) + "\n"
    else:
        fk_examples = "#  - {table: child, columns: [parent_id], ref_table: parent, ref_columns: [id]}\n"
    text = _HEADER.format(
        source=sa.make_url(source).render_as_string(hide_password=True), tables=len(schema.tables), path=path,
        source_value=_quoted(password_placeholder(source)),
        target_value=_quoted("${RELSYNTH_TARGET:-" + _default_target(source) + "}"),
        include=_selection("include", include, first), exclude=_selection("exclude", exclude, first),
        fit_rows=f"fit_rows: {FIT_ROWS}".ljust(34), fk_examples=fk_examples,
        rare=f"# rare_category_threshold: {RARE_CATEGORY_THRESHOLD}".ljust(34), kinds=", ".join(PII_KINDS),
        first=first,
    )
    lines = [text.rstrip("\n")]
    for table in schema.tables.values():
        rows = "rows unknown" if table.row_count is None else f"{table.row_count:,} rows"
        parents = sorted({fk.ref_table for fk in table.foreign_keys if fk.ref_table != table.name})
        under = f", child of {', '.join(parents)}" if parents else ""
        lines.append(f"  {_key(table.name)}:".ljust(34) + f"# {rows}{under}")
        lines.append("    # scale: 1.0")
        lines.append("    columns:")
        lines.extend("      " + _example(table, column) for column in table.columns)
    return "\n".join(lines) + "\n"


def _selection(key: str, names: list[str] | None, example: str) -> str:
    text = f"{key}: [{', '.join(_key(n) for n in names)}]" if names else f"# {key}: [{example}]"
    return text.ljust(34)


def _key(name: str) -> str:
    """``name`` as a YAML mapping key (quoted where YAML would read it as something else)."""
    import yaml  # here: the CLI imports this module, and only `relsynth init` needs YAML

    try:
        plain = yaml.safe_load(f"{name}: x")
    except yaml.YAMLError:
        plain = None
    return name if isinstance(plain, dict) and list(plain) == [name] else _quoted(name)
