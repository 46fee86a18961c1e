"""One run, everything recorded: value and folds, metrics, parameters, the environment that
made it (so it can be trusted and reproduced), its kept model, per-iteration curves and
feature importances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Header, Static

from pipelines.inert import inert
from screens.focus import RestoresFocus
from screens.formatting import duration_text, number, run_status_text, value_text
from screens.loaded import RunLoaded
from screens.routing import ForwardsWorkerFailures
from screens.widgets.charts import bar_list, whole_ticks
from screens.widgets.colours import legend, run_colour
from screens.widgets.footer import KeysFooter

if TYPE_CHECKING:
    from pipelines.runs.details import Curves
    from storage.handle import Workspace
    from storage.records import RunRecord, SweepRecord

MAX_IMPORTANCES = 15


def environment_lines(environment: dict[str, Any]) -> list[str]:
    """Interpreter, platform, libraries, git state and GPUs, one fact per line."""
    if not environment:
        return ["  not recorded"]
    lines = [
        f"  python {environment.get('python', '?')} ({environment.get('implementation', '?')})",
        f"  platform {environment.get('platform', '?')} · {environment.get('machine', '?')}"
        f" · host {environment.get('host', '?')}",
    ]
    libraries = environment.get("libraries") or {}
    if libraries:
        lines.append("  " + ", ".join(f"{name} {v}" for name, v in libraries.items()))
    git = environment.get("git") or {}
    if git.get("commit"):
        dirty = " (dirty: uncommitted changes)" if git.get("dirty") else " (clean)"
        lines.append(f"  git {git['commit'][:12]}{dirty}")
    else:
        lines.append(f"  git: {git.get('note') or 'no commit recorded'}")
    gpu = environment.get("gpu") or {}
    gpus = gpu.get("gpus") or []
    lines.append(f"  gpu: {', '.join(gpus)}" if gpus else f"  gpu: {gpu.get('note') or 'none'}")
    return [escape(line) for line in lines]


def metric_groups(curves: Curves, first: str = "") -> dict[str, Curves]:
    """Curves by metric, ``first`` (the sweep's) first: train_auc and valid_auc share a plot,
    auc and logloss do not."""
    groups: dict[str, Curves] = {}
    for key, points in curves.items():
        metric = key.removeprefix("train_").removeprefix("valid_")
        groups.setdefault(metric, {})[key] = points
    return dict(sorted(groups.items(), key=lambda item: item[0] != first))


class RunDetailScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """Facts on the left; curves and feature importances on the right."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="run_detail.back"),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="run_detail.refresh"),
        Binding(
            "left_square_bracket",
            "cycle(-1)",
            "Previous metric",
            key_display="[",
            show=False,
            id="run_detail.previous",
        ),
        Binding(
            "right_square_bracket",
            "cycle(1)",
            "Next metric",
            key_display="]",
            show=False,
            id="run_detail.next",
        ),
    ]

    def __init__(self, ws: Workspace, run_id: int) -> None:
        super().__init__()
        self.workspace = ws
        self.run_id = run_id
        self.run: RunRecord | None = None
        self.sweep: SweepRecord | None = None
        self.curves: Curves = {}
        self.metric_index = 0

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # plotext loads when a run is opened

        yield Header()
        yield Static(f"loading run {self.run_id} …", id="run-header")
        with Horizontal(id="run-body"):
            with VerticalScroll(id="run-facts-pane", classes="pane"):
                yield Static("", id="run-facts")
            with Vertical(id="run-side", classes="pane"):
                yield PlotextPlot(id="run-curves")
                yield Static("", id="run-curves-note")
                yield Static("", id="run-importances")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"Run {self.run_id}"
        self.query_one("#run-facts-pane").focus()
        self.load()

    @work(
        thread=True,
        exclusive=True,
        group="run-detail",
        exit_on_error=False,
        description="loading run",
    )
    def load(self) -> None:
        from pipelines.runs.details import (
            get_run,
            iteration_curves,
            recorded_importances,
            run_curves,
        )
        from pipelines.sweeps.lifecycle import get_sweep

        run = get_run(self.workspace, self.run_id)
        sweep = get_sweep(self.workspace, run.sweep_id)
        points = run_curves(self.workspace, self.run_id)
        curves = iteration_curves(points)
        importances = recorded_importances(points, most=MAX_IMPORTANCES)
        self.post_message(RunLoaded(run, sweep, curves, importances))

    @on(RunLoaded)
    def run_loaded(self, event: RunLoaded) -> None:
        self.show(event.run, event.sweep, event.curves, event.importances)

    def show(
        self, run: RunRecord, sweep: SweepRecord, curves: Curves, importances: dict[str, float]
    ) -> None:
        self.run = run
        self.title = f"Run {run.id} · trial {run.trial_number} of sweep {sweep.id}"
        value = number(run.value)
        if run.value_std is not None:
            value += f" ± {number(run.value_std)}"
        self.query_one("#run-header", Static).update(
            Text.assemble(
                (f"run {run.id}", "bold"),
                f" · sweep {sweep.id} ({inert(sweep.name)}) · trial {run.trial_number} · ",
                run_status_text(run.status),
                f" · {sweep.metric} {value}",
            )
        )
        self.query_one("#run-facts", Static).update("\n".join(self.fact_lines(run, sweep)))
        self.sweep, self.curves = sweep, curves
        self.draw_curves()
        self.query_one("#run-importances", Static).update(
            "[b]Feature importance[/b]\n" + bar_list(importances)
            if importances
            else "[b]Feature importance[/b]\nnot recorded for this run"
        )

    def fact_lines(self, run: RunRecord, sweep: SweepRecord) -> list[str]:
        finished = f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else "–"
        folds = " · ".join(number(score) for score in run.fold_scores) or "none recorded"
        from pipelines.sweeps.spec import SweepSpec

        keep_top = SweepSpec.from_stored(sweep.spec).keep_top
        artifact = (
            f"kept model: artifact {run.artifact_sha[:16]}…"
            if run.artifact_sha
            else f"no model kept (a sweep refits and keeps its top {keep_top})"
        )
        lines = [
            "[b]Run[/b]",
            f"  status {run.status} · {escape(sweep.metric)} {number(run.value)}"
            + (f" ± {number(run.value_std)}" if run.value_std is not None else ""),
            f"  started {run.started_at:%Y-%m-%d %H:%M:%S} · finished {finished}"
            f" · duration {duration_text(run.duration_s)}",
            f"  seed {run.seed} · worker {escape(run.worker or '–')}",
            f"  dataset {escape(inert(sweep.dataset_ref))} (target {escape(inert(sweep.target))})",
            f"  data sha256 {run.dataset_sha}",
            f"  {escape(artifact)}",
            "",
            f"[b]Fold scores[/b] ({len(run.fold_scores)})",
            f"  {folds}",
            "",
            "[b]Metrics[/b] (mean over folds)",
        ]
        lines += [
            f"  {escape(inert(k))} = {number(v)}" for k, v in sorted(run.metrics.items())
        ] or ["  none recorded"]
        lines += ["", "[b]Parameters[/b]"]
        lines += [f"  {escape(inert(k))} = {escape(value_text(v))}" for k, v in run.params.items()]
        lines += ["", "[b]Environment[/b]", *environment_lines(run.environment)]
        if run.error:
            lines += ["", "[b red]Error[/b red]", f"  {escape(inert(run.error))}"]
        return lines

    def draw_curves(self) -> None:
        """One metric per plot (logloss and roc_auc do not share an axis): its train and
        valid curves together, [ and ] for the next metric, the legend under the plot."""
        from textual_plotext import PlotextPlot

        from pipelines.runs.details import PRUNER_REPORTS

        if self.sweep is None:
            return
        plot = self.query_one("#run-curves", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        note = self.query_one("#run-curves-note", Static)
        groups = metric_groups(self.curves, first=self.sweep.metric)
        plot.display = bool(groups)
        if not groups:
            note.update(f"no per-iteration curves: {self.sweep.model} records none")
            return
        metric = list(groups)[self.metric_index % len(groups)]
        curves = groups[metric]
        pruner = metric == PRUNER_REPORTS
        plt.title(f"reports to the pruner · {self.sweep.model}" if pruner else f"{metric}")
        plt.xlabel("step" if pruner else "iteration")
        entries = []
        for position, (key, points) in enumerate(curves.items()):
            colour = run_colour(position)
            plt.plot([s for s, _ in points], [v for _, v in points], marker="braille", color=colour)
            entries.append((key, colour))
        steps = sorted({step for points in curves.values() for step, _ in points})
        plt.xticks(whole_ticks(steps[0], steps[-1]))
        where = f"[ ] metric {self.metric_index % len(groups) + 1}/{len(groups)}"
        more = where if len(groups) > 1 else ""
        note.update(legend(entries) + Text(more, style="dim"))
        plot.refresh()

    def action_cycle(self, step: int) -> None:
        self.metric_index += step
        self.draw_curves()

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
