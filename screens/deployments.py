"""The Deployments screen: every deployment with its status, live; the one under the cursor
with its traffic per answering version (a canary's two versions side by side: share, rate,
latency, errors, predictions and, once labels arrive, accuracy) and the columns production
sends that its model never saw. Stop (x), start (u), remove, promote and roll back by key; the App
does the work, so it finishes even if this screen is closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from screens.dialogs import ConfirmScreen, TextScreen
from screens.focus import RestoresFocus
from screens.formatting import display_path, number, user_text
from screens.live_messages import DeploymentsListed, DeploymentTrafficRead, WatchesLive, live_layer
from screens.messages import InBackground, OpenDriftPanel
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import TableRow, fill_table

if TYPE_CHECKING:
    from pipelines.deploy.traffic import Traffic
    from storage.handle import Workspace
    from storage.records import DeploymentRecord

COLUMNS = (
    ("name", "name"),
    ("status", "status"),
    ("serves", "serves"),
    ("kind", "kind"),
    ("url", "url"),
    ("error", "error"),
)
TRAFFIC_COLUMNS = (
    ("version", "version"),
    ("share", "share"),
    ("req/s", "rate"),
    ("p50 ms", "p50"),
    ("p99 ms", "p99"),
    ("errors", "errors"),
    ("accuracy", "accuracy"),
    ("predictions", "predictions"),
)
STATUS_STYLE = {"running": "green", "down": "bold red", "failed": "red", "stopped": "dim"}


def serves(record: DeploymentRecord) -> str:
    if record.challenger_ref:
        share = record.canary_share or 0
        return f"{record.model_ref} + {record.challenger_ref} ({share:.0%})"
    return record.model_ref


def deployment_row(record: DeploymentRecord) -> TableRow:
    status = Text(record.status, style=STATUS_STYLE.get(record.status, "yellow"))
    cells = [
        user_text(record.name),
        status,
        user_text(serves(record)),
        record.kind,
        record.url,
        user_text(record.error or ""),
    ]
    return TableRow(record.name, cells)


def traffic_rows(traffic: Traffic) -> list[TableRow]:
    total = sum(v.requests for v in traffic.versions) or 1
    rows = []
    for v in traffic.versions:
        top = ", ".join(f"{k} {n}" for k, n in list(v.predictions.items())[:3])
        accuracy = (
            f"{v.accuracy:.3f} ({v.labelled})" if v.accuracy is not None else f"– ({v.labelled})"
        )
        cells = [
            user_text(v.version),
            f"{v.requests / total:.0%}",
            f"{v.rate_per_s:.1f}",
            number(v.p50_ms),
            number(v.p99_ms),
            Text(str(v.errors), style="red" if v.errors else ""),
            accuracy,
            user_text(top or "–"),
        ]
        rows.append(TableRow(v.version, cells))
    return rows


@dataclass
class LogsRead(Message):
    name: str
    text: str


class Changed(Message):
    """A key's work ended (in the App): read the deployments again."""


