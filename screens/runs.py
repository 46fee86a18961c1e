"""The Runs screen: every run (or one sweep's) with any parameter or metric as a column,
filtered and sorted by SQL, in a virtualised table that stays instant at 10,000 runs.

The runs are flattened into a Parquet snapshot under ``<workspace>/cache`` by a worker and
browsed with DuckDB (the row browser's engine); ctrl+r takes a fresh snapshot. The first
time, the worker first hands over the first page of runs, read by two indexed queries and
flattened by the same rules, and waits for it to be painted before it makes the snapshot
(its pyarrow and DuckDB imports cost more than the whole first paint)."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Header, Input, Static

from screens.focus import RestoresFocus
from screens.loaded import QueryDone, SnapshotReady
from screens.messages import CompareRuns, InBackground, OpenRun
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.lazy_table import LazyTable
from screens.widgets.memory_view import MemoryView

if TYPE_CHECKING:
    from pipelines.datasets.browse import RowSource, RowView
    from pipelines.runs.tables import FirstRuns
    from storage.handle import Workspace

MARK = "●"
MARK_STYLE = Style(bold=True)
FIRST_PAINT_WAIT_S = 2.0  # the snapshot waits this long at most for the first rows' frame
FRAME_OUT_S = 0.05  # then lets the frame reach the terminal before its imports take the GIL


@dataclass
class FirstRunsReady(Message, bubble=False):
    """The first page of runs, shown until the snapshot is ready; ``painted`` is set once
    a frame shows them."""

    serial: int
    first: FirstRuns
    painted: threading.Event


class RunsTable(LazyTable):
    """A LazyTable whose first column is the run id; selected runs carry a mark."""

    def __init__(self, selected: set[int], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected = selected
        self.on_rows_painted: threading.Event | None = None  # set by the first frame of rows

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        waiting = self.on_rows_painted
        if waiting is not None and y > 0 and self.cached_row(round(self.scroll_y) + y - 1):
            self.on_rows_painted = None
            waiting.set()  # this line is being composed into the frame written next
        return strip

    def run_id_at(self, row: int) -> int | None:
        values = self.cached_row(row)
        first = values[0] if values else None
        return first if isinstance(first, int) else None

    def _row_strip(self, row: int, base: Style) -> Strip:
        strip = super()._row_strip(row, base)
        run_id = self.run_id_at(row)
        if run_id is None or run_id not in self.selected:
            return strip
        if row == self.cursor_row:
            base = base + self.get_component_rich_style("lazy-table--cursor")
        # The first cell starts with a padding space: the mark takes its place.
        marked = Strip([Segment(MARK, base + MARK_STYLE)])
        return Strip.join([marked, strip.crop(1, strip.cell_length).apply_style(MARK_STYLE)])


class RunsScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """Runs in a RunsTable; snapshots and queries run in thread workers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="runs.back"),
        Binding("enter", "open_run", "Open run", id="runs.open"),
        Binding("space", "toggle_selected", "Select", id="runs.select"),
        Binding("c", "compare", "Compare selected", id="runs.compare"),
        Binding("slash", "focus_filter", "Filter", key_display="/", id="runs.filter"),
        Binding("o", "focus_order", "Order by", id="runs.sort"),
        Binding("e", "export", "Export", id="runs.export"),
        Binding("M", "register", "Register model", id="runs.register", show=False),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="runs.refresh"),
    ]

    def __init__(self, ws: Workspace, sweep_id: int | None = None) -> None:
        super().__init__()
        self.workspace = ws
        self.sweep_id = sweep_id
        self.selected_run_ids: set[int] = set()
        self.total_runs: int | None = None
        self._source: RowSource | None = None
        self._snapshot: Path | None = None
        self._serial = 0
        self._first_shown = False  # the first page of runs shows, not yet the snapshot

    @property
    def scope(self) -> str:
        return f"Runs of sweep {self.sweep_id}" if self.sweep_id is not None else "All runs"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"{self.scope} — loading…", id="runs-title", markup=False)
        with Horizontal(id="runs-queries"):
            yield Input(
                placeholder="WHERE …  e.g. status = 'complete' AND m_accuracy > 0.9",
                id="runs-filter",
            )
            yield Input(placeholder="ORDER BY …  e.g. value DESC", id="runs-order")
        yield Static("", id="runs-error", classes="error", markup=False)
        yield RunsTable(self.selected_run_ids, id="runs-table")
        yield Static("", id="runs-columns", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = self.scope
        self.query_one(RunsTable).focus()
        self.query_one("#runs-error").display = False
        self.take_snapshot()

    def on_unmount(self) -> None:
        self.forget_snapshot(self._source, self._snapshot)

    # --- snapshots and queries ---------------------------------------------------------

    def queries(self) -> tuple[str, str]:
        return (
            self.query_one("#runs-filter", Input).value,
            self.query_one("#runs-order", Input).value,
        )

    def take_snapshot(self) -> None:
        self._serial += 1
        self.set_title("loading runs…")
        first_time = self._source is None and not self._first_shown
        self.load_snapshot(self._serial, *self.queries(), first_page=first_time)

    @work(
        thread=True,
        exclusive=True,
        group="runs-snapshot",
        exit_on_error=False,
        description="loading runs",
    )
    def load_snapshot(self, serial: int, where: str, order_by: str, first_page: bool) -> None:
        """Flatten the runs to Parquet, open it, and run the current query on it; with
        ``first_page`` (and no query yet) the first runs are handed over and painted first."""
        from pipelines.runs.tables import first_runs

        if first_page and not where and not order_by:
            painted = threading.Event()
            first = first_runs(self.workspace, self.sweep_id)
            if self.post_message(FirstRunsReady(serial, first, painted)):
                painted.wait(FIRST_PAINT_WAIT_S)
                time.sleep(FRAME_OUT_S)
        self.make_snapshot(serial, where, order_by)

    def make_snapshot(self, serial: int, where: str, order_by: str) -> None:
        from pipelines.datasets.browse import BrowseQueryError, RowSource
        from pipelines.runs.tables import (
            new_snapshot_path,
            remove_stale_snapshots,
            write_runs_parquet,
        )

        path = new_snapshot_path(self.workspace)
        remove_stale_snapshots(path.parent)
        total = write_runs_parquet(self.workspace, path, self.sweep_id)
        source = RowSource(path)
        error = ""
        try:
            view = source.query(where, order_by)
        except BrowseQueryError as exc:  # a filter typed before the refresh no longer fits
            error, view = str(exc), source.query()
        if not self.post_message(SnapshotReady(serial, source, path, total, view, error)):
            self.forget_snapshot(source, path)  # the screen closed meanwhile

    @on(FirstRunsReady)
    def first_runs_ready(self, event: FirstRunsReady) -> None:
        rows = event.first.rows
        if event.serial == self._serial and self._source is None:
            self._first_shown = True
            self.total_runs = event.first.total
            table = self.query_one(RunsTable)
            table.on_rows_painted = event.painted if rows.rows else None
            self.show_view(MemoryView(rows.columns, rows.types, rows.rows))
            self.set_title("loading the rest…" if event.first.total > len(rows.rows) else "")
        if not self._first_shown or not rows.rows:
            event.painted.set()

    @on(SnapshotReady)
    def snapshot_ready(self, event: SnapshotReady) -> None:
        serial, source, path, total = event.serial, event.source, event.path, event.total
        view, error = event.view, event.error
        if serial != self._serial:
            self.forget_snapshot(source, path)
            return
        old_source, old_path = self._source, self._snapshot
        self._source, self._snapshot, self.total_runs = source, path, total
        first = isinstance(self.query_one(RunsTable).view, MemoryView)
        self.show_view(view, keep_place=first and view.is_plain)
        self.show_error(error)
        self.forget_snapshot(old_source, old_path)
        self.query_one("#runs-columns", Static).update("columns: " + ", ".join(source.columns))

    @staticmethod
    def forget_snapshot(source: RowSource | None, path: Path | None) -> None:
        """Close a snapshot no view uses any more and delete its file. A page read still
        running (the screen closed mid-scroll) keeps DuckDB busy: the connection then
        closes when that read lets go of it, and the file goes now all the same."""
        if source is not None:
            import duckdb  # loaded already: a source exists

            with contextlib.suppress(duckdb.Error):
                source.close()
        if path is not None:
            path.unlink(missing_ok=True)

    def run_query(self) -> None:
        if self._source is None:
            self.take_snapshot()
            return
        self._serial += 1
        self.set_title("querying…")
        self.query_view(self._serial, self._source, *self.queries())

    @work(
        thread=True,
        exclusive=True,
        group="runs-query",
        exit_on_error=False,
        description="querying runs",
    )
    def query_view(self, serial: int, source: RowSource, where: str, order_by: str) -> None:
        from pipelines.datasets.browse import BrowseQueryError

        try:
            view = source.query(where, order_by)
        except BrowseQueryError as exc:
            self.post_message(QueryDone(serial, None, str(exc)))
            return
        self.post_message(QueryDone(serial, view, ""))

    @on(QueryDone)
    def query_done(self, event: QueryDone) -> None:
        if event.serial != self._serial:
            return  # a newer query was asked
        if event.view is not None:
            self.show_view(event.view)
        self.show_error(event.error)
        if event.view is None:
            self.set_title()

    def show_view(self, view: RowView | MemoryView, keep_place: bool = False) -> None:
        table = self.query_one(RunsTable)
        table.show(view, keep_place)
        table.focus()
        self.set_title()

    @on(LazyTable.PageFailed)
    def page_failed(self, message: LazyTable.PageFailed) -> None:
        self.show_error(f"{message.error} (ctrl+r reloads)")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.run_query()

    # --- display -----------------------------------------------------------------------

    def set_title(self, status: str = "") -> None:
        view = self.query_one(RunsTable).view
        parts = [self.scope]
        if view is not None:
            total = self.total_runs if self.total_runs is not None else view.row_count
            first = "the first " if isinstance(view, MemoryView) and total > view.row_count else ""
            parts.append(f"{first}{view.row_count:,} of {total:,} runs")
        if self.selected_run_ids:
            parts.append(f"{len(self.selected_run_ids)} selected")
        if status:
            parts.append(status)
        text = " — ".join(parts)
        self.query_one("#runs-title", Static).update(text)
        self.sub_title = f"{len(self.selected_run_ids)} selected" if self.selected_run_ids else ""

    def show_error(self, error: str) -> None:
        label = self.query_one("#runs-error", Static)
        label.update(error)
        label.display = bool(error)

    # --- actions -----------------------------------------------------------------------

    def highlighted_run(self) -> int | None:
        table = self.query_one(RunsTable)
        if table.row_count == 0:
            return None
        run_id = table.run_id_at(table.cursor_row)
        if run_id is None:
            self.notify("that row is still loading", severity="warning", timeout=2)
        return run_id

    def action_register(self) -> None:
        from screens.register import ask_to_register

        ask_to_register(self, self.workspace, self.highlighted_run(), "")

    def action_open_run(self) -> None:
        run_id = self.highlighted_run()
        if run_id is not None:
            self.post_message(OpenRun(run_id))

    def action_toggle_selected(self) -> None:
        """Mark or unmark the highlighted run (for comparing later), then move down."""
        run_id = self.highlighted_run()
        if run_id is None:
            return
        self.selected_run_ids.symmetric_difference_update({run_id})
        table = self.query_one(RunsTable)
        table.move_cursor(table.cursor_row + 1)
        table.refresh()
        self.set_title()

    def action_compare(self) -> None:
        """Open the selected runs side by side."""
        if len(self.selected_run_ids) < 2:
            self.notify("select 2 or more runs with space", severity="warning", timeout=3)
            return
        self.post_message(CompareRuns(sorted(self.selected_run_ids)))

    def action_export(self) -> None:
        """The runs the table shows (its filter and order) as CSV or JSON into reports/."""
        from screens.dialogs import ChoiceScreen

        view = self.query_one(RunsTable).view
        if view is None or isinstance(view, MemoryView):  # only the first page is here
            self.notify("the runs are still loading", severity="warning", timeout=3)
            return
        options = [
            ("c", "csv", "CSV: the columns of this table, for spreadsheets and pandas"),
            ("j", "json", "JSON: every recorded field, folds and environment included"),
        ]

        def chosen(fmt: str | None) -> None:
            if fmt is not None:
                self.export_runs(view, fmt)

        shown = f"{view.row_count:,} run{'s' if view.row_count != 1 else ''} shown"
        title = f"Export the {shown}" + (" (filtered)" if view.where else "")
        self.app.push_screen(ChoiceScreen(title, options), chosen)

    def export_runs(self, view: RowView, fmt: str) -> None:
        """The App writes it (an export outlives this screen); the view is read first, as
        it is shown now."""
        ws, sweep_id = self.workspace, self.sweep_id

        def export() -> str:
            from pipelines.reports.writing import default_report_path
            from pipelines.runs.export import export_runs

            run_ids = [int(row[0]) for row in view.page(0, view.row_count).rows]  # column "run"
            stem = f"runs-sweep-{sweep_id}" if sweep_id is not None else "runs"
            target = default_report_path(ws, stem, fmt)
            path = export_runs(ws, target, fmt, sweep_id, run_ids=run_ids)
            return f"wrote {path} ({len(run_ids):,} run{'s' if len(run_ids) != 1 else ''})"

        self.post_message(InBackground("exporting runs", export))

    def action_focus_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_focus_order(self) -> None:
        self.query_one("#runs-order", Input).focus()

    def action_refresh(self) -> None:
        self.take_snapshot()

    def action_back(self) -> None:
        """Leave a query input first (a half-typed filter is kept), else the screen."""
        if isinstance(self.focused, Input):
            self.query_one(RunsTable).focus()
        else:
            self.app.pop_screen()
