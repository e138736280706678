"""The ``relsynth`` command line: a thin layer over the library's public functions.

Exit codes: 0 success, 1 a failure relsynth explains in one line, 2 a usage error (a bad
option, argument or configuration file).

Global options (before the command): ``--config FILE`` (option values from a configuration
file, see :mod:`relsynth.config`; options given on the command line win), ``--quiet``,
``--format text|json``, ``--log-level``, ``--version``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import relsynth
from relsynth import _startup

# The command line's own dependencies, imported as relsynth imports its own (relsynth._startup).
with _startup.imports_without_gc():
    import typer
    from typer._click import exceptions as click_exceptions
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn,
                               TimeRemainingColumn)
    from rich.text import Text
    from rich.table import Table as RichTable
    from typer.core import TyperGroup

    with contextlib.suppress(ImportError):
        # Typer (0.26 on) coerces every option through pydantic, importing it when it parses the
        # command line: ~65 ms of every command, ~7 ms less here.
        import typer._adapters  # noqa: F401

from relsynth.config import (
    NEURAL_EPOCHS,
    NEURAL_SECONDS,
    TRIAL_FIT_ROWS,
    Config,
    TableOptions,
    load_config,
    merge_targets,
    pii_overrides,
    parse_target_options,
    validate_config,
)
from relsynth.config_template import config_template
from relsynth.errors import ConfigError, RelsynthError
from relsynth.sinks.files import is_directory
from relsynth.sinks.integrity import total_violations
from relsynth.subsample import FIT_ROWS
from relsynth.transform.pii import PiiLink

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """The command group: a RelsynthError becomes ``error: <message>`` and exit 2 (ConfigError)
    or 1, inside the app, so every way of running it (console script, ``python -m``, a test
    runner) gets the same exit codes."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except RelsynthError as exc:
            ctx.exit(_report_error(exc))


def _report_error(exc: RelsynthError) -> int:
    """Print ``error: <message>`` on stderr; return the exit code (2 for a ConfigError, else 1)."""
    err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    return 2 if isinstance(exc, ConfigError) else 1


app = typer.Typer(
    name="relsynth",
    cls=_Group,
    help="Synthetic copies of relational databases: schema-aware, FK-consistent, fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Pipes and CI logs get wide lines instead of rich's 80-column default. No emoji codes: a
# table or value named ":fire:" is printed as it is (and the codes' table is not loaded).
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160, emoji=False)

IfExistsOpt = Annotated[
    str,
    typer.Option("--if-exists", help="When the target already has the tables: fail, truncate, append or replace."),
]
ScaleOpt = Annotated[float, typer.Option("--scale", help="Multiply the number of rows (children follow parents).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Same seed, same synthetic data.")]
FitRowsOpt = Annotated[int, typer.Option(
    "--fit-rows", help="Learn a table with more rows from an FK-consistent sample of about this many "
                       "(counts and keys still from all rows); 0 learns from every row.")]
FormatOpt = Annotated[Optional[str], typer.Option("--format", help="Output format: text or json (default: the global --format).")]
ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="Take option values from this YAML file (relsynth init writes one); given options win.")]
SourceArg = Annotated[Optional[str], typer.Argument(
    envvar="RELSYNTH_SOURCE", show_default=False, metavar="SRC",
    help="Source database URL, e.g. sqlite:///prod.db or postgresql://host/db "
         "(default: $RELSYNTH_SOURCE, then `source:` of the config).")]
ConditionOpt = Annotated[Optional[list[str]], typer.Option(
    "--condition", help="Targeted rows: TABLE.COLUMN OP VALUE with >=, <=, >, < or = (=a,b: one of several); "
                        "repeat for more, e.g. --condition \"patients.age>=70\" --condition patients.smoker=true.")]
SizeOpt = Annotated[Optional[list[str]], typer.Option(
    "--size", help="Rows of a table, TABLE=ROWS (e.g. patients=1000); its children follow; repeatable.")]
RebalanceOpt = Annotated[Optional[list[str]], typer.Option(
    "--rebalance", help="Category shares of a column: TABLE.COLUMN (equal shares) or "
                        "TABLE.COLUMN=CATEGORY:SHARE,... (e.g. patients.diagnosis=cancer:0.5); repeatable.")]
PartitionRowsOpt = Annotated[Optional[int], typer.Option(
    "--partition-rows", help="Draw and load the output this many rows at a time (whole families), "
                             "so memory does not grow with --scale (default: 100,000).")]
WorkersOpt = Annotated[Optional[int], typer.Option(
    "--workers", help="Draw the partitions on a local Dask cluster of this many worker processes "
                      "(needs relsynth[dask]); same data whatever the number.")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="Draw the partitions on an existing Dask cluster: its scheduler's address, e.g. "
                        "tcp://HOST:8786 (needs relsynth[dask]; a directory target must be reachable by every worker).")]
