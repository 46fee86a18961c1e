"""`workbench sweep`, `runs` and `worker`: thin calls into pipelines/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import cli_output as out
from workbench.cli_data import progress_bar

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import RunRecord, SweepRecord


def add_parsers(commands: Any) -> None:
    sweep = commands.add_parser("sweep", help="Optuna sweeps").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    start = sweep.add_parser("start", help="create a sweep from a TOML file and run it")
    start.add_argument("file", type=Path)
    start.add_argument("--workers", type=int, help="local worker processes (default: the file's)")
    start.add_argument("--wait", action="store_true", help="follow it to the end")
    start.add_argument("--json", action="store_true")
    sweep.add_parser("ls", help="list sweeps").add_argument("--json", action="store_true")
    show = sweep.add_parser("show", help="status, trial counts, best value and parameters")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    sweep.add_parser("stop", help="finish running trials, then stop").add_argument("id", type=int)
    resume = sweep.add_parser("resume", help="fail dead workers' trials and continue")
    resume.add_argument("id", type=int)
    resume.add_argument("--workers", type=int)
    resume.add_argument("--wait", action="store_true")

    runs = commands.add_parser("runs", help="the runs of sweeps").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    ls = runs.add_parser("ls", help="list runs")
    ls.add_argument("--sweep", type=int)
    ls.add_argument("--status", choices=["running", "complete", "pruned", "failed"])
    ls.add_argument("--sort", default="id", help="id, trial, value, status, duration, started")
    ls.add_argument("--desc", action="store_true")
    ls.add_argument("--limit", type=int)
    ls.add_argument("--json", action="store_true")
    show_run = runs.add_parser("show", help="everything recorded about a run")
    show_run.add_argument("id", type=int)
    show_run.add_argument("--json", action="store_true")
    runs.add_parser("reproduce", help="re-execute a run and compare").add_argument("id", type=int)
    export = runs.add_parser("export", help="every run (or one sweep's) as CSV or JSON")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: stdout")
    export.add_argument("--sweep", type=int, metavar="ID")
    insight = runs.add_parser(
        "insight", help="held-out confusion matrix or residuals, and feature importances"
    )
    insight.add_argument("id", type=int)
    insight.add_argument(
        "--permutation",
        action="store_true",
        help="also permutation importance on held-out rows (refits once; then cached)",
    )
    insight.add_argument("--json", action="store_true")

    worker = commands.add_parser("worker", help="work on a sweep in this process")
    worker.add_argument("sweep", type=int)
    worker.add_argument("--trials", type=int, help="at most this many trials from this worker")


def run_sweep_command(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.sweeps import lifecycle as sweeps
    from pipelines.sweeps.spec import SweepSpec

    if args.verb == "start":
        created = sweeps.read_and_create(ws, args.file, {"workers": args.workers})
        sweep = created.sweep
        if args.json and not args.wait:
            out.print_json({"id": sweep.id, "choices": created.choices, "sweep": sweep})
        else:
            print(f"sweep {sweep.id}: {sweep.name}")
            for line in created.choices:
                print(f"  {line}")
        _say_cap(SweepSpec.from_stored(sweep.spec).workers)
        sweeps.start_sweep(ws, sweep.id, standby=getattr(args, "standby", None))
        if not args.wait:
            print(
                f"started in the background: `workbench sweep show {sweep.id}` follows it",
                file=sys.stderr,
            )
            return 0
        return follow(ws, sweep.id, args.json)
    if args.verb == "ls":
        listed = sweeps.list_sweeps(ws)
        out.print_json(listed) if args.json else print_sweeps(listed)
        return 0
    if args.verb == "show":
        sweep = sweeps.get_sweep(ws, args.id)
        if args.json:
            out.print_json(
                {**out.jsonable(sweep), "live_workers": sweeps.live_worker_count(ws, sweep.id)}
            )
        else:
            print_sweep(sweep)
            if sweep.status == "stalled":
                print(sweeps.stalled_hint(ws, sweep))
        return 0
    if args.verb == "stop":
        sweep = sweeps.stop_sweep(ws, args.id)
        running = sweep.counts.get("running", 0)
        why = f" ({running} running trial(s) finish first; no new trial starts)"
        if sweep.status == "finalizing":  # the workers saw the stop at once: the refit is on
            why = " (no new trial starts; the top models are being refit)"
        shown = why if sweep.status in ("stopping", "finalizing") else ""
        print(f"sweep {sweep.id}: {sweep.status}{shown}")
        return 0
    if args.verb == "resume":
        if args.workers:
            _say_cap(args.workers)
        failed, pids = sweeps.resume_sweep(ws, args.id, args.workers)
        print(
            f"sweep {args.id}: {failed} stale trial(s) marked failed; {len(pids)} worker(s) started"
        )
        return follow(ws, args.id, False) if args.wait else 0
    raise AssertionError(args.verb)


def _say_cap(asked: int) -> None:
    from pipelines.sweeps.lifecycle import capped_workers

    _, note = capped_workers(asked)
    if note:
        print(f"  {note}", file=sys.stderr)


def follow(ws: Workspace, sweep_id: int, as_json: bool) -> int:
    """Follow to the end; Ctrl+C stops following, not the sweep, and says how to go on."""
    from pipelines.sweeps import lifecycle as sweeps

    try:
        with progress_bar(f"sweep {sweep_id}") as report:
            sweep = sweeps.wait_for_sweep(ws, sweep_id, report)
    except KeyboardInterrupt:
        print(
            f"workbench: interrupted; sweep {sweep_id} goes on in the background: "
            f"`workbench sweep show {sweep_id}` (or the TUI) follows it, "
            f"`workbench sweep stop {sweep_id}` stops it",
            file=sys.stderr,
        )
        return 130
    out.print_json(sweep) if as_json else print_sweep(sweep)
    if sweep.status == "stalled":
        print(f"workbench: error: {sweeps.stalled_hint(ws, sweep)}", file=sys.stderr)
    return 0 if sweep.status in ("finished", "stopped") else 1


def run_runs_command(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.runs import details

    if args.verb == "ls":
        runs = details.list_runs(
            ws,
            sweep_id=args.sweep,
            status=args.status,
            order_by=args.sort,
            descending=args.desc,
            limit=args.limit,
        )
        out.print_json(runs) if args.json else print_runs(runs)
        return 0
    if args.verb == "show":
        run = details.get_run(ws, args.id)
        curves = details.run_curves(ws, run.id)
        if args.json:
            out.print_json({**out.jsonable(run), "curves": curves})
        else:
            print_run(run, curves)
        return 0
    if args.verb == "reproduce":
        result = details.reproduce_run(ws, args.id)
        print(
            f"run {args.id}: recorded {result.run.value:.6g}, reproduced {result.value:.6g}, "
            f"difference {result.difference:+.3g}"
        )
        return 0
    if args.verb == "insight":
        return run_insight(ws, args.id, args.permutation, args.json)
    if args.verb == "export":  # the same as `workbench export runs`
        from workbench.cli_compare import export

        return export(args, ws)
    raise AssertionError(args.verb)


def run_insight(ws: Workspace, run_id: int, permutation: bool, as_json: bool) -> int:
    """What the compare screen's Insight tab shows (the same `gather_insight`), as text or
    JSON. Each part on its own: a run without recorded predictions (older than them, or
    pruned) still shows its importances; --permutation computes (or reads the cached)
    permutation importance, and its failure is the command's error."""
    from pipelines.runs.insight import gather_insight
    from storage.errors import WorkbenchError

    found = gather_insight(ws, run_id, permutation, cached=permutation)
    if permutation and found.permutation_note is not None:
        raise WorkbenchError(found.permutation_note)
    notes = [found.held_out_note] if found.held_out_note else []
    if found.empty:
        raise WorkbenchError(notes[0])
    summary, permuted = found.held_out, found.permutation
    if as_json:
        out.print_json(
            {
                "run": run_id,
                "held_out": summary,
                "importances": found.importances,
                "permutation": permuted,
                "notes": notes,
            }
        )
        return 0
    console = out.console()
    if summary is None:
        console.print(f"[bold]run {run_id}[/] · {out.shown(notes[0])}", highlight=False)
    else:
        console.print(
            f"[bold]run {run_id}[/] · {summary.task} · {summary.rows} held-out rows "
            f"from {summary.folds} fold{'s' if summary.folds != 1 else ''}"
        )
    if summary is not None and summary.confusion is not None:
        _print_confusion(summary.confusion)
    if summary is not None and summary.residuals is not None:
        _print_residuals(summary.residuals)
    _print_importances("model's own importances", found.importances)
    if permuted is not None:
        title = (
            f"permutation importance: drop in {permuted.scorer} on {permuted.rows} held-out "
            f"rows, {permuted.repeats} repeats (baseline {permuted.baseline:.4g}"
            f"{', cached' if permuted.cached else ''})"
        )
        _print_importances(title, permuted.mean, permuted.std)
    return 0


