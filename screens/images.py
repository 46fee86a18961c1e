"""The Images screen: every serving-image build (tag, model version, status, size, when),
live while one builds, with the log of the build under the cursor (a failed build shows
why). Builds run as supervised processes, so this screen only watches them; `i` on the
Models screen starts one."""

from __future__ import annotations

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
from screens.formatting import display_path, user_text
from screens.live_messages import ImageBuildsListed, WatchesLive, live_layer
from screens.messages import InBackground
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import TableRow, fill_table

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import ImageBuildRecord

COLUMNS = (
    ("build", "id"),
    ("status", "status"),
    ("tag", "tag"),
    ("model", "model"),
    ("size", "size"),
    ("created", "created"),
)
STATUS_STYLE = {"built": "green", "failed": "red", "building": "yellow"}
SHOWN_LOG_LINES = 12


def size_text(size: int | None) -> str:
    return "–" if not size else f"{size / 1e6:.0f} MB"


def build_row(build: ImageBuildRecord) -> TableRow:
    cells = [
        str(build.id),
        Text(build.status, style=STATUS_STYLE.get(build.status, "")),
        user_text(build.tag),
        user_text(build.model_ref),
        Text(size_text(build.size_bytes), justify="right"),
        build.created_at.strftime("%Y-%m-%d %H:%M"),
    ]
    return TableRow(str(build.id), cells)


@dataclass
class LogRead(Message):
    build_id: int
    text: str


class Removed(Message):
    """An image was removed (in the App): read the builds again."""


class ImagesScreen(RestoresFocus, WatchesLive, ForwardsWorkerFailures, Screen[None]):
    live_source = "images"
    BINDINGS = [
        Binding("l,enter", "log", "Full log", id="images.log"),
        Binding("delete", "remove", "Remove image", id="images.remove"),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="images.refresh"),
        Binding("escape", "back", "Back", id="images.back"),
    ]

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.workspace = ws
        self.builds: list[ImageBuildRecord] = []
        self.watched: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[object] = DataTable(id="images-table", cursor_type="row")
        fill_table(table, COLUMNS, [])
        yield table
        yield Static("", id="build-title", classes="pane-title", markup=False)
        yield Static("", id="build-log", markup=False)
        yield Static("loading image builds …", id="images-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "Images"
        self.sub_title = display_path(self.workspace.root)
        self.query_one("#images-table").focus()

    def live_key(self) -> int | None:
        return self.watched

    @on(ImageBuildsListed)
    def listed(self, event: ImageBuildsListed) -> None:
        table = self.query_one("#images-table", DataTable)
        keep = self.current_id()
        self.builds = event.builds
        fill_table(table, COLUMNS, [build_row(b) for b in event.builds])
        ids = [b.id for b in event.builds]
        if keep in ids:
            table.move_cursor(row=ids.index(keep), animate=False)
        self.watch_current()
        building = sum(b.status == "building" for b in event.builds)
        status = f"{len(ids)} build{'s' * (len(ids) != 1)}" + (
            f" · {building} building" if building else ""
        )
        if not ids:
            status = "no images: `i` on the Models screen or `workbench image build MODEL`"
        self.query_one("#images-status", Static).update(status)
        self.show_log(event.log_tail)

    def show_log(self, tails: dict[int, list[str]]) -> None:
        build = next((b for b in self.builds if b.id == self.current_id()), None)
        title = self.query_one("#build-title", Static)
        log = self.query_one("#build-log", Static)
        if build is None:
            title.update("")
            log.update("")
            return
        title.update(f"Build {build.id}: {build.tag} ({build.status})")
        lines = tails.get(build.id, [])[-SHOWN_LOG_LINES:]
        said = f"error: {build.error}"
        if build.error and said not in lines:  # the build process prints its own error last
            lines = [*lines[-(SHOWN_LOG_LINES - 1) :], said]
        log.update("\n".join(lines) if lines else "(the log arrives with the next update)")

    @on(DataTable.RowHighlighted, "#images-table")
    def highlighted(self) -> None:
        self.watch_current()

    def watch_current(self) -> None:
        current = self.current_id()
        if current != self.watched:
            self.watched = current
            live_layer(self).subscribe(self, self.live_source, current)

    def current_id(self) -> int | None:
        table = self.query_one("#images-table", DataTable)
        if not self.builds or table.row_count == 0:
            return None
        return self.builds[min(table.cursor_row, len(self.builds) - 1)].id

    def action_log(self) -> None:
        build = next((b for b in self.builds if b.id == self.current_id()), None)
        if build is None:
            return
        self.run_worker(
            lambda: self._read(build),
            thread=True,
            exit_on_error=False,
            description="reading the build log",
        )

    def _read(self, build: ImageBuildRecord) -> None:
        from pathlib import Path

        path = Path(build.log_path)
        text = path.read_text(errors="replace") if path.exists() else ""
        said = f"error: {build.error}"
        if build.error and said not in text:  # the build process prints its own error last
            text += f"\n{said}"
        self.post_message(LogRead(build.id, text))

    @on(LogRead)
    def log_read(self, event: LogRead) -> None:
        self.app.push_screen(TextScreen(f"Log of build {event.build_id}", event.text))

    def action_remove(self) -> None:
        build = next((b for b in self.builds if b.id == self.current_id()), None)
        if build is None:
            return
        ws, tag = self.workspace, build.tag

        def work() -> str:
            from pipelines.packaging.builds import remove_image

            try:
                remove_image(ws, tag)
            finally:
                self.post_message(Removed())
            return f"removed {tag}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(InBackground(f"removing {tag}", work))

        self.app.push_screen(ConfirmScreen(f"Remove image {tag} and its build records?"), answered)

    @on(Removed)
    def removed(self) -> None:
        self.refresh_live()

    def action_refresh(self) -> None:
        self.refresh_live()

    def action_back(self) -> None:
        self.app.pop_screen()
