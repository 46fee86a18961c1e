"""A deployment's live drift panel: the dataset's drift share against its threshold, each
column's test, score and verdict with a sparkline of its past scores, prediction and schema
drift, traffic, and real performance (as labels arrive) beside the estimated one (CBPE,
before they do). The column under the cursor has its reference and current histograms drawn
over each other. Fed by the App's live layer (workbench/live_drift.py): this screen only
draws what arrives. History (h) scrolls back through the stored snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from screens.dialogs import ConfirmScreen, TextScreen
from screens.drift_text import (
    COLUMNS,
    HISTORY_COLUMNS,
    WIDEST,
    alerts_and_jobs,
    column_rows,
    draw_histogram,
    history_rows,
    performance_text,
    summary_text,
)
from screens.focus import RestoresFocus
from screens.live_messages import DriftRefreshed, WatchesLive
from screens.messages import InBackground
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import fill_table

if TYPE_CHECKING:
    from pipelines.watch.watcher import WatchView
    from storage.handle import Workspace
    from storage.records import DriftSnapshotRecord

CSS_FILE = Path(__file__).resolve().parent.parent / "assets" / "drift.tcss"
ROW_STEPS = (100, 250, 500, 1000, 2500, 5000, 10000)
AGE_STEPS: tuple[float | None, ...] = (None, 300.0, 900.0, 3600.0)
HISTORY_PAGE = 50
NARROW = 110  # below this width the histogram goes under the table


@dataclass
class HistoryRead(Message):
    snapshots: list[DriftSnapshotRecord]
    older: bool  # a page before those shown, to add at the end


@dataclass
class AlertsRead(Message):
    text: str


class DriftPanelScreen(RestoresFocus, WatchesLive, ForwardsWorkerFailures, Screen[None]):
    """One deployment's drift, live while this screen shows."""

    CSS_PATH = CSS_FILE
    live_source = "drift"
    BINDINGS = [
        Binding("h", "history", "History", id="drift.history"),
        Binding("e", "export", "Evidently report", id="drift.export"),
        Binding("a", "alerts", "Alerts & retraining", id="drift.alerts"),
        Binding("R", "retrain", "Retrain", id="drift.retrain"),
        Binding("plus,equals_sign", "rows(1)", "More rows", id="drift.more"),
        Binding("minus", "rows(-1)", "Fewer rows", id="drift.fewer"),
        Binding("t", "age", "Age limit", id="drift.age"),
        Binding("left_square_bracket", "older", "Older history", id="drift.older", show=False),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="drift.refresh"),
        Binding("escape", "back", "Back", id="drift.back"),
    ]

    def __init__(self, ws: Workspace, deployment: str) -> None:
        super().__init__()
        self.workspace = ws
        self.deployment = deployment
        self.max_rows: int | None = 1000
        self.max_age_s: float | None = None
        self.view: WatchView | None = None
        self.shown_columns: list[str] = []
        self.history: list[DriftSnapshotRecord] = []
        self.alerts_seen = 0

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # plotext loads when a panel opens

        yield Header()
        yield Static(f"watching {self.deployment} …", id="drift-summary")
        yield Static("", id="drift-performance")
        with Horizontal(id="drift-body"):
            table: DataTable[object] = DataTable(id="drift-columns", cursor_type="row")
            fill_table(table, COLUMNS, [])
            yield table
            history: DataTable[object] = DataTable(id="drift-history", cursor_type="row")
            fill_table(history, HISTORY_COLUMNS, [])
            yield history
            with Vertical(id="drift-side"):
                yield PlotextPlot(id="drift-histogram")
                yield Static("", id="drift-histogram-note", markup=False)
        yield Static("", id="drift-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"Drift — {self.deployment}"
        self.query_one("#drift-history").display = False
        self.query_one("#drift-columns").focus()

    def on_resize(self) -> None:
        self.query_one("#drift-body").set_class(self.size.width < NARROW, "narrow")

    def live_key(self) -> tuple[str, int | None, float | None]:
        return (self.deployment, self.max_rows, self.max_age_s)

    # --- data in -----------------------------------------------------------------------

    @on(DriftRefreshed)
    def refreshed(self, event: DriftRefreshed) -> None:
        if event.deployment != self.deployment:
            return
        if event.view is None:
            self.query_one("#drift-summary", Static).update(
                Text(f"{self.deployment}: {event.error}", style="red")
            )
            return
        view = self.view = event.view
        window = _window_words(self.max_rows, self.max_age_s)
        self.query_one("#drift-summary", Static).update(summary_text(view, window))
        self.query_one("#drift-performance", Static).update(performance_text(view))
        table = self.query_one("#drift-columns", DataTable)
        keep = table.cursor_row
        rows = column_rows(view)
        self.shown_columns = [row.key for row in rows]
        fill_table(table, COLUMNS, rows, widest=WIDEST)
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1), animate=False)
        self._draw_histogram()
        self._tell_alerts(view)
        if not self.query_one("#drift-history").display:  # history has its own status line
            self.query_one("#drift-status", Static).update(_status(view))

    def _tell_alerts(self, view: WatchView) -> None:
        for alert in view.alerts:
            self.alerts_seen += 1
            self.notify(alert.message, title=f"alert on {self.deployment}", severity="warning")
        if view.retraining:
            self.notify(view.retraining, title=self.deployment, timeout=10)

    @on(DataTable.RowHighlighted, "#drift-columns")
    def highlighted(self) -> None:
        self._draw_histogram()

    def _draw_histogram(self) -> None:
        from textual_plotext import PlotextPlot

        plot = self.query_one("#drift-histogram", PlotextPlot)
        note = self.query_one("#drift-histogram-note", Static)
        table = self.query_one("#drift-columns", DataTable)
        column = None
        if self.shown_columns and 0 <= table.cursor_row < len(self.shown_columns):
            column = self.shown_columns[table.cursor_row]
        histogram = self.view.histograms.get(column) if self.view and column else None
        note.update(draw_histogram(plot.plt, histogram, column))
        plot.refresh()

    # --- history -----------------------------------------------------------------------

    def action_history(self) -> None:
        history = self.query_one("#drift-history", DataTable)
        columns = self.query_one("#drift-columns", DataTable)
        showing = not history.display
        history.display, columns.display = showing, not showing
        (history if showing else columns).focus()
        if showing:
            self._read_history(before=None)

    def action_older(self) -> None:
        if self.query_one("#drift-history").display and self.history:
            self._read_history(before=self.history[-1].window_end)

    def _read_history(self, before: Any) -> None:
        ws, name = self.workspace, self.deployment

        def read() -> None:
            from pipelines.alerts.evaluate import snapshots

            found = snapshots(ws, name, limit=HISTORY_PAGE, before=before)
            self.post_message(HistoryRead(found, older=before is not None))

        self.run_worker(read, thread=True, exit_on_error=False, description="reading history")

    @on(HistoryRead)
    def history_read(self, event: HistoryRead) -> None:
        self.history = [*self.history, *event.snapshots] if event.older else event.snapshots
        fill_table(
            self.query_one("#drift-history", DataTable), HISTORY_COLUMNS, history_rows(self.history)
        )
        more = "" if len(event.snapshots) < HISTORY_PAGE else " · [ for older"
        self.query_one("#drift-status", Static).update(
            f"{len(self.history)} stored snapshots, newest first{more} · h back to the columns"
        )

    # --- keys: the App does the work ---------------------------------------------------

    def action_rows(self, step: int) -> None:
        current = self.max_rows or ROW_STEPS[-1]
        index = min(range(len(ROW_STEPS)), key=lambda i: abs(ROW_STEPS[i] - current))
        self.max_rows = ROW_STEPS[max(0, min(len(ROW_STEPS) - 1, index + step))]
        self._resubscribe()

    def action_age(self) -> None:
        index = AGE_STEPS.index(self.max_age_s) if self.max_age_s in AGE_STEPS else 0
        self.max_age_s = AGE_STEPS[(index + 1) % len(AGE_STEPS)]
        self._resubscribe()

    def _resubscribe(self) -> None:
        from screens.live_messages import live_layer

        self.notify(f"window: {_window_words(self.max_rows, self.max_age_s)}", timeout=3)
        live_layer(self).subscribe(self, self.live_source, self.live_key())

    def action_export(self) -> None:
        ws, name, last = self.workspace, self.deployment, self.max_rows or 1000
        self.post_message(
            InBackground(f"Evidently report of {name}", lambda: _export(ws, name, last))
        )
        self.notify("Evidently is writing the report (a few seconds) …", timeout=4)

    def action_alerts(self) -> None:
        ws, name = self.workspace, self.deployment

        def read() -> None:
            from pipelines.alerts.evaluate import list_alerts
            from pipelines.retrain.jobs import list_jobs

            self.post_message(
                AlertsRead(alerts_and_jobs(list_alerts(ws, name), list_jobs(ws, name)))
            )

        self.run_worker(read, thread=True, exit_on_error=False, description="reading alerts")

    @on(AlertsRead)
    def alerts_read(self, event: AlertsRead) -> None:
        self.app.push_screen(TextScreen(f"Alerts and retraining of {self.deployment}", event.text))

    def action_retrain(self) -> None:
        ws, name = self.workspace, self.deployment

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(InBackground(f"retraining {name}", lambda: _retrain(ws, name)))

        question = f"Retrain {name}'s model on the newest data and register it if it wins?"
        self.app.push_screen(ConfirmScreen(question), answered)

    def action_refresh(self) -> None:
        self.refresh_live()

    def action_back(self) -> None:
        self.app.pop_screen()


