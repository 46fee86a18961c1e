"""A virtualised table for millions of rows: only the pages on screen are fetched and kept.

DataTable holds every row in memory, which a 10-million-row file cannot afford. LazyTable
renders lines itself (Textual's Line API): the virtual height is the row count, rows come
from a ``RowView`` page by page in thread workers, and rows not loaded yet show a dim
placeholder until their page arrives as a message. Rows already in memory (a
``MemoryView``) are read on the event loop instead, a page at a time, so they are on the
very frame that follows ``show``.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pipelines.inert import inert
from screens.widgets.memory_view import MemoryView

if TYPE_CHECKING:
    from pipelines.datasets.browse import Page, RowView

PAGE_ROWS = 200
MAX_CACHED_PAGES = 40
MAX_PAGES_IN_FLIGHT = 3
MIN_COLUMN_WIDTH = 3
MAX_COLUMN_WIDTH = 40
NULL_TEXT = "∅"
PLACEHOLDER_TEXT = "…"
_NUMERIC_TYPE_WORDS = ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC")


def format_cell(value: object) -> str:
    """One line of text for a value; floats trimmed so columns stay narrow."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        magnitude = abs(value)
        if magnitude and (magnitude >= 1e15 or magnitude < 1e-4):
            return f"{value:.6g}"
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return inert(str(value))  # an escape sequence in a cell is shown, never obeyed


def is_number(value: object) -> bool:
    """Numbers are right-aligned; booleans are not numbers to a reader."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _fit(text: str, width: int, right: bool) -> str:
    """Pad or truncate (with an ellipsis) to exactly ``width`` cells."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    if right:
        return " " * (width - cell_len(text)) + text
    return set_cell_size(text, width)