class DeploymentsScreen(RestoresFocus, WatchesLive, ForwardsWorkerFailures, Screen[None]):
    """Deployments, kept current by the App's live layer while this screen shows."""

    live_source = "deployments"
    BINDINGS = [
        Binding("x", "stop", "Stop", id="deployments.stop"),
        Binding("u", "start", "Start", id="deployments.start"),
        Binding("w", "watch", "Watch drift", id="deployments.watch"),
        Binding("l", "logs", "Logs", id="deployments.logs"),
        Binding("p", "promote", "Promote", id="deployments.promote"),
        Binding("b", "rollback", "Rollback", id="deployments.rollback"),
        Binding("delete", "remove", "Remove", id="deployments.remove"),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="deployments.refresh"),
        Binding("escape", "back", "Back", id="deployments.back"),
    ]

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.workspace = ws
        self.deployments: list[DeploymentRecord] = []
        self.watched: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[object] = DataTable(id="deployments-table", cursor_type="row")
        fill_table(table, COLUMNS, [])
        yield table
        yield Static("Traffic", classes="pane-title", id="traffic-title")
        traffic: DataTable[object] = DataTable(id="traffic-table", cursor_type="none")
        fill_table(traffic, TRAFFIC_COLUMNS, [])
        yield traffic
        yield Static("", id="traffic-note", markup=False)
        yield Static("loading deployments …", id="deployments-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "Deployments"
        self.sub_title = display_path(self.workspace.root)
        self.query_one("#deployments-table").focus()

    def live_key(self) -> str | None:
        return self.watched

    # --- data in -----------------------------------------------------------------------

    @on(DeploymentsListed)
    def listed(self, event: DeploymentsListed) -> None:
        table = self.query_one("#deployments-table", DataTable)
        keep = self.current_name()
        self.deployments = event.deployments
        fill_table(table, COLUMNS, [deployment_row(d) for d in event.deployments])
        names = [d.name for d in event.deployments]
        if keep in names:
            table.move_cursor(row=names.index(keep), animate=False)
        self.watch_current()
        down = sum(d.status in ("down", "failed") for d in event.deployments)
        status = f"{len(names)} deployment{'s' * (len(names) != 1)}" + (
            f" · {down} down or failed" if down else ""
        )
        if not names:
            status = "no deployments: `workbench deploy MODEL` starts one"
        self.query_one("#deployments-status", Static).update(status)

    @on(DeploymentTrafficRead)
    def traffic_read(self, event: DeploymentTrafficRead) -> None:
        if event.name != self.current_name():
            return
        title = self.query_one("#traffic-title", Static)
        note = self.query_one("#traffic-note", Static)
        table = self.query_one("#traffic-table", DataTable)
        if event.traffic is None:
            fill_table(table, TRAFFIC_COLUMNS, [])
            title.update(f"Traffic of {event.name}")
            status = next((d.status for d in self.deployments if d.name == event.name), "")
            note.update(
                "not answering: no traffic to read"
                if status in ("running", "down", "")
                else f"{status}: no traffic to read (u starts it)"
            )
            return
        traffic = event.traffic
        fill_table(table, TRAFFIC_COLUMNS, traffic_rows(traffic))
        title.update(f"Traffic of {event.name} (last {traffic.window} requests)")
        unseen = ", ".join(f"{k} ({n})" for k, n in list(traffic.unseen.items())[:6])
        note.update(f"unseen columns: {unseen}" if unseen else "no unseen columns")

    @on(DataTable.RowHighlighted, "#deployments-table")
    def highlighted(self) -> None:
        self.watch_current()

    def watch_current(self) -> None:
        name = self.current_name()
        if name != self.watched:
            self.watched = name
            live_layer(self).subscribe(self, self.live_source, name)

    def current_name(self) -> str | None:
        table = self.query_one("#deployments-table", DataTable)
        if not self.deployments or table.row_count == 0:
            return None
        row = min(table.cursor_row, len(self.deployments) - 1)
        return self.deployments[row].name

    # --- keys: the App does the work ---------------------------------------------------

    def _in_background(self, what: str, work: Callable[[], str]) -> None:
        self.post_message(InBackground(what, work))

    def action_stop(self) -> None:
        self._verb(
            "stopping", lambda ws, n: _say(n, "stopped", _pipelines().stop_deployment(ws, n))
        )

    def action_start(self) -> None:
        self._verb(
            "starting", lambda ws, n: _say(n, "started", _pipelines().start_deployment(ws, n))
        )

    def action_promote(self) -> None:
        self._verb("promoting", lambda ws, n: _say(n, "promoted", _canary().promote(ws, n)))

    def action_rollback(self) -> None:
        self._verb("rolling back", lambda ws, n: _say(n, "rolled back", _canary().rollback(ws, n)))

    def action_remove(self) -> None:
        name = self.current_name()
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._verb("removing", lambda ws, n: _removed(ws, n))

        self.app.push_screen(
            ConfirmScreen(f"Remove deployment {name} (and its request log)?"), answered
        )

    def _verb(self, what: str, work: Callable[[Workspace, str], str]) -> None:
        name = self.current_name()
        if name is None:
            self.notify("no deployment here", severity="warning")
            return
        ws = self.workspace

        def run() -> str:
            try:
                return work(ws, name)
            finally:
                self.post_message(Changed())  # thread-safe: the screen reads again

        self._in_background(f"{what} {name}", run)

    def action_watch(self) -> None:
        name = self.current_name()
        if name is None:
            self.notify("no deployment here", severity="warning")
            return
        self.post_message(OpenDriftPanel(name))

    def action_logs(self) -> None:
        name = self.current_name()
        if name is None:
            return
        self.run_worker(
            lambda: self._read_logs(name),
            thread=True,
            exit_on_error=False,
            description="reading logs",
        )

    def _read_logs(self, name: str) -> None:
        self.post_message(LogsRead(name, _pipelines().deployment_logs(self.workspace, name)))

    @on(LogsRead)
    def logs_read(self, event: LogsRead) -> None:
        self.app.push_screen(TextScreen(f"Logs of {event.name}", event.text))

    @on(Changed)
    def changed(self) -> None:
        self.refresh_live()

    def action_refresh(self) -> None:
        self.refresh_live()

    def action_back(self) -> None:
        self.app.pop_screen()


def _pipelines():
    from pipelines.deploy import deployments

    return deployments


def _canary():
    from pipelines.deploy import canary

    return canary


def _say(name: str, verb: str, record: DeploymentRecord) -> str:
    return f"{name} {verb}: {record.status}, serving {serves(record)}"


def _removed(ws: Workspace, name: str) -> str:
    _pipelines().remove_deployment(ws, name)
    return f"{name} removed"
