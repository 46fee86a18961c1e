"""One sweep, live: its trials as they finish, the best value so far as a terminal plot, the
best parameters and which parameters matter (PED-ANOVA). The App's live layer sends the
sweep and its new or changed trials while this screen shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import Worker

from pipelines.inert import inert
from screens.focus import RestoresFocus
from screens.formatting import (
    duration_text,
    number,
    run_status_text,
    sweep_status_text,
    value_text,
)
from screens.live_messages import SweepProgressed, TrialsUpdated, WatchesLive
from screens.loaded import ImportancesLoaded
from screens.messages import ChangeSweepState, CompareRuns, InBackground, OpenRun, OpenRuns
from screens.routing import ForwardsWorkerFailures
from screens.sweep_state import elapsed_s, progress_text
from screens.widgets.charts import bar_list, whole_ticks
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import TableRow, append_row, fill_table, update_row

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import RunSummary, SweepRecord

MAX_TRIAL_ROWS = 500  # a DataTable holds its rows: the runs screen pages through them all
MIN_TRIALS_FOR_IMPORTANCE = 4  # as pipelines.runs.tables.param_importances needs them
TRIAL_COLOUR = (128, 128, 128)
BEST_COLOUR = (23, 190, 207)


def step_line(best: list[tuple[int, float]]) -> list[tuple[float, float]]:
    """Best-so-far as a staircase: the value holds until a later trial improves on it."""
    steps: list[tuple[float, float]] = []
    for trial, value in best:
        if steps and value != steps[-1][1]:
            steps.append((trial, steps[-1][1]))
        steps.append((trial, value))
    return steps


class SweepDetailScreen(RestoresFocus, WatchesLive, ForwardsWorkerFailures, Screen[None]):
    """Trials on the left; plot, best parameters and importances on the right."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="sweep_detail.back"),
        Binding("enter", "open_run", "Open run", id="sweep_detail.run", show=False),
        Binding("x", "stop", "Stop", id="sweep_detail.stop"),
        Binding("u", "resume", "Resume", id="sweep_detail.resume"),
        Binding("o", "open_runs", "Runs of sweep", id="sweep_detail.runs"),
        Binding("space", "toggle_selected", "Select", id="sweep_detail.select"),
        Binding("c", "compare", "Compare", id="sweep_detail.compare"),
        Binding("M", "register", "Register model", id="sweep_detail.register", show=False),
        Binding("e", "report", "Report", id="sweep_detail.report"),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="sweep_detail.refresh"),
    ]

    def __init__(self, ws: Workspace, sweep_id: int) -> None:
        super().__init__()
        self.workspace = ws
        self.sweep_id = sweep_id
        self.sweep: SweepRecord | None = None
        self.runs: list[RunSummary] = []  # in trial order
        self.importances: dict[str, float] = {}
        self._rendered: dict[int, tuple[object, ...]] = {}
        self._param_columns: list[str] = []
        self._by_id: dict[int, RunSummary] = {}
        self._trials_in = False  # the first TrialsUpdated came
        self._importance_for = -1  # complete-trial count the importances were computed on
        self._importances_running = False
        self.selected_run_ids: set[int] = set()

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # plotext loads when a sweep is opened

        yield Header()
        yield Static("loading sweep …", id="sweep-summary")
        with Horizontal(id="sweep-body"):
            with Vertical(id="trials-pane", classes="pane"):
                yield Static("Trials", classes="pane-title", id="trials-title")
                yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="sweep-side", classes="pane"):
                yield PlotextPlot(id="best-plot")
                yield Static("", id="best-params")
                yield Static("", id="importances")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"Sweep {self.sweep_id}"
        self.query_one("#trials-table").focus()
        self.draw_plot()

    # --- data in: the App's live layer sends the sweep and its trials, then changes ----

    def live_key(self) -> int:
        return self.sweep_id

    @on(SweepProgressed)
    def sweep_progressed(self, event: SweepProgressed) -> None:
        before, self.sweep = self.sweep, event.sweep
        sweep = event.sweep
        self.title = inert(f"Sweep {sweep.id} · {sweep.name}")
        self.show_summary(event.remaining_s)
        self.show_best()
        if self._trials_in and (before is None or before.best_run_id != sweep.best_run_id):
            self.show_trials()  # the ★ moved
        complete = sweep.counts.get("complete", 0)
        if complete != self._importance_for and not self._importances_running:
            self._importance_for = complete
            self._importances_running = True
            self.load_importances(sweep)

    @on(TrialsUpdated)
    def trials_updated(self, event: TrialsUpdated) -> None:
        """New and changed runs replace what was known of them; `complete`: all of them."""
        if event.complete:
            self._by_id = {}
        self._by_id.update((run.id, run) for run in event.runs)
        self.runs = sorted(self._by_id.values(), key=lambda r: (r.trial_number, r.id))
        self._trials_in = True
        if self.sweep is None:  # its SweepProgressed comes first; never without one
            return
        self.show_trials()
        self.draw_plot(*self.best_curve())
        self.show_best()

    def best_curve(self) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Complete trials as (trial, value), and the best so far through the last trial."""
        from pipelines.runs.tables import best_so_far

        assert self.sweep is not None
        runs = self.runs
        points = [
            (r.trial_number, r.value)
            for r in runs
            if r.status == "complete" and r.value is not None
        ]
        best = best_so_far(points, self.sweep.direction)
        last = max((r.trial_number for r in runs if r.status != "running"), default=None)
        if best and last is not None and last > best[-1][0]:
            best.append((last, best[-1][1]))  # the best holds through later pruned/failed trials
        return points, best

    @work(
        thread=True,
        exclusive=True,
        group="sweep-importances",
        exit_on_error=False,
        description="computing parameter importances",
    )
    def load_importances(self, sweep: SweepRecord) -> None:
        from pipelines.runs.tables import param_importances

        importances = param_importances(self.workspace, sweep)
        self.post_message(ImportancesLoaded(importances, sweep.counts.get("complete", 0)))

    @on(Worker.StateChanged)
    def importances_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "sweep-importances" and event.worker.is_finished:
            self._importances_running = False

    @on(ImportancesLoaded)
    def importances_loaded(self, event: ImportancesLoaded) -> None:
        self.show_importances(event.importances, event.complete)

    # --- display ---------------------------------------------------------------------

    def show_summary(self, remaining: float | None) -> None:
        sweep = self.sweep
        assert sweep is not None
        arrow = "higher is better" if sweep.direction == "maximize" else "lower is better"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(sweep.counts.items())) or "no trials yet"
        text = Text.assemble(
            (inert(sweep.name), "bold"),
            " · ",
            sweep_status_text(sweep.status),
            f" · {inert(sweep.dataset_ref)} → {inert(sweep.target)} ({sweep.task}) · {sweep.model}"
            f" · {sweep.metric} ({arrow})\n",
            f"{progress_text(sweep, 20)} · {counts} · elapsed {duration_text(elapsed_s(sweep))}",
            f" · about {duration_text(remaining)} left" if remaining is not None else "",
            f"\nerror: {sweep.error}" if sweep.error else "",
        )
        self.query_one("#sweep-summary", Static).update(text)

    def param_columns(self) -> list[str]:
        """Searched parameters (fixed ones say nothing about a trial), in search-space order."""
        assert self.sweep is not None
        from pipelines.sweeps.spec import searched_space

        names = list(searched_space(self.sweep.spec))
        return names or sorted({name for run in self.runs for name in run.params})

    def show_trials(self) -> None:
        """New trials are appended and changed ones updated in place, so the cursor stays;
        every change is measured again (running → complete is not cut to 'complet')."""
        assert self.sweep is not None
        table = self.query_one("#trials-table", DataTable)
        params = self.param_columns()
        keys = ["trial", "status", "value", "duration", *(f"p:{n}" for n in params)]
        labels = ["trial", "status", "value", "duration", *params]
        fresh = params != self._param_columns
        if fresh:
            self._rendered.clear()
            self._param_columns = params
        shown = self.runs[-MAX_TRIAL_ROWS:]
        added: list[TableRow] = []
        for run in shown:
            cells = self.trial_cells(run, params)
            previous = self._rendered.get(run.id)
            if previous is None:
                added.append(TableRow(str(run.id), cells))
            elif previous != cells:
                pairs = zip(keys, previous, cells, strict=True)
                update_row(table, str(run.id), {key: new for key, old, new in pairs if old != new})
            self._rendered[run.id] = cells
        if fresh:
            fill_table(table, list(zip(labels, keys, strict=True)), added)
        else:
            for row in added:
                append_row(table, row)
        shown_ids = {run.id for run in shown}
        hidden = [key for key in self._rendered if key not in shown_ids]
        for key in hidden:  # scrolled out of the window of recent trials
            table.remove_row(str(key))
            del self._rendered[key]
        title = f"Trials ({len(self.runs):,})"
        if len(self.runs) > len(shown):
            title = f"Trials (the last {len(shown):,} of {len(self.runs):,}; o lists them all)"
        self.query_one("#trials-title", Static).update(title)

    def trial_cells(self, run: RunSummary, params: list[str]) -> tuple[object, ...]:
        """One trial's row; ★ on every run that holds the best value (ties included)."""
        assert self.sweep is not None
        tied = run.status == "complete" and run.value is not None
        is_best = run.id == self.sweep.best_run_id or (tied and run.value == self.sweep.best_value)
        mark = "✓ " if run.id in self.selected_run_ids else "  "
        return (
            f"{mark}{run.trial_number}{' ★' if is_best else ''}",
            run_status_text(run.status),
            Text(number(run.value), justify="right"),
            duration_text(run.duration_s),
            *(value_text(run.params.get(name, "–")) for name in params),
        )

    def draw_plot(
        self, points: list[tuple[int, float]] = (), best: list[tuple[int, float]] = ()
    ) -> None:
        """Every complete trial as a point, and the best value so far as a line."""
        from textual_plotext import PlotextPlot

        plot = self.query_one("#best-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        sweep = self.sweep
        # The legend is in the title: plotext's own sits in the corner, over the points.
        plt.title(f"{sweep.metric if sweep else 'value'}: best so far ━, trials ·")
        plt.xlabel("trial")
        if points:
            steps = step_line(best)
            xs, ys = [t for t, _ in points], [v for _, v in points]
            plt.scatter(xs, ys, marker="dot", color=TRIAL_COLOUR)
            line = [t for t, _ in steps], [v for _, v in steps]
            plt.plot(*line, marker="braille", color=BEST_COLOUR)
            plt.xticks(whole_ticks(min(points[0][0], best[0][0]), best[-1][0]))
        plot.refresh()

    def show_best(self) -> None:
        sweep = self.sweep
        assert sweep is not None
        widget = self.query_one("#best-params", Static)
        if sweep.best_run_id is None:
            widget.update("[b]Best[/b]\nno complete trial yet")
            return
        trial = next((r.trial_number for r in self.runs if r.id == sweep.best_run_id), None)
        lines = [
            f"[b]Best {escape(sweep.metric)}[/b] {number(sweep.best_value)}"
            f" · trial {trial} · run {sweep.best_run_id}"
        ]
        lines += [
            f"  {escape(inert(name))} = {escape(value_text(value))}"
            for name, value in sweep.best_params.items()
        ]
        widget.update("\n".join(lines))

    def show_importances(self, importances: dict[str, float], complete: int) -> None:
        self.importances = importances
        widget = self.query_one("#importances", Static)
        if not importances:
            need = MIN_TRIALS_FOR_IMPORTANCE
            why = f"after {need} complete trials" if complete < need else "once parameters vary"
            widget.update(f"[b]Parameter importance[/b]\nshown {why}")
            return
        widget.update(
            f"[b]Parameter importance[/b] (PED-ANOVA, {complete} trials)\n" + bar_list(importances)
        )

    # --- actions ---------------------------------------------------------------------

    @on(DataTable.RowSelected, "#trials-table")
    def action_open_run(self) -> None:
        table = self.query_one("#trials-table", DataTable)
        if not self.runs or table.row_count == 0:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        if row_key.value is not None:
            self.post_message(OpenRun(int(row_key.value)))

    def action_register(self) -> None:
        from screens.register import ask_to_register

        table = self.query_one("#trials-table", DataTable)
        run_id = None
        if self.runs and table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            run_id = int(row_key.value) if row_key.value is not None else None
        dataset = self.sweep.dataset_ref.split("@")[0] if self.sweep else ""
        ask_to_register(self, self.workspace, run_id, dataset)

    def action_toggle_selected(self) -> None:
        """Mark or unmark the trial under the cursor for comparison."""
        table = self.query_one("#trials-table", DataTable)
        if not self.runs or table.row_count == 0:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        if row_key.value is None:
            return
        self.selected_run_ids.symmetric_difference_update({int(row_key.value)})
        self.show_trials()
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self.sub_title = f"{len(self.selected_run_ids)} selected" if self.selected_run_ids else ""

    def action_compare(self) -> None:
        """Compare the selected trials, or the sweep's five best when fewer are selected."""
        chosen = sorted(self.selected_run_ids)
        if len(chosen) < 2:
            complete = [r for r in self.runs if r.status == "complete" and r.value is not None]
            maximize = self.sweep is not None and self.sweep.direction == "maximize"
            complete.sort(key=lambda r: -(r.value or 0) if maximize else (r.value or 0))
            chosen = [r.id for r in complete[:5]]
            if len(chosen) < 2:
                self.notify("select 2 or more trials with space", severity="warning", timeout=3)
                return
            self.notify(f"comparing the {len(chosen)} best trials", timeout=3)
        self.post_message(CompareRuns(chosen))

    def action_report(self) -> None:
        """Write the sweep's report (HTML with plots, or Markdown) into reports/."""
        from screens.compare_export import REPORT_CHOICES
        from screens.dialogs import ChoiceScreen

        def chosen(fmt: str | None) -> None:
            if fmt is not None:
                self.notify(f"writing the {fmt} report …", timeout=2)
                self.write_report(fmt)

        title = f"Report on sweep {self.sweep_id}"
        self.app.push_screen(ChoiceScreen(title, REPORT_CHOICES), chosen)

    def write_report(self, fmt: str) -> None:
        """The App writes it: a report outlives this screen (escape while it is written)."""
        ws, sweep_id = self.workspace, self.sweep_id

        def write() -> str:
            from pipelines.reports.writing import write_sweep_report

            return f"wrote {write_sweep_report(ws, sweep_id, fmt)}"

        self.post_message(InBackground("writing report", write))

    def action_open_runs(self) -> None:
        self.post_message(OpenRuns(self.sweep_id))

    def action_stop(self) -> None:
        self.change_state("stop")

    def action_resume(self) -> None:
        if self.sweep is not None and self.sweep.status == "finished":
            self.notify(
                f"sweep {self.sweep_id} is finished: every trial is done", severity="warning"
            )
            return
        self.change_state("resume")

    def change_state(self, verb: str) -> None:
        """The App stops or resumes it (a resume launches workers: not this screen's work)."""
        self.post_message(ChangeSweepState(self.sweep_id, verb))

    def action_refresh(self) -> None:
        self.refresh_live()

    def action_back(self) -> None:
        self.app.pop_screen()