class LazyTable(ScrollView, can_focus=True):
    """Rows of a ``RowView``, fetched on demand; a fixed header and a row cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "lazy-table--header",
        "lazy-table--cursor",
        "lazy-table--placeholder",
        "lazy-table--null",
    }

    DEFAULT_CSS = """
    LazyTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .lazy-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .lazy-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .lazy-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .lazy-table--placeholder {
            color: $text-disabled;
        }
        & > .lazy-table--null {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    class PageLoaded(Message, bubble=False):
        """A page of rows arrived from a worker thread (handled by the table itself)."""

        def __init__(self, table: LazyTable, generation: int, index: int, page: Page) -> None:
            super().__init__()
            self.table = table
            self.generation = generation
            self.index = index
            self.page = page

        @property
        def control(self) -> LazyTable:
            return self.table

    class PageFailed(Message):
        """Fetching rows failed; bubbles so the screen can show ``error`` (one line)."""

        def __init__(self, table: LazyTable, generation: int, index: int, error: str) -> None:
            super().__init__()
            self.table = table
            self.generation = generation
            self.index = index
            self.error = error

        @property
        def control(self) -> LazyTable:
            return self.table

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._view: RowView | MemoryView | None = None
        self._generation = 0
        self._columns: list[str] = []
        self._numeric: list[bool] = []
        self._widths: list[int] = []
        self._pages: OrderedDict[int, list[tuple[object, ...]]] = OrderedDict()
        self._pending: set[int] = set()
        self._failed: set[int] = set()
        self._cursor_row = 0

    # -- public API -------------------------------------------------------------------------

    @property
    def view(self) -> RowView | MemoryView | None:
        """The rows being shown."""
        return self._view

    @property
    def row_count(self) -> int:
        return self._view.row_count if self._view is not None else 0

    @property
    def cursor_row(self) -> int:
        """Index of the highlighted row in the view."""
        return self._cursor_row

    def show(self, view: RowView | MemoryView | None, keep_place: bool = False) -> None:
        """Show another view (new filter/order): forget every page, go back to the top.

        ``keep_place``: the same rows in the same order, more of them (the full snapshot
        after its first page): the cursor and scroll stay, and so do the loaded pages when
        the columns are the same, so no loaded row turns back into a placeholder."""
        old_columns = (self._columns, [*self._numeric])
        self._view = view
        self._generation += 1
        self._pending.clear()
        self._failed.clear()
        if not keep_place:
            self._cursor_row = 0
        if view is None:
            self._columns, self._numeric = [], []
        else:
            self._columns = list(view.source.columns)
            self._numeric = [
                any(word in kind.upper() for word in _NUMERIC_TYPE_WORDS)
                for kind in view.source.column_types
            ]
        same = keep_place and (self._columns, self._numeric) == old_columns
        if not same:
            self._pages.clear()
            self._widths = [self._clamp(cell_len(inert(name))) for name in self._columns]
        self._update_virtual_size()
        if keep_place:
            self._cursor_row = max(0, min(self._cursor_row, self.row_count - 1))
        else:
            self.scroll_to(0, 0, animate=False, force=True)
        self.refresh()
        self._request_visible_pages()

    def cached_row(self, row: int) -> tuple[object, ...] | None:
        """The values of ``row`` if its page is loaded (tests and the screen peek here)."""
        page = self._pages.get(row // PAGE_ROWS)
        if page is None:
            return None
        offset = row % PAGE_ROWS
        return page[offset] if offset < len(page) else None

    def move_cursor(self, row: int) -> None:
        """Highlight ``row`` (clamped) and scroll it into view."""
        row = max(0, min(row, self.row_count - 1))
        self._cursor_row = row
        body = self._body_height()
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + body:
            self.scroll_to(y=row - body + 1, animate=False)
        self.refresh()
        self._request_visible_pages()

    # -- actions ----------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor_row + 1)

    def action_page_up(self) -> None:
        self._move_page(-1)

    def action_page_down(self) -> None:
        self._move_page(1)

    def _move_page(self, direction: int) -> None:
        """Scroll a screenful and move the cursor with it, so it keeps its place on screen."""
        step = direction * self._body_height()
        self.scroll_to(y=round(self.scroll_y) + step, animate=False)
        self.move_cursor(self._cursor_row + step)

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.move_cursor(round(self.scroll_y) + offset.y - 1)

    # -- page fetching ----------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._request_visible_pages()

    def on_resize(self, event: events.Resize) -> None:
        self._request_visible_pages()

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _wanted_pages(self) -> tuple[list[int], list[int]]:
        """The pages on screen, and the neighbours a scroll is likely to need next."""
        if self._view is None or self.row_count == 0:
            return [], []
        top = round(self.scroll_y)
        bottom = min(self.row_count, top + self._body_height()) - 1
        first, last = top // PAGE_ROWS, max(top, bottom) // PAGE_ROWS
        last_page = (self.row_count - 1) // PAGE_ROWS
        neighbours = [i for i in (first - 1, last + 1) if 0 <= i <= last_page]
        return list(range(first, last + 1)), neighbours

    def _request_visible_pages(self) -> None:
        """Start workers for missing pages, a few at a time so fast scrolling can't pile up.

        Neighbours wait until the visible pages are in: on a sorted view each page is a
        sort, and two at once on a small machine would delay the one the user is looking at.
        """
        visible, neighbours = self._wanted_pages()
        for index in visible:
            if index in self._pages:
                self._pages.move_to_end(index)
        missing = [index for index in visible if index not in self._pages]
        wanted = missing or neighbours
        for index in wanted:
            if len(self._pending) >= MAX_PAGES_IN_FLIGHT:
                return
            if (
                index not in self._pages
                and index not in self._pending
                and index not in self._failed
            ):
                self._fetch(index)

    def _fetch(self, index: int) -> None:
        assert self._view is not None
        if isinstance(self._view, MemoryView):  # a slice of a list: no worker needed
            self._store_page(index, self._view.page(index * PAGE_ROWS, PAGE_ROWS).rows)
            return
        self._pending.add(index)
        self.run_worker(
            partial(self._load_page, self._view, self._generation, index),
            thread=True,
            group="pages",
            exit_on_error=False,
            description=f"rows {index * PAGE_ROWS:,}+",
        )

    def _load_page(self, view: RowView, generation: int, index: int) -> None:
        """Runs in a worker thread: query, then hand the result to the event loop."""
        try:
            page = view.page(index * PAGE_ROWS, PAGE_ROWS)
        except Exception as error:  # any failure becomes a visible one-line message
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.post_message(self.PageFailed(self, generation, index, text))
        else:
            self.post_message(self.PageLoaded(self, generation, index, page))

    def on_lazy_table_page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self._generation:
            return
        self._pending.discard(message.index)
        self._store_page(message.index, message.page.rows)
        self._request_visible_pages()

    def _store_page(self, index: int, rows: list[tuple[object, ...]]) -> None:
        self._pages[index] = rows
        while len(self._pages) > MAX_CACHED_PAGES:
            self._pages.popitem(last=False)
        self._fit_widths(rows)
        self.refresh()

    def on_lazy_table_page_failed(self, message: PageFailed) -> None:
        if message.generation != self._generation:
            message.stop()
            return
        self._pending.discard(message.index)
        self._failed.add(message.index)
        self.refresh()

    # -- layout -----------------------------------------------------------------------------

    @staticmethod
    def _clamp(width: int) -> int:
        return max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, width))

    def _fit_widths(self, rows: list[tuple[object, ...]]) -> None:
        """Widen columns to fit a page's values; never narrow, so the layout only grows."""
        widths = (
            [
                self._clamp(max(width, *(cell_len(format_cell(row[column])) for row in rows)))
                for column, width in enumerate(self._widths)
            ]
            if rows
            else self._widths
        )
        if widths != self._widths:
            self._widths = widths
            self._update_virtual_size()

    def _update_virtual_size(self) -> None:
        total_width = sum(width + 2 for width in self._widths)
        self.virtual_size = Size(total_width, self.row_count + 1)

    # -- rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line 0 is the header whatever the scroll; line y shows row ``scroll_y + y - 1``."""
        width = self.scrollable_content_region.width
        base = self.rich_style
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            strip = self._header_strip(base)
        else:
            row = scroll_y + y - 1
            if self._view is None or row >= self.row_count:
                return Strip.blank(width, base)
            strip = self._row_strip(row, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header_strip(self, base: Style) -> Strip:
        style = base + self.get_component_rich_style("lazy-table--header")
        cells = [
            Segment(f" {_fit(inert(name), width, numeric)} ", style)
            for name, width, numeric in zip(self._columns, self._widths, self._numeric, strict=True)
        ]
        return Strip(cells)

    def _row_strip(self, row: int, base: Style) -> Strip:
        if row == self._cursor_row:
            base = base + self.get_component_rich_style("lazy-table--cursor")
        values = self.cached_row(row)
        if values is None:
            failed = row // PAGE_ROWS in self._failed
            style = base + self.get_component_rich_style("lazy-table--placeholder")
            text = "!" if failed else PLACEHOLDER_TEXT
            cells = [Segment(f" {_fit(text, width, False)} ", style) for width in self._widths]
            return Strip(cells)
        null_style = base + self.get_component_rich_style("lazy-table--null")
        segments = []
        for value, width in zip(values, self._widths, strict=False):
            text = f" {_fit(format_cell(value), width, is_number(value))} "
            segments.append(Segment(text, null_style if value is None else base))
        return Strip(segments)