MetadataOpt = Annotated[Optional[Path], typer.Option(
    "--metadata", help="Schema file describing the source: relsynth's metadata.json or an SDV metadata JSON "
                       "(default for a directory: DIR/metadata.json).")]
FileFormatOpt = Annotated[Optional[str], typer.Option(
    "--file-format", help="For a directory target: csv (default) or parquet (needs relsynth[parquet]).")]
LocaleOpt = Annotated[str, typer.Option("--locale", help="Faker locale of generated personal data (en_US, de_DE, ...).")]
RareOpt = Annotated[int, typer.Option(
    "--rare-category-threshold", help="Categories fewer source rows hold are not reproduced verbatim (0: keep all).")]
SynthesizerOpt = Annotated[str, typer.Option(
    "--synthesizer", help="What learns every table: copula (default), neural (a conditional network; needs "
                          "relsynth[neural]) or auto (neural where it beats the copula); a config's "
                          "tables.T.synthesizer sets one table.")]
NeuralEpochsOpt = Annotated[int, typer.Option("--neural-epochs", help="Most training epochs of a neural synthesizer.")]
NeuralSecondsOpt = Annotated[float, typer.Option(
    "--neural-seconds", help="Most training seconds of a neural synthesizer, per table.")]
PiiOpt = Annotated[Optional[str], typer.Option(
    "--pii", help="Override personal-data detection: TABLE.COLUMN=KIND or TABLE.COLUMN=none, comma-separated.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"relsynth {relsynth.__version__}")
        raise typer.Exit()


@dataclass
class _Settings:
    """The global options, kept on the context for every command."""

    config: Optional[Path] = None
    fmt: str = "text"
    quiet: bool = False


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    log_level: Annotated[Optional[str], typer.Option(
        "--log-level", help="debug, info, warning or error (default: warning; error with --quiet).")] = None,
    config: ConfigOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="Output format of every command: text or json.")] = "text",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """relsynth: synthetic copies of relational databases."""
    name = log_level or ("error" if quiet else "warning")
    level = getattr(logging, name.upper(), None)
    if not isinstance(level, int):
        raise ConfigError(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("relsynth").setLevel(level)
    out.quiet = quiet
    ctx.obj = _Settings(config=config, fmt=_check_format(fmt), quiet=quiet)


def _settings(ctx: typer.Context) -> _Settings:
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, _Settings) else _Settings()


def _format(ctx: typer.Context, fmt: Optional[str]) -> Literal["text", "json"]:
    """The command's --format if given, else the global one."""
    return _check_format(fmt if fmt is not None else _settings(ctx).fmt)


def _note(ctx: typer.Context, text: str) -> None:
    """A note for the user on stderr (not with --quiet)."""
    if not _settings(ctx).quiet:
        err.print(f"note: {text}", markup=False, highlight=False)


