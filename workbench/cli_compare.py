"""`workbench compare`, `workbench export runs` and `workbench report`: thin calls into
pipelines/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.handle import Workspace
from workbench import cli_output as out

if TYPE_CHECKING:
    from pipelines.runs.compare import Comparison

SECTION_TITLES = {"metric": "metrics", "param": "params", "lineage": "lineage"}


def add_parsers(commands: Any) -> None:
    compare = commands.add_parser("compare", help="runs side by side: metrics, params, lineage")
    compare.add_argument("runs", type=int, nargs="+", metavar="RUN")
    compare.add_argument("--baseline", type=int, metavar="RUN", help="default: the first run")
    compare.add_argument("--diff-only", action="store_true", help="only rows that differ")
    compare.add_argument("--json", action="store_true")

    export = commands.add_parser("export", help="export records as files").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    runs = export.add_parser("runs", help="every run (or one sweep's) as CSV or JSON")
    runs.add_argument("--format", choices=["csv", "json"], default="csv")
    runs.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    runs.add_argument("--sweep", type=int, metavar="ID")

    report = commands.add_parser(
        "report", help="reports as files (Markdown or HTML)"
    ).add_subparsers(dest="verb", metavar="VERB", required=True)
    report_runs = report.add_parser("runs", help="runs compared, with their lineage")
    report_runs.add_argument("runs", type=int, nargs="+", metavar="RUN")
    report_runs.add_argument("--baseline", type=int, metavar="RUN", help="default: the first run")
    report_sweep = report.add_parser("sweep", help="a sweep: summary, history, top runs")
    report_sweep.add_argument("sweep", type=int, metavar="SWEEP")
    for sub in (report_runs, report_sweep):
        sub.add_argument(
            "--format",
            default="md",
            metavar="{md,html}",
            help="Markdown or HTML (one self-contained page with plots); default: md",
        )
        sub.add_argument(
            "-o", "--output", type=Path, metavar="FILE", help="default: <workspace>/reports/"
        )


def run_compare_command(args: argparse.Namespace, root: Path) -> int:
    """Dispatch `compare`, `export` and `report` with the workspace open."""
    from storage.handle import open_workspace

    if args.command == "report":
        from pipelines.reports.writing import check_format

        check_format(args.format)  # before opening anything
    ws = open_workspace(root, database_url=args.database_url)
    try:
        if args.command == "compare":
            return compare(args, ws)
        if args.command == "report":
            return report(args, ws)
        return export(args, ws)
    finally:
        ws.close()


def compare(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.runs.compare import compare_runs

    comparison = compare_runs(ws, args.runs, args.baseline)
    if args.diff_only:
        comparison = comparison.only_differences()
    out.print_json(comparison) if args.json else print_comparison(comparison)
    return 0


def export(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.runs.export import render_runs, write_atomically

    text, count = render_runs(ws, args.format, args.sweep)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    path = write_atomically(args.output, text)
    print(f"wrote {count} runs to {path}", file=sys.stderr)
    return 0


def report(args: argparse.Namespace, ws: Workspace) -> int:
    """Assemble the report, render it, write it atomically and say where."""
    from pipelines.reports import writing as reports

    if args.verb == "sweep":
        path = reports.write_sweep_report(ws, args.sweep, args.format, args.output)
    else:
        path = reports.write_runs_report(ws, args.runs, args.format, args.baseline, args.output)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def print_comparison(comparison: Comparison) -> None:
    """Runs as columns; differing rows in bold yellow; metric cells carry their delta
    against the baseline and a ★ on the best run."""
    from rich.table import Table

    runs = comparison.runs
    table = Table(title=f"{len(runs)} runs compared", title_justify="left")
    table.add_column("")
    for index, run in enumerate(runs):
        mark = " · baseline" if index == comparison.baseline else ""
        table.add_column(f"run {run.id} (trial {run.trial_number}){mark}", justify="right")
    section = None
    for row in comparison.rows:
        if row.section != section:
            if section is not None:
                table.add_section()
            table.add_row(
                f"[dim]{SECTION_TITLES.get(row.section, row.section)}[/]", *[""] * len(runs)
            )
            section = row.section
        values = [_commit(v) for v in row.values] if row.name == "git commit" else row.values
        cells = [
            _cell(value, row.deltas[i], i == comparison.baseline, row.is_best(i))
            for i, value in enumerate(values)
        ]
        table.add_row(out.shown(row.name), *cells, style="bold yellow" if row.differs else None)
    if not comparison.rows:
        table.add_row("[dim]no differences[/]", *[""] * len(runs))
    out.console().print(table)


def _commit(value: object) -> object:
    """A commit cut to 12 characters (keeping " (dirty)"), so lineage fits one line."""
    if not isinstance(value, str):
        return value
    commit, _, rest = value.partition(" ")
    return f"{commit[:12]} {rest}".strip()


def _cell(value: object, delta: float | None, baseline: bool, best: bool) -> str:
    text = out.shown(_short(value))
    if delta is not None and not baseline:
        text += f" ({delta:+.3g})"
    return f"{text} ★" if best else text


def _short(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
