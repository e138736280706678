"""The ``relsynth`` command line: a thin layer over the library's public functions.

Exit codes: 0 success, 1 a failure relsynth explains in one line, 2 a usage error.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from typer._click import exceptions as click_exceptions
from rich.console import Console
from rich.table import Table as RichTable

import relsynth
from relsynth.errors import ConfigError, RelsynthError
from relsynth.subsample import FIT_ROWS

__all__ = ["app", "main"]

app = typer.Typer(
    name="relsynth",
    help="Synthetic copies of relational databases: schema-aware, FK-consistent, fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Pipes and CI logs get wide lines instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

IfExistsOpt = Annotated[
    str,
    typer.Option("--if-exists", help="When the target already has the tables: fail, truncate, append or replace."),
]
ScaleOpt = Annotated[float, typer.Option("--scale", help="Multiply the number of rows (children follow parents).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Same seed, same synthetic data.")]
FitRowsOpt = Annotated[int, typer.Option(
    "--fit-rows", help="Learn a table with more rows from an FK-consistent sample of about this many "
                       "(counts and keys still from all rows); 0 learns from every row.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Output format: text or json.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"relsynth {relsynth.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "warning",
) -> None:
    """relsynth: synthetic copies of relational databases."""
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        raise ConfigError(f"--log-level must be debug, info, warning or error, got {log_level!r}")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _check_format(fmt: str) -> Literal["text", "json"]:
    if fmt not in ("text", "json"):
        raise ConfigError(f"--format must be text or json, got {fmt!r}")
    return fmt  # type: ignore[return-value]


def _list(value: Optional[str]) -> Optional[list[str]]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
def clone(
    source: Annotated[str, typer.Argument(help="Source database URL, e.g. sqlite:///prod.db or postgresql://host/db.")],
    target: Annotated[str, typer.Argument(help="Target database URL (created/filled; never the source).")],
    scale: ScaleOpt = 1.0,
    seed: SeedOpt = None,
    if_exists: IfExistsOpt = "fail",
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to clone (default: all).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    fit_rows: FitRowsOpt = FIT_ROWS,
    fmt: FormatOpt = "text",
) -> None:
    """Learn SOURCE and write a synthetic copy into TARGET with every key and constraint enforced."""
    fmt = _check_format(fmt)
    result = relsynth.clone(source, target, scale=scale, seed=seed, if_exists=if_exists,  # type: ignore[arg-type]
                            include=_list(include), exclude=_list(exclude), fit_rows=fit_rows)
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
    verdict = "all keys and constraints hold" if result.violations == 0 else "VIOLATIONS FOUND"
    out.print(f"integrity: {result.violations} violations in the target ({verdict})")
    s = result.seconds
    out.print(f"time: read {s['read']:.2f}s, fit {s['fit']:.2f}s, sample {s['sample']:.2f}s, "
              f"write {s['write']:.2f}s, verify {s['verify']:.2f}s")
    for note in result.notes:
        err.print(f"note: {note}")
    if result.violations:
        raise typer.Exit(1)


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
    }


@app.command()
def inspect(
    source: Annotated[str, typer.Argument(help="Database URL to inspect.")],
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to include.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    fmt: FormatOpt = "text",
    integrity: Annotated[bool, typer.Option(
        "--integrity/--no-integrity",
        help="Count, per foreign key, source rows that point at no parent row (read-only queries).")] = True,
) -> None:
    """Show tables, row counts, keys, the parent-first generation order, cycles and broken FKs."""
    fmt = _check_format(fmt)
    info = relsynth.inspect(source, include=_list(include), exclude=_list(exclude), integrity=integrity)
    if fmt == "json":
        out.print_json(json.dumps(info.to_dict()))
        return
    table = RichTable(title=f"{relsynth.api.mask_url(source)} ({info.schema.dialect})")
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
    real: Annotated[str, typer.Argument(help="URL of the real database.")],
    synthetic: Annotated[str, typer.Argument(help="URL of the synthetic database (same tables).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output",
                                                   help="Write the report here: .html (page with plots) or .json.")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="TABLE.COLUMN for a machine-learning efficacy check.")] = None,
    detection: Annotated[bool, typer.Option("--detection/--no-detection",
                                            help="Train classifiers to tell real rows from synthetic ones.")] = True,
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to compare (default: all).")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the classifiers and row samples.")] = 0,
    fmt: FormatOpt = "text",
) -> None:
    """Compare SYNTHETIC with REAL: integrity, column shapes, pair trends, cardinality, detection."""
    fmt = _check_format(fmt)
    schema = None
    if include or exclude:
        schema = relsynth.inspect(real, include=_list(include), exclude=_list(exclude), integrity=False).schema
    result = relsynth.evaluate(real, synthetic, schema=schema, target=target, detection=detection, seed=seed)
    if output is not None:
        result.save(output)
    if fmt == "json":
        if output is None or output.suffix.lower() != ".json":
            out.print_json(result.to_json(indent=None))
        return
    _print_report(result)
    if output is not None:
        out.print(f"report written to {output}")


def _print_report(result: relsynth.Report) -> None:
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
    for note in result.notes:
        err.print(f"note: {note}", markup=False, highlight=False)


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
    source: Annotated[str, typer.Argument(help="Source database URL.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write.")] = Path("model.rsm"),
    include: Annotated[Optional[str], typer.Option(help="Comma-separated tables to include.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated tables to leave out.")] = None,
    fit_rows: FitRowsOpt = FIT_ROWS,
) -> None:
    """Learn SOURCE and save the model (JSON + numpy arrays; no pickle)."""
    model = relsynth.fit(source, include=_list(include), exclude=_list(exclude), fit_rows=fit_rows)
    model.save(output)
    out.print(f"model of {len(model.tables)} tables saved to {output}")
    for note in model.notes:
        err.print(f"note: {note}")


@app.command()
def sample(
    model_path: Annotated[Path, typer.Argument(help="Model file written by `relsynth fit`.")],
    to: Annotated[str, typer.Option("--to", help="Target database URL.")],
    scale: ScaleOpt = 1.0,
    seed: SeedOpt = None,
    if_exists: IfExistsOpt = "fail",
) -> None:
    """Sample a synthetic database from a saved model and write it to --to."""
    model = relsynth.load(model_path)
    tables = model.sample(scale=scale, seed=seed)
    counts = relsynth.write(tables, to, model.schema, if_exists=if_exists)  # type: ignore[arg-type]
    out.print(f"wrote {sum(counts.values()):,} rows in {len(counts)} tables to {relsynth.api.mask_url(to)}")


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
    except RelsynthError as exc:
        _fail(str(exc), 2 if isinstance(exc, ConfigError) else 1)
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


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)