def _config(ctx: typer.Context, path: Optional[Path]) -> Optional[Config]:
    """The configuration of the command's --config, else of the global --config, else none."""
    path = path if path is not None else _settings(ctx).config
    return load_config(path) if path is not None else None


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` came from the command line or its environment variable."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


#: Command parameters named otherwise than the config key they take their value from.
_CONFIG_KEY = {"to": "target", "real": "source", "synthetic": "target"}


def _merged(ctx: typer.Context, config: Optional[Config], **values: Any) -> dict[str, Any]:
    """The command's option values, each taken from ``config`` where the file sets it and the
    command line did not (names are the config's keys; ``to`` is ``target``)."""
    out = dict(values)
    if config is None:
        return out
    for name in values:
        key = _CONFIG_KEY.get(name, name)
        if key in config.given and not _given(ctx, name):
            out[name] = getattr(config, key)
    return out


def _required(value: Optional[str], what: str, arg: str, envvar: Optional[str], key: str) -> str:
    """``value``, or a ConfigError that says where the URL can come from."""
    if not value:
        env = f", set {envvar}" if envvar else ""
        raise ConfigError(f"no {what} database URL: give {arg}{env} or write `{key}:` in the --config file")
    return value


def _check_format(fmt: Optional[str]) -> Literal["text", "json"]:
    if fmt not in ("text", "json"):
        raise ConfigError(f"--format must be text or json, got {fmt!r}")
    return fmt  # type: ignore[return-value]


def _targets(cfg: Optional[Config], condition: Optional[list[str]], size: Optional[list[str]],
             rebalance: Optional[list[str]]) -> dict[str, TableOptions]:
    """The configuration's per-table options with --condition, --size and --rebalance folded in."""
    return merge_targets(cfg.tables if cfg else None, **parse_target_options(condition, size, rebalance))


def _list(value: Optional[str] | list[str]) -> Optional[list[str]]:
    if isinstance(value, list):
        return value
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _pii_overrides(value: Optional[str]) -> Optional[dict[str, Optional[str]]]:
    """``"Customer.Company=none,Customer.Note=text"`` → ``{"Customer.Company": None, "Customer.Note": "text"}``."""
    out: dict[str, Optional[str]] = {}
    for item in _list(value) or []:
        key, eq, kind = item.partition("=")
        if not eq or not key.strip() or not kind.strip():
            raise ConfigError(f"--pii {item!r} must be TABLE.COLUMN=KIND or TABLE.COLUMN=none, "
                              "e.g. --pii Customer.Company=none")
        out[key.strip()] = None if kind.strip().lower() in ("none", "null", "no") else kind.strip()
    return out or None


def _print_privacy(pii: dict, rare: dict, copies: Optional[dict] = None) -> None:
    """A short list: personal-data columns and how they were made; rare categories; exact copies."""
    if pii:
        out.print("personal data (generated, never copied):", markup=False, highlight=False)
        for table, cols in pii.items():
            listed = ", ".join(f"{c} ({v['kind']})" for c, v in cols.items())
            out.print(f"  {table}: {listed}", markup=False, highlight=False)
    else:
        out.print("personal data: none found (override with --pii TABLE.COLUMN=KIND)", markup=False)
    if rare:
        cols = ", ".join(f"{t}.{c} ({n})" for t, cs in rare.items() for c, n in cs.items())
        out.print(f"rare categories not reproduced (distinct values held by too few rows): {cols}",
                  markup=False, highlight=False)
    if copies is not None:
        total = sum(c["copies"] for c in copies.values())
        forced = sum(c["copies"] for c in copies.values() if c["domain_forced"])
        out.print(f"exact copies: {total} synthetic row(s) equal a source row on every non-key column"
                  + (f" ({forced} where the columns' few values force it)" if forced else ""), markup=False)


@app.command()
def clone(
    ctx: typer.Context,
    source: SourceArg = None,
    target: Annotated[Optional[str], typer.Argument(
        envvar="RELSYNTH_TARGET", show_default=False, metavar="DST",
        help="Target database URL (created/filled; never the source), or a directory: one file per table "
             "plus metadata.json (default: $RELSYNTH_TARGET, then `target:` of the config).")] = None,
    scale: ScaleOpt = 1.0,
    seed: SeedOpt = None,
    if_exists: IfExistsOpt = "fail",
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to clone (default: all).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    fit_rows: FitRowsOpt = FIT_ROWS,
    partition_rows: PartitionRowsOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    metadata: MetadataOpt = None,
    file_format: FileFormatOpt = None,
    condition: ConditionOpt = None,
    size: SizeOpt = None,
    rebalance: RebalanceOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    locale: LocaleOpt = "en_US",
    rare_category_threshold: RareOpt = 5,
    pii: PiiOpt = None,
    synthesizer: SynthesizerOpt = "copula",
    neural_epochs: NeuralEpochsOpt = NEURAL_EPOCHS,
    neural_seconds: NeuralSecondsOpt = NEURAL_SECONDS,
) -> None:
    """Learn SOURCE and write a synthetic copy into TARGET with every key and constraint enforced."""
    fmt = _format(ctx, fmt)
    cfg = _config(ctx, config)
    o = _merged(ctx, cfg, source=source, target=target, scale=scale, seed=seed, if_exists=if_exists,
                include=_list(include), exclude=_list(exclude), fit_rows=fit_rows, partition_rows=partition_rows,
                workers=workers, scheduler=scheduler, metadata=metadata, file_format=file_format, pii=_pii_overrides(pii),
                locale=locale, rare_category_threshold=rare_category_threshold, synthesizer=synthesizer,
                neural_epochs=neural_epochs, neural_seconds=neural_seconds)
    source = _required(o.pop("source"), "source", "SRC", "RELSYNTH_SOURCE", "source")
    target = _required(o.pop("target"), "target", "DST", "RELSYNTH_TARGET", "target")
    with _progress_display(enabled=_show_progress(ctx, fmt)) as progress:
        result = relsynth.clone(source, target, **o, tables=_targets(cfg, condition, size, rebalance),
                                foreign_keys=cfg.foreign_keys if cfg else None, progress=progress)
    if fmt == "json":
        out.print_json(json.dumps(_clone_json(result)))
        return
    table = RichTable(title=f"synthetic copy written to {relsynth.api.mask_url(target)}")
    for col in ("table", "source rows", "synthetic rows", "column shapes", "pair trends", "cardinality"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, scores in result.fidelity.items():
        table.add_row(name, f"{result.rows_source[name]:,}", f"{result.rows_written.get(name, 0):,}",
                      _pct(scores.shape), _pct(scores.pair_trend), _pct(scores.cardinality))
    out.print(table)
    # Means over every column and every pair, as `relsynth report` (and SDV) compute them.
    shapes = [v for s in result.fidelity.values() for v in s.column_shapes.values()]
    weighted = [(s.pair_trend, s.pairs) for s in result.fidelity.values() if s.pair_trend is not None]
    n_pairs = sum(n for _, n in weighted)
    out.print(
        f"fidelity: column shapes {_pct(sum(shapes) / len(shapes) if shapes else None)}, "
        f"pair trends {_pct(sum(v * n for v, n in weighted) / n_pairs if n_pairs else None)} "
        "(100% = same as the source; `relsynth report` shows more)"
    )
    _print_integrity(result.violations, "the target")
    _print_privacy(result.pii, result.rare_categories, result.exact_copies)
    s = result.seconds
    out.print(f"time: read {s['read']:.2f}s, fit {s['fit']:.2f}s, sample {s['sample']:.2f}s, "
              f"write {s['write']:.2f}s, verify {s['verify']:.2f}s")
    for note in result.notes:
        _note(ctx, note)
    if result.violations:
        raise typer.Exit(1)


def _print_integrity(violations: int, where: str) -> None:
    """The one-line integrity verdict of a written copy."""
    verdict = "all keys and constraints hold" if violations == 0 else "VIOLATIONS FOUND"
    out.print(f"integrity: {violations} violations in {where} ({verdict})")


def _show_progress(ctx: typer.Context, fmt: str) -> bool:
    """Whether a command shows progress bars (text output, not --quiet; on a terminal only)."""
    return fmt == "text" and not _settings(ctx).quiet


class _RateColumn(ProgressColumn):
    """Rows per second of a table's task."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "", style="progress.data.speed")


@contextlib.contextmanager
def _progress_display(enabled: bool = True) -> Iterator[relsynth.api.Progress | None]:
    """Progress on a terminal (stderr): the stage, then rows per table with rate and ETA.
    Pipes and logs get nothing (the summary follows anyway)."""
    if not (enabled and err.is_terminal):
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                   TimeRemainingColumn(), console=err, transient=True)
    stage = bar.add_task("starting", total=None)
    tables: dict[str, TaskID] = {}
    words = {"read": "reading the source", "fit": "fitting", "write": "sampling and writing", "verify": "verifying the target"}

    def update(step: str, table: str | None, done: int, total: int | None) -> None:
        # Redrawn at once: a stage or a table's piece is seconds of work, not a tight loop.
        if step != "write":
            bar.update(stage, description=words.get(step, step) + (f" {table}" if table else ""), refresh=True)
            return
        bar.update(stage, description=words["write"])
        if table not in tables:
            tables[table] = bar.add_task(f"  {table}", total=total)  # type: ignore[index]
        bar.update(tables[table], completed=done, total=max(total or 0, done), refresh=True)  # type: ignore[index]

    with bar:
        yield update


def _short(fk: relsynth.ForeignKey) -> str:
    return f"{', '.join(fk.columns)} → {fk.ref_table}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _clone_json(result: relsynth.CloneResult) -> dict:
    return {
        "rows_source": result.rows_source,
        "rows_written": result.rows_written,
        "seconds": result.seconds,
        "integrity": result.integrity,
        "violations": result.violations,
        "fidelity": {
            n: {"column_shapes": s.column_shapes, "shape": s.shape, "pair_trend": s.pair_trend,
                "cardinality": s.cardinality}
            for n, s in result.fidelity.items()
        },
        "notes": result.notes,
        "pii": result.pii,
        "rare_categories": result.rare_categories,
        "exact_copies": result.exact_copies,
    }


@app.command()
def inspect(
    ctx: typer.Context,
    source: SourceArg = None,
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to include.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    fmt: FormatOpt = None,
    integrity: Annotated[bool, typer.Option(
        "--integrity/--no-integrity",
        help="Count, per foreign key, source rows that point at no parent row (read-only queries).")] = True,
    metadata: MetadataOpt = None,
    sdv_metadata: Annotated[Optional[Path], typer.Option(
        "--sdv-metadata", help="Also write the schema as SDV metadata JSON to this file.")] = None,
    schema_json: Annotated[Optional[Path], typer.Option(
        "--schema-json", help="Also write the schema as relsynth's metadata JSON (what --metadata reads) "
                              "to this file.")] = None,
    pii: Annotated[bool, typer.Option(
        "--pii/--no-pii", help="Find columns holding personal data (from the first rows of each table).")] = True,
    config: ConfigOpt = None,
) -> None:
    """Show tables, row counts, keys, the parent-first generation order, cycles, broken FKs and personal data."""
    fmt = _format(ctx, fmt)
    o = _merged(ctx, _config(ctx, config), source=source, include=_list(include), exclude=_list(exclude),
                metadata=metadata)
    source = _required(o.pop("source"), "source", "SRC", "RELSYNTH_SOURCE", "source")
    info = relsynth.inspect(source, **o, integrity=integrity, pii=pii)
    for path, doc in ((sdv_metadata, info.schema.to_sdv_metadata), (schema_json, info.schema.to_dict)):
        if path is not None:
            _write_json(path, doc())
            err.print(f"metadata written to {path}", markup=False, highlight=False)
    if fmt == "json":
        out.print_json(json.dumps(info.to_dict()))
        return
    kind = "files" if is_directory(source) else info.schema.dialect
    table = RichTable(title=f"{relsynth.api.mask_url(source)} ({kind})")
    for col in ("#", "table", "rows", "primary key", "generated under", "other foreign keys"):
        table.add_column(col, justify="right" if col in ("#", "rows") else "left")
    for i, name in enumerate(info.plan.order, 1):
        t = info.schema.tables[name]
        tp = info.plan.tables[name]
        others = [f"{_short(fk)} (secondary)" for fk in tp.secondary]
        others += [f"{_short(fk)} (self-reference)" for fk in tp.self_refs]
        others += [f"{_short(fk)} (cycle break, filled last)" for fk in tp.deferred]
        table.add_row(str(i), name, "?" if t.row_count is None else f"{t.row_count:,}",
                      ", ".join(t.primary_key) or "(none)", _short(tp.driver) if tp.driver else "(root)",
                      "\n".join(others))
    out.print(table)
    if info.plan.cycles:
        for cycle in info.plan.cycles:
            out.print(f"cycle: {' ↔ '.join(cycle)}")
        for child, fk in info.plan.broken:
            out.print(f"  broken at {child}.{fk.label}: filled after both tables exist, checked at the end of the load")
    else:
        out.print("no FK cycles")
    _print_source_integrity(info)
    for table, cols in (info.pii or {}).items():
        out.print(f"personal data in {table}: " + "; ".join(f"{c} ({v['kind']}: {v['reason']})" for c, v in cols.items()),
                  markup=False, highlight=False)
    if info.pii_links is not None:
        for link in info.pii_links:
            out.print(f"personal data shared between tables: {PiiLink.from_state(link).describe()}: a clone "
                      "draws that share from the synthetic rows of the first", markup=False, highlight=False)
        if info.pii and not info.pii_links:
            out.print("personal data shared between tables without a foreign key: none")


def _write_json(path: Path, doc: dict) -> None:
    try:
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}; choose a writable path") from None


def _print_source_integrity(info: relsynth.Inspection) -> None:
    if info.dangling is None:
        return
    broken = [(t, label, n) for t, fks in info.dangling.items() for label, n in fks.items() if n]
    if not broken:
        out.print("source integrity: every foreign key value has its parent row")
        return
    out.print(f"source integrity: {info.dangling_rows:,} row(s) in {len(broken)} foreign key(s) point at no parent "
              "row (a clone does not copy that: every synthetic FK value points at an existing row):", markup=False)
    for table, label, n in broken:
        out.print(f"  {table}.{label}: {n:,} row(s)", markup=False, highlight=False)


@app.command()
def report(
    ctx: typer.Context,
    real: Annotated[Optional[str], typer.Argument(
        show_default=False, metavar="REAL",
        help="URL (or file directory) of the real database (default: `source:` of the config).")] = None,
    synthetic: Annotated[Optional[str], typer.Argument(
        show_default=False, metavar="SYNTHETIC", help="URL (or file directory) of the synthetic database, same tables "
                                 "(default: `target:` of the config).")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output",
                                                   help="Write the report here: .html (page with plots) or .json.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="TABLE.COLUMN for a machine-learning efficacy check.")] = None,
    detection: Annotated[bool, typer.Option("--detection/--no-detection",
                                            help="Train classifiers to tell real rows from synthetic ones.")] = True,
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to compare (default: all).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the classifiers and row samples.")] = 0,
    metadata: MetadataOpt = None,
    fmt: FormatOpt = None,
    holdout: Annotated[Optional[str], typer.Option(
        "--holdout", help="URL of real rows the model never saw (same tables): gives the closer-to-train share.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Compare SYNTHETIC with REAL: integrity, column shapes, pair trends, cardinality, detection, privacy."""
    fmt = _format(ctx, fmt)
    o = _merged(ctx, _config(ctx, config), real=real, synthetic=synthetic, include=_list(include),
                exclude=_list(exclude), metadata=metadata)
    real = _required(o.pop("real"), "real", "REAL", None, "source")
    synthetic = _required(o.pop("synthetic"), "synthetic", "SYNTHETIC", None, "target")
    schema = None
    if any(o.values()):
        schema = relsynth.inspect(real, **o, integrity=False, pii=False).schema
    result = relsynth.evaluate(real, synthetic, schema=schema, target=target, detection=detection, seed=seed,
                               holdout=holdout)
    if output is not None:
        result.save(output)
    if fmt == "json":
        if output is None or output.suffix.lower() != ".json":
            out.print_json(result.to_json(indent=None))
        return
    _print_report(ctx, result)
    if output is not None:
        out.print(f"report written to {output}")


def _print_report(ctx: typer.Context, result: relsynth.Report) -> None:
    table = RichTable(title=f"{result.synthetic} compared with {result.real}")
    for col in ("table", "real rows", "synthetic rows", "column shapes", "pair trends", "detection AUC"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, t in result.tables.items():
        auc = t["detection"]["auc"] if t["detection"] else None
        table.add_row(name, f"{t['rows_real']:,}", f"{t['rows_synthetic']:,}", _pct(t["column_shapes"]),
                      _pct(t["pair_trends"]), "–" if auc is None else f"{auc:.3f}")
    out.print(table)
    s = result.summary
    out.print(f"fidelity {_pct(s['overall'])}: column shapes {_pct(s['column_shapes'])}, pair trends "
              f"{_pct(s['column_pair_trends'])}, cardinality {_pct(s['cardinality'])}, parent-child trends "
              f"{_pct(s['parent_child_trends'])} (100% = same as the real data)")
    if s["detection_auc"] is not None:
        rel = s["detection_auc_relational"]
        out.print(f"detection AUC: rows {s['detection_auc']:.3f}"
                  + ("" if rel is None else f", parents with their children {rel:.3f}")
                  + " (0.5 = indistinguishable, 1.0 = always told apart)")
    if result.ml_efficacy:
        e = result.ml_efficacy
        out.print(f"ML efficacy ({e['table']}.{e['target']}, {e['metric']}): trained on real {e['real']:.3f}, "
                  f"on synthetic {e['synthetic']:.3f}")
    verdict = "all keys and constraints hold" if s["integrity_violations"] == 0 else "VIOLATIONS FOUND"
    out.print(f"integrity: {s['integrity_violations']} violating rows in the synthetic data ({verdict})")
    if result.privacy is not None:
        p = result.privacy["summary"]
        share = ("not computed (no --holdout)" if p["closer_to_train_share"] is None
                 else f"{p['closer_to_train_share']:.3f} (0.5 = no closer to the training rows than to unseen ones)")
        out.print(f"privacy: closer-to-train share {share}; exact copies {p['exact_copies']} "
                  f"({p['exact_copy_rate']:.4%} of rows, {p['exact_copies_beyond_domain']} not forced by the domain); "
                  f"personal-data columns {p['pii_columns']}, real values found in them {p['pii_values_leaked']}",
                  markup=False, highlight=False)
    for note in result.notes:
        _note(ctx, note)


@app.command()
def demo(
    out_url: Annotated[str, typer.Option("--out", help="Where to write the demo hospital database.")] = "sqlite:///hospital.db",
    patients: Annotated[int, typer.Option(help="Number of patients.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing demo database.")] = False,
) -> None:
    """Build the bundled demo database: a hospital with departments, patients, lab results, treatments."""
    from relsynth.data import build_hospital, hospital_schema, write_hospital_sqlite

    if out_url.startswith("sqlite:///"):
        counts = write_hospital_sqlite(out_url.removeprefix("sqlite:///"), n_patients=patients, seed=seed, overwrite=force)
    else:
        counts = relsynth.write(build_hospital(patients, seed), out_url, hospital_schema(),
                                if_exists="replace" if force else "fail")
    out.print(f"demo database written to {relsynth.api.mask_url(out_url)}: "
              + ", ".join(f"{n} {c:,} rows" for n, c in counts.items()))


@app.command()
def fit(
    ctx: typer.Context,
    source: SourceArg = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write.")] = Path("model.rsm"),
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to include.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    fit_rows: FitRowsOpt = FIT_ROWS,
    metadata: MetadataOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    locale: LocaleOpt = "en_US",
    rare_category_threshold: RareOpt = 5,
    pii: PiiOpt = None,
    synthesizer: SynthesizerOpt = "copula",
    neural_epochs: NeuralEpochsOpt = NEURAL_EPOCHS,
    neural_seconds: NeuralSecondsOpt = NEURAL_SECONDS,
) -> None:
    """Learn SOURCE and save the model (JSON + numpy arrays; no pickle; no personal data)."""
    fmt = _format(ctx, fmt)
    cfg = _config(ctx, config)
    o = _merged(ctx, cfg, source=source, include=_list(include), exclude=_list(exclude), fit_rows=fit_rows,
                metadata=metadata, pii=_pii_overrides(pii), locale=locale,
                rare_category_threshold=rare_category_threshold, synthesizer=synthesizer,
                neural_epochs=neural_epochs, neural_seconds=neural_seconds)
    source = _required(o.pop("source"), "source", "SRC", "RELSYNTH_SOURCE", "source")
    o["pii"] = pii_overrides(o["pii"], cfg.tables if cfg else None)  # a column's `faker:` is a pii override
    started = time.perf_counter()
    with _progress_display(enabled=_show_progress(ctx, fmt)) as progress:
        model = relsynth.fit(source, **o, foreign_keys=cfg.foreign_keys if cfg else None,
                             tables=cfg.tables if cfg else None, progress=progress)
    model.save(output)
    if fmt == "json":
        out.print_json(json.dumps({"model": str(output), "tables": {n: t.n_rows for n, t in model.tables.items()},
                                   "synthesizers": {n: t.synthesizer for n, t in model.tables.items()},
                                   "notes": model.notes}))
        return
    out.print(f"model of {len(model.tables)} tables saved to {output} ({sum(t.n_rows for t in model.tables.values()):,} "
              f"source rows, fitted in {time.perf_counter() - started:.2f}s)", markup=False, highlight=False)
    networks = {n: t.neural for n, t in model.tables.items() if t.neural is not None}
    if networks:
        out.print("neural synthesizer: " + ", ".join(f"{n} ({m.epochs} epochs, {m.seconds:.1f}s)"
                                                     for n, m in networks.items()), markup=False, highlight=False)
    _print_privacy(model.pii, model.rare_categories)
    for note in model.notes:
        _note(ctx, note)


@app.command()
def sample(
    ctx: typer.Context,
    model_path: Annotated[Path, typer.Argument(help="Model file written by `relsynth fit`.")],
    to: Annotated[Optional[str], typer.Option(
        "--to", envvar="RELSYNTH_TARGET", show_default=False,
        help="Target database URL, or a directory: one file per table plus metadata.json "
             "(default: $RELSYNTH_TARGET, then `target:` of the config).")] = None,
    scale: ScaleOpt = 1.0,
    seed: SeedOpt = None,
    if_exists: IfExistsOpt = "fail",
    partition_rows: PartitionRowsOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    file_format: FileFormatOpt = None,
    condition: ConditionOpt = None,
    size: SizeOpt = None,
    rebalance: RebalanceOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Sample a synthetic database from a saved model and write it to --to.

    --condition, --size and --rebalance (and `condition:`, `size:`, `rebalance:` of a table in
    the config) draw targeted rows; their children follow them. --workers N (a local Dask
    cluster) or --scheduler tcp://HOST:8786 (an existing one) draw the partitions in parallel."""
    fmt = _format(ctx, fmt)
    cfg = _config(ctx, config)
    o = _merged(ctx, cfg, to=to, scale=scale, seed=seed, if_exists=if_exists, partition_rows=partition_rows,
                workers=workers, scheduler=scheduler, file_format=file_format)
    to = _required(o["to"], "target", "--to", "RELSYNTH_TARGET", "target")
    model = relsynth.load(model_path)
    stream = model.stream(scale=o["scale"], seed=o["seed"], partition_rows=o["partition_rows"],
                          tables=_targets(cfg, condition, size, rebalance))
    started = time.perf_counter()
    with _progress_display(enabled=_show_progress(ctx, fmt)) as progress:
        counts = relsynth.write(stream, to, model.schema, if_exists=o["if_exists"],  # type: ignore[arg-type]
                                file_format=o["file_format"], progress=progress,  # type: ignore[arg-type]
                                workers=o["workers"], scheduler=o["scheduler"])
        written = time.perf_counter() - started
        if progress is not None:
            progress("verify", None, 0, None)
        integrity = relsynth.verify(to, model.schema)
    seconds = {"write": written, "verify": time.perf_counter() - started - written}
    violations = total_violations(integrity)
    if fmt == "json":
        out.print_json(json.dumps({"target": relsynth.api.mask_url(to), "rows_written": counts, "seconds": seconds,
                                   "integrity": integrity, "violations": violations}))
    else:
        table = RichTable(title=f"synthetic data written to {relsynth.api.mask_url(to)}")
        for col in ("table", "rows", "violations"):
            table.add_column(col, justify="left" if col == "table" else "right")
        for name, n in counts.items():
            table.add_row(name, f"{n:,}", f"{total_violations({name: integrity.get(name, {})}):,}")
        out.print(table)
        _print_integrity(violations, "the files" if is_directory(to) else "the target")
        out.print(f"time: sample and write {seconds['write']:.2f}s, verify {seconds['verify']:.2f}s "
                  f"({sum(counts.values()):,} rows)")
    if violations:
        raise typer.Exit(1)


@app.command()
def init(
    ctx: typer.Context,
    source: SourceArg = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Configuration file to write.")] = Path("relsynth.yaml"),
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to describe (default: all).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    fmt: FormatOpt = None,
) -> None:
    """Write a commented configuration file for SOURCE: every table and column, every option."""
    fmt = _format(ctx, fmt)
    source = _required(source, "source", "SRC", "RELSYNTH_SOURCE", "source")
    if output.exists() and not force:
        raise ConfigError(f"{output} exists; pass --force to overwrite it or -o to write another file")
    schema = relsynth.inspect(source, include=_list(include), exclude=_list(exclude), integrity=False).schema
    output.write_text(config_template(schema, source, str(output), include=_list(include), exclude=_list(exclude)),
                      encoding="utf-8")
    if fmt == "json":
        out.print_json(json.dumps({"config": str(output), "tables": {n: t.row_count for n, t in schema.tables.items()}}))
        return
    out.print(f"wrote {output}: {len(schema.tables)} tables, {sum(len(t.columns) for t in schema.tables.values())} "
              f"columns; edit it, then run `relsynth validate --config {output}`", markup=False, highlight=False)


@app.command()
def validate(
    ctx: typer.Context,
    config: ConfigOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Check a configuration file against the live source and trial-sample a few rows.

    Exit 0 when everything fits, 1 with the problems listed, 2 when the file itself is invalid.
    """
    fmt = _format(ctx, fmt)
    path = config if config is not None else (_settings(ctx).config or Path("relsynth.yaml"))
    cfg = load_config(path)
    result = validate_config(cfg)
    if fmt == "json":
        out.print_json(json.dumps(result.to_dict(), default=str))
    else:
        out.print(f"{path}: source {relsynth.api.mask_url(cfg.source or '')}, {len(result.source_rows)} tables, "
                  f"{len(cfg.foreign_keys)} virtual foreign key(s), "
                  f"{sum(len(t.columns) for t in cfg.tables.values())} column override(s)", markup=False, highlight=False)
        for label, n in result.dangling.items():
            out.print(f"virtual foreign key {label}: " + (f"{n:,} source row(s) point at no parent row (the copy "
                      "gives every row a parent)" if n else "every source row has its parent row"),
                      markup=False, highlight=False)
        if result.trial_rows:
            out.print(f"trial sample (fitted on at most {TRIAL_FIT_ROWS:,} rows per table): " + ", ".join(f"{n} {c:,} rows" for n, c in result.trial_rows.items()),
                      markup=False, highlight=False)
            out.print(f"integrity of the trial sample: {sum(v['violations'] for v in result.violations)} violations",
                      markup=False, highlight=False)
        for row in result.violations:
            err.print(f"violation: {row['table']}: {row['constraint']}: {row['violations']} row(s)",
                      markup=False, highlight=False)
        for problem in result.problems:
            err.print(f"problem: {problem}", markup=False, highlight=False, soft_wrap=True)
        if result.ok:
            out.print("the configuration is valid")
    if not result.ok:
        raise typer.Exit(1)


#: Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def main() -> None:
    """Console-script entry point: run the app; every failure is one ``error: …`` line on stderr.

    Exit codes: 0 ok; 1 a failure (a RelsynthError); 2 a usage error (an unknown option, a
    value of the wrong type, a ConfigError); 130 interrupted by Ctrl-C, after any write in
    progress was rolled back. No traceback is printed for any of them.
    """
    try:
        code = app(standalone_mode=False)
    except RelsynthError as exc:  # raised outside a command (the group reports those inside)
        sys.exit(_report_error(exc))
    except click_exceptions.NoArgsIsHelpError as exc:
        err.print(exc.format_message(), markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except click_exceptions.ClickException as exc:
        where = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "relsynth"
        _fail(f"{' '.join(exc.format_message().split())} (see `{where} --help`)", exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    if code == INTERRUPTED:  # typer turns a KeyboardInterrupt into Exit(130)
        _fail("interrupted (Ctrl-C); a write in progress was rolled back, so the target holds no part of it",
              INTERRUPTED)
    sys.exit(code or 0)


def run() -> None:
    """``relsynth`` and ``python -m relsynth``: :func:`main`, then a quick exit.

    Once the command is done (output flushed, logging shut down, ``atexit`` handlers run), the
    process ends with ``os._exit``: tearing down the ~1,400 modules pandas, SciPy and SQLAlchemy
    load and freeing every frame object by object takes about 0.3 s for nothing, a tenth of a
    demo clone. Every file and database write is committed and closed before :func:`main`
    returns. :func:`main` itself exits normally, for callers in the same process (tests).
    """
    try:
        main()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        err.print(str(code), markup=False, highlight=False)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    atexit._run_exitfuncs()
    os._exit(code or 0)


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)