def _print_confusion(c: Any) -> None:
    from rich.table import Table

    out.console().print(
        f"confusion matrix (rows true, columns predicted) · accuracy {c.accuracy:.4g}"
    )
    table = Table()
    table.add_column("true / predicted")
    for label in c.labels:
        table.add_column(out.shown(label), justify="right")
    table.add_column("recall", justify="right")
    for label, row, recall in zip(c.labels, c.matrix, c.recall, strict=True):
        table.add_row(out.shown(label), *(str(n) for n in row), f"{recall:.3f}")
    table.add_row("precision", *(f"{p:.3f}" for p in c.precision), "")
    out.console().print(table)


def _print_residuals(r: Any) -> None:
    from rich.table import Table

    console = out.console()
    console.print(
        f"residuals (true − predicted): n {r.count} · mean {r.mean:.4g} · std {r.std:.4g} · "
        f"MAE {r.mae:.4g} · RMSE {r.rmse:.4g}"
    )
    console.print("quantiles: " + ", ".join(f"{k} {v:.4g}" for k, v in r.quantiles.items()))
    console.print("largest absolute residuals:")
    table = Table()
    for column in ("row", "true", "predicted", "residual"):
        table.add_column(column, justify="right")
    for big in r.largest:
        table.add_row(
            str(big.row), f"{big.true:.4g}", f"{big.predicted:.4g}", f"{big.residual:+.4g}"
        )
    console.print(table)