def _window_words(max_rows: int | None, max_age_s: float | None) -> str:
    parts = [f"last {max_rows} rows"] if max_rows else []
    if max_age_s:
        parts.append(f"last {max_age_s / 60:g} min")
    return " and ".join(parts) or "every row"


def _status(view: WatchView) -> str:
    if view.error:
        return f"not answering: {view.error} (the window is kept)"
    stored = f"{view.snapshots} snapshot{'s' * (view.snapshots != 1)} stored"
    return f"{stored} · + − rows · t age · h history · e Evidently report"


def _export(ws: Workspace, name: str, last: int) -> str:
    from datetime import datetime

    from pipelines.drift import DriftOptions, PreparedReference
    from pipelines.reports.drift_report import export_drift_report, spec_for
    from pipelines.watch.reference import deployment_facts, deployment_reference, recent_traffic

    facts = deployment_facts(ws, name)
    reference, current = deployment_reference(ws, facts), recent_traffic(facts, last)
    options = DriftOptions(columns=facts.features, categorical=facts.categorical)
    result = PreparedReference.prepare(reference.frame, options).compare(current.frame)
    kinds = {c.column: c.kind for c in result.columns if c.tested}
    out = ws.paths.reports / f"drift-{name}-{datetime.now():%Y%m%d-%H%M%S}.html"
    export_drift_report(reference.frame, current.frame, out, spec_for(kinds, options))
    return f"wrote {out}"


def _retrain(ws: Workspace, name: str) -> str:
    from pipelines.retrain.jobs import start_retrain

    job = start_retrain(ws, name)
    return f"retraining job {job.id} started (workbench retrain show {job.id})"
