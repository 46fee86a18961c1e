"""Browse the rows of a Parquet file of any size, with a SQL filter and ORDER BY."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from screens.focus import RestoresFocus
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.lazy_table import LazyTable

if TYPE_CHECKING:
    from pipelines.datasets.browse import RowSource, RowView


class RowBrowserScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """A file's rows in a LazyTable; opening and querying run in thread workers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("o", "focus_order", "Order by"),
        Binding("ctrl+r", "clear_filter", "Clear filter"),
    ]

    DEFAULT_CSS = """
    RowBrowserScreen {
        layout: vertical;
        & #browse-title {
            height: 1;
            padding: 0 1;
            background: $panel;
            text-style: bold;
        }
        & #browse-queries {
            height: auto;
        }
        & #browse-filter {
            width: 2fr;
        }
        & #browse-order {
            width: 1fr;
        }
        & #browse-error {
            color: $error;
            padding: 0 1;
            height: auto;
            display: none;
        }
        & #browse-error.-shown {
            display: block;
        }
    }
    """

    class ViewReady(Message):
        """A query finished: ``view`` replaces what the table shows."""

        def __init__(self, serial: int, source: RowSource, view: RowView) -> None:
            super().__init__()
            self.serial = serial
            self.source = source
            self.view = view

    class QueryFailed(Message):
        """Opening the file or running a query failed; ``error`` is one line."""

        def __init__(self, serial: int, error: str) -> None:
            super().__init__()
            self.serial = serial
            self.error = error

    def __init__(self, parquet_path: Path, title: str) -> None:
        super().__init__()
        self.parquet_path = Path(parquet_path)
        self.title_text = title
        self._source: RowSource | None = None
        self._total_rows: int | None = None
        self._serial = 0

    def compose(self) -> ComposeResult:
        yield Static(f"{self.title_text} — opening…", id="browse-title", markup=False)
        with Horizontal(id="browse-queries"):
            yield Input(placeholder="WHERE …  e.g. age > 30", id="browse-filter")
            yield Input(placeholder="ORDER BY …  e.g. age DESC, name", id="browse-order")
        yield Static("", id="browse-error", markup=False)
        yield LazyTable(id="browse-table")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(LazyTable).focus()
        self._start_query("", "")

    # -- queries ----------------------------------------------------------------------------

    def _start_query(self, where: str, order_by: str) -> None:
        self._serial += 1
        self._set_title("querying…")
        self._run_query(self._serial, self._source, where, order_by)

    @work(thread=True, exclusive=True, group="browse-query", exit_on_error=False)
    def _run_query(self, serial: int, source: RowSource | None, where: str, order_by: str) -> None:
        """Open the file (first time only) and run the query, off the event loop."""
        from pipelines.datasets.browse import RowSource
        from storage.errors import WorkbenchError

        try:
            if source is None:
                source = RowSource(self.parquet_path)
            view = source.query(where, order_by)
        except WorkbenchError as error:
            self.post_message(self.QueryFailed(serial, str(error)))
        else:
            self.post_message(self.ViewReady(serial, source, view))

    @on(ViewReady)
    def _show_view(self, message: ViewReady) -> None:
        if message.serial != self._serial:
            return
        self._source = message.source
        if self._total_rows is None and not message.view.where:
            self._total_rows = message.view.row_count
        self._show_error("")
        table = self.query_one(LazyTable)
        table.show(message.view)
        table.focus()
        self._set_title()

    @on(QueryFailed)
    def _query_failed(self, message: QueryFailed) -> None:
        if message.serial != self._serial:
            return
        self._show_error(message.error)
        self._set_title()

    @on(LazyTable.PageFailed)
    def _page_failed(self, message: LazyTable.PageFailed) -> None:
        self._show_error(message.error)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        where = self.query_one("#browse-filter", Input).value
        order_by = self.query_one("#browse-order", Input).value
        self._start_query(where, order_by)

    # -- display ----------------------------------------------------------------------------

    def _set_title(self, status: str = "") -> None:
        view = self.query_one(LazyTable).view
        parts = [self.title_text]
        if view is not None:
            total = self._total_rows if self._total_rows is not None else view.row_count
            parts.append(f"{view.row_count:,} of {total:,} rows")
        if status:
            parts.append(status)
        self.query_one("#browse-title", Static).update(" — ".join(parts))

    def _show_error(self, error: str) -> None:
        label = self.query_one("#browse-error", Static)
        label.update(error)
        label.set_class(bool(error), "-shown")

    # -- actions ----------------------------------------------------------------------------

    def action_back(self) -> None:
        """Leave a query input first (a half-typed filter is not lost), else the screen."""
        if isinstance(self.focused, Input):
            self.query_one(LazyTable).focus()
        else:
            self.app.pop_screen()

    def action_focus_filter(self) -> None:
        self.query_one("#browse-filter", Input).focus()

    def action_focus_order(self) -> None:
        self.query_one("#browse-order", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#browse-filter", Input).value = ""
        self._start_query("", self.query_one("#browse-order", Input).value)