def _print_importances(
    title: str, values: dict[str, float], spread: dict[str, float] | None = None
) -> None:
    from rich.table import Table

    if not values:
        out.console().print(f"{title}: none recorded")
        return
    out.console().print(f"{title}:")
    table = Table()
    table.add_column("column")
    table.add_column("importance", justify="right")
    if spread is not None:
        table.add_column("± std", justify="right")
    for name, value in values.items():
        cells = [out.shown(name), f"{value:.4g}"]
        if spread is not None:
            cells.append(f"{spread.get(name, 0.0):.2g}")
        table.add_row(*cells)
    out.console().print(table)


def run_worker_command(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.sweeps.worker import run_worker

    run_worker(ws, args.sweep, args.trials)
    return 0


def print_sweeps(sweeps: list[SweepRecord]) -> None:
    from rich.table import Table

    if not sweeps:
        out.console().print("no sweeps yet: start one with `workbench sweep start FILE`")
        return
    table = Table(title="sweeps", title_justify="left")
    for column in (
        "id",
        "name",
        "dataset",
        "model",
        "metric",
        "status",
        "done",
        "pruned",
        "failed",
        "best",
    ):
        table.add_column(column)
    for s in sweeps:
        table.add_row(
            str(s.id),
            out.shown(s.name),
            s.dataset_ref,
            s.model,
            s.metric,
            s.status,
            f"{s.counts.get('complete', 0)}/{s.trials_requested or '∞'}",
            str(s.counts.get("pruned", 0)),
            str(s.counts.get("failed", 0)),
            "-" if s.best_value is None else f"{s.best_value:.4g}",
        )
    out.console().print(table)


def print_sweep(s: SweepRecord) -> None:
    console = out.console()
    console.print(f"[bold]sweep {s.id}[/] {out.shown(s.name)} · {s.status}")
    console.print(
        f"{s.dataset_ref} → {out.shown(s.target)} · {s.task} · {s.model} · {s.metric} "
        f"({s.direction})"
    )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(s.counts.items())) or "no trials yet"
    console.print(f"trials: {counts} of {s.trials_requested or 'unlimited'}")
    if s.best_value is not None:
        console.print(f"best {s.metric}: {s.best_value:.6g} (run {s.best_run_id}) {s.best_params}")
    if s.error:
        console.print(f"[red]error: {out.shown(s.error)}[/]")


def print_runs(runs: list[RunRecord]) -> None:
    from rich.table import Table

    table = Table(title=f"{len(runs)} runs", title_justify="left")
    for column in ("run", "sweep", "trial", "status", "value", "± std", "duration", "params"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            str(r.id),
            str(r.sweep_id),
            str(r.trial_number),
            r.status,
            "-" if r.value is None else f"{r.value:.4g}",
            "-" if r.value_std is None else f"{r.value_std:.3g}",
            "-" if r.duration_s is None else f"{r.duration_s:.2f}s",
            ", ".join(f"{k}={_short(v)}" for k, v in r.params.items()),
        )
    out.console().print(table)


def print_run(r: RunRecord, curves: dict[str, list[tuple[int, float]]]) -> None:
    console = out.console()
    console.print(f"[bold]run {r.id}[/] sweep {r.sweep_id} trial {r.trial_number} · {r.status}")
    if r.value is not None:
        console.print(
            f"value {r.value:.6g} ± {r.value_std or 0:.3g}; folds "
            + ", ".join(f"{s:.4g}" for s in r.fold_scores)
        )
    console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in r.metrics.items()))
    console.print("params: " + ", ".join(f"{k}={_short(v)}" for k, v in r.params.items()))
    console.print(
        f"seed {r.seed} · data {r.dataset_sha[:12]} · worker {r.worker} · "
        f"model {'kept ' + r.artifact_sha[:12] if r.artifact_sha else 'not kept'}"
    )
    git = r.environment.get("git", {})
    console.print(
        f"python {r.environment.get('python')} · git {git.get('commit') or '-'}"
        f"{' (dirty)' if git.get('dirty') else ''} · {r.environment.get('platform')}"
    )
    for key, points in curves.items():
        console.print(f"curve {key}: {len(points)} points")
    if r.error:
        console.print(f"[red]error: {out.shown(r.error)}[/]")


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
