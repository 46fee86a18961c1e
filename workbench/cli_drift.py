"""`workbench drift REFERENCE CURRENT`: per-column drift with Evidently's default rules
(pipelines/drift), as a table or JSON, exiting 1 when the dataset drifts so it scripts in CI;
`--report FILE` also has Evidently write its full report (a child process).

Each side is a file or a dataset version (`name@D1`); `--deployment NAME --last N` makes the
current side that deployment's last N answered rows, and the reference, when not given, its
model's training data. Errors exit 2, so a script can tell a drift from a failure."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError
from workbench import cli_output as out

if TYPE_CHECKING:
    from pipelines.datasets.frames import NamedTable
    from pipelines.drift import DatasetDrift, DriftOptions
    from storage.handle import Workspace

DRIFT_EXIT, ERROR_EXIT = 1, 2
DEFAULT_LAST = 1000


def add_parsers(commands: Any) -> None:
    drift = commands.add_parser(
        "drift",
        help="per-column drift between two tables (exit 1 when the dataset drifts)",
        description="Each side is a file (CSV, TSV, Parquet, JSON lines) or a dataset version "
        "(NAME or NAME@Dn). With --deployment, the current side is that deployment's recent "
        "traffic and the reference defaults to its model's training data.",
    )
    drift.add_argument("sides", nargs="*", metavar="SIDE", help="REFERENCE [CURRENT]")
    drift.add_argument("--deployment", metavar="NAME", help="compare this deployment's traffic")
    drift.add_argument(
        "--last", type=int, default=DEFAULT_LAST, metavar="N",
        help=f"with --deployment: its last N rows (default {DEFAULT_LAST})",
    )  # fmt: skip
    drift.add_argument("--columns", metavar="A,B", help="only these columns")
    drift.add_argument("--categorical", metavar="A,B", help="treat these columns as categories")
    drift.add_argument("--numerical", metavar="A,B", help="treat these columns as numbers")
    drift.add_argument("--method", help="one test for every column (e.g. ks, psi, wasserstein)")
    drift.add_argument("--threshold", type=float, help="one threshold for every column")
    drift.add_argument(
        "--column-method", action="append", default=[], metavar="COLUMN=METHOD",
        help="a column's own test (repeatable)",
    )  # fmt: skip
    drift.add_argument(
        "--column-threshold", action="append", default=[], metavar="COLUMN=X",
        help="a column's own threshold (repeatable)",
    )  # fmt: skip
    drift.add_argument(
        "--drift-share", type=float, default=0.5, metavar="S",
        help="the dataset drifts when this share of columns drift (default 0.5)",
    )  # fmt: skip
    drift.add_argument(
        "--report", type=Path, metavar="FILE", help="Evidently's report: .html or .json"
    )
    drift.add_argument("--json", action="store_true")


def run_drift_command(args: argparse.Namespace, root: Path) -> int:
    workspace: list[Workspace] = []

    def open_ws() -> Workspace:
        from storage.handle import open_workspace

        if not workspace:
            workspace.append(open_workspace(root, database_url=args.database_url))
        return workspace[0]

    try:
        return _run(args, open_ws)
    except WorkbenchError as exc:
        from pipelines.inert import inert

        print(f"workbench drift: error: {inert(str(exc))}", file=sys.stderr)
        return ERROR_EXIT
    finally:
        if workspace:
            workspace[0].close()


def _run(args: argparse.Namespace, open_ws: Any) -> int:
    from pipelines.drift import PreparedReference

    if args.report is not None:
        from pipelines.reports.drift_report import report_format

        report_format(args.report)  # refused before seconds of work, not after
    reference, current = _sides(args, open_ws)
    options = options_from(args, reference, current)
    prepared = PreparedReference.prepare(reference.frame, options)
    result = prepared.compare(current.frame)
    if args.json:
        out.print_json({"reference": reference.label, "current": current.label, **result.to_dict()})
    else:
        print_drift(reference.label, current.label, result)
    if args.report is not None:
        _report(args.report, reference, current, result, options)
    return DRIFT_EXIT if result.drifted else 0


def _sides(args: argparse.Namespace, open_ws: Any) -> tuple[NamedTable, NamedTable]:
    from pipelines.datasets.frames import load_table

    if args.deployment is None:
        if len(args.sides) != 2:
            raise WorkbenchError("name two sides, REFERENCE and CURRENT (or use --deployment)")
        return load_table(args.sides[0], open_ws), load_table(args.sides[1], open_ws)
    from pipelines.watch.reference import deployment_facts, deployment_reference, recent_traffic

    if len(args.sides) > 1:
        raise WorkbenchError("with --deployment, name at most the REFERENCE side")
    ws = open_ws()
    facts = deployment_facts(ws, args.deployment)
    current = recent_traffic(facts, args.last)
    if args.sides:
        return load_table(args.sides[0], open_ws), current
    return deployment_reference(ws, facts), current


def options_from(
    args: argparse.Namespace, reference: NamedTable, current: NamedTable
) -> DriftOptions:
    """The options the flags ask for; columns default to those both sides have (a target
    column only the reference has is left out, not reported missing)."""
    from pipelines.drift import ColumnRule, DriftOptions

    shared = [c for c in reference.frame.columns if c in set(current.frame.columns)]
    if args.columns:
        columns = _names(args.columns)
    else:
        columns = [str(c) for c in shared]
        if not columns:
            raise WorkbenchError(f"{reference.label} and {current.label} share no column")
    methods = _pairs(args.column_method, "--column-method", str)
    thresholds = _pairs(args.column_threshold, "--column-threshold", float)
    rules = {
        c: ColumnRule(method=methods.get(c), threshold=thresholds.get(c))
        for c in {*methods, *thresholds}
    }
    options = DriftOptions(
        drift_share=args.drift_share,
        columns=tuple(columns),
        categorical=tuple(_names(args.categorical)),
        numerical=tuple(_names(args.numerical)),
        rules=rules,
        method=args.method,
        threshold=args.threshold,
    )
    options.check()
    return options


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _pairs(items: list[str], flag: str, kind: type) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    for item in items:
        column, sep, value = item.rpartition("=")
        if not sep or not column:
            raise WorkbenchError(f"{flag} {item!r}: write COLUMN=VALUE")
        try:
            pairs[column] = kind(value)
        except ValueError:
            raise WorkbenchError(f"{flag} {item!r}: {value!r} is not a number") from None
    return pairs


def print_drift(reference: str, current: str, result: DatasetDrift) -> None:
    from rich.table import Table

    table = Table(title=out.shown(f"Drift of {current} against {reference}"), title_justify="left")
    for name in ("column", "kind", "method", "score", "threshold", "drifted"):
        table.add_column(name, justify="right" if name in ("score", "threshold") else "left")
    for column in result.columns:
        score = "–" if column.score is None else f"{column.score:.4g}"
        verdict = "[red]yes[/]" if column.drifted else ("no" if column.tested else "–")
        method = column.method_label if column.tested else f"{column.method_label} ({column.note})"
        table.add_row(
            out.shown(column.column), column.kind, out.shown(method), score,
            f"{column.threshold:g}", verdict,
        )  # fmt: skip
    console = out.console()
    console.print(table)
    verdict = "[red]drifts[/]" if result.drifted else "does not drift"
    console.print(
        f"{result.drifted_count} of {result.tested_count} columns drifted "
        f"(share {result.share:.2f}, threshold {result.threshold:g}): the dataset {verdict} "
        f"· reference {result.reference_rows} rows, current {result.current_rows} rows"
    )


def _report(
    path: Path, reference: NamedTable, current: NamedTable, result: DatasetDrift, options: Any
) -> None:
    from pipelines.reports.drift_report import export_drift_report, spec_for

    kinds = {c.column: c.kind for c in result.columns if c.tested}
    err = out.console(stderr=True)
    with err.status("Evidently is writing its report (it takes a few seconds)…"):
        export_drift_report(reference.frame, current.frame, path, spec_for(kinds, options))
    err.print(f"wrote {out.shown(str(path))}")
