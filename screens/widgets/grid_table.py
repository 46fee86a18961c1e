"""A virtualised grid with a cell cursor, for tables too big for DataTable.

DataTable turns every cell into a Rich renderable and measures it on the event loop, and
paints whole rows: 1,000 runs × 32 fields cost seconds before the first frame. GridTable
draws plain strings that a ``GridSource`` formatted and measured beforehand (in a worker),
with Textual's Line API: each painted line renders only the cells inside the window, so a
frame costs what is visible, whatever the size of the table. It looks and moves like
DataTable in cell mode: a header row, a label column that stays put when scrolling
sideways, the same keys (arrows, page up/down, home/end for the first and last column,
ctrl+home/ctrl+end for the first and last row) and the same component styles.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from typing import ClassVar, Protocol

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

PADDING = 1  # one blank cell either side of every value, as DataTable draws them


class GridSource(Protocol):
    """What a GridTable shows. Every call is cheap: texts are formatted and widths measured
    before the source is handed over; the table asks only for the cells on screen."""

    @property
    def row_count(self) -> int: ...

    @property
    def column_count(self) -> int: ...

    def column_widths(self) -> list[int]:
        """Cells of each column's widest value (header included), without padding."""
        ...

    def label_width(self) -> int:
        """Cells of the widest row label; 0 hides the label column."""
        ...

    def header(self, column: int) -> tuple[str, str]:
        """A column's title and its Rich style (a string, e.g. "bold #ff0000")."""
        ...

    def label(self, row: int) -> tuple[str, str]: ...

    def cell(self, row: int, column: int) -> tuple[str, str]: ...


@lru_cache(maxsize=256)
def _style(text: str) -> Style:
    return Style.parse(text) if text else Style()


def _cells(text: str, width: int, style: Style, around: Style) -> list[Segment]:
    """``text`` in ``width`` cells, cut with an ellipsis, padded with a blank one either
    side and out to the width in ``around`` (as DataTable pads a value)."""
    size = cell_len(text)
    if size > width:
        text, size = (set_cell_size(text, width - 1) + "…" if width else ""), width
    pad = " " * PADDING
    return [Segment(pad, around), Segment(text, style), Segment(" " * (width - size) + pad, around)]


class GridTable(ScrollView, can_focus=True):
    """A ``GridSource`` drawn a window at a time, with a cell cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1, 0)", "Cursor up", show=False),
        Binding("down", "cursor(1, 0)", "Cursor down", show=False),
        Binding("left", "cursor(0, -1)", "Cursor left", show=False),
        Binding("right", "cursor(0, 1)", "Cursor right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first_column", "Home", show=False),
        Binding("end", "last_column", "End", show=False),
        Binding("ctrl+home", "first_row", "Top", show=False),
        Binding("ctrl+end", "last_row", "Bottom", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "grid-table--header",
        "grid-table--cursor",
    }

    DEFAULT_CSS = """
    GridTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .grid-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .grid-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .grid-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .grid-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class CursorMoved(Message):
        """The cursor is on another cell (bubbles to the screen)."""

        def __init__(self, table: GridTable, coordinate: Coordinate) -> None:
            super().__init__()
            self.table = table
            self.coordinate = coordinate

        @property
        def control(self) -> GridTable:
            return self.table

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._source: GridSource | None = None
        self._widths: list[int] = []
        self._offsets: list[int] = [0]  # where each column starts, padding included
        self._label = 0  # cells of the label column, padding included (0: none)
        self._cursor = Coordinate(0, 0)

    # -- public API -------------------------------------------------------------------------

    @property
    def source(self) -> GridSource | None:
        return self._source

    @property
    def row_count(self) -> int:
        return self._source.row_count if self._source is not None else 0

    @property
    def column_count(self) -> int:
        return self._source.column_count if self._source is not None else 0

    def show(self, source: GridSource | None, cursor: Coordinate | None = None) -> None:
        """Draw ``source`` instead (O(columns): only the column offsets are added up); the
        cursor goes to ``cursor`` (clamped), else stays where it is."""
        self._source = source
        self._widths = source.column_widths() if source is not None else []
        self._offsets = [0]
        for width in self._widths:
            self._offsets.append(self._offsets[-1] + width + 2 * PADDING)
        label = source.label_width() if source is not None else 0
        self._label = label + 2 * PADDING if label else 0
        self.virtual_size = Size(self._label + self._offsets[-1], self.row_count + 1)
        self.refresh()
        self.cursor_coordinate = cursor if cursor is not None else self._cursor

    @property
    def cursor_coordinate(self) -> Coordinate:
        return self._cursor

    @cursor_coordinate.setter
    def cursor_coordinate(self, value: Coordinate) -> None:
        row = max(0, min(value.row, self.row_count - 1))
        column = max(0, min(value.column, self.column_count - 1))
        moved = Coordinate(row, column) != self._cursor
        self._cursor = Coordinate(row, column)
        self._scroll_to_cursor()
        self.refresh()
        if moved:
            self.post_message(self.CursorMoved(self, self._cursor))

    def move_cursor(self, row: int | None = None, column: int | None = None) -> None:
        here = self._cursor
        self.cursor_coordinate = Coordinate(
            here.row if row is None else row, here.column if column is None else column
        )

    # -- actions ----------------------------------------------------------------------------

    def action_cursor(self, rows: int, columns: int) -> None:
        self.move_cursor(self._cursor.row + rows, self._cursor.column + columns)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self._cursor.row + direction * self._body_height())

    def action_first_column(self) -> None:
        self.move_cursor(column=0)

    def action_last_column(self) -> None:
        self.move_cursor(column=self.column_count - 1)

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1 or offset.x < self._label:
            return
        x = round(self.scroll_x) + offset.x - self._label
        column = bisect_right(self._offsets, x) - 1
        if 0 <= column < self.column_count:
            self.move_cursor(round(self.scroll_y) + offset.y - 1, column)

    # -- layout -----------------------------------------------------------------------------

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _columns_width(self) -> int:
        return max(1, self.scrollable_content_region.width - self._label)

    def _scroll_to_cursor(self) -> None:
        """Scroll the least that shows the cursor's cell (the header and labels stay put)."""
        if not self.row_count or not self.column_count:
            return
        row, column = self._cursor
        x, y = round(self.scroll_x), round(self.scroll_y)
        body, across = self._body_height(), self._columns_width()
        if row < y:
            y = row
        elif row >= y + body:
            y = row - body + 1
        left, right = self._offsets[column], self._offsets[column + 1]
        if left < x or right - left > across:
            x = left
        elif right > x + across:
            x = right - across
        if (x, y) != (round(self.scroll_x), round(self.scroll_y)):
            self.scroll_to(x, y, animate=False, force=True)

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

    # -- rendering --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line 0 is the header whatever the scroll; line y shows row ``scroll_y + y - 1``.
        Only the columns inside the window are turned into segments."""
        width = self.scrollable_content_region.width
        base = self.rich_style
        source = self._source
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y - 1
        if source is None or (y and row >= source.row_count):
            return Strip.blank(width, base)
        header = base + self.get_component_rich_style("grid-table--header")
        cursor = self.get_component_rich_style("grid-table--cursor")
        across = max(0, width - self._label)
        first = max(0, bisect_right(self._offsets, scroll_x) - 1)
        segments: list[Segment] = []
        column = first
        while column < source.column_count and self._offsets[column] < scroll_x + across:
            if y == 0:
                text, style = source.header(column)
                around = header
            else:
                text, style = source.cell(row, column)
                around = base + cursor if (row, column) == tuple(self._cursor) else base
            segments += _cells(text, self._widths[column], around + _style(style), around)
            column += 1
        body = Strip(segments).crop_extend(
            scroll_x - self._offsets[first], scroll_x - self._offsets[first] + across, base
        )
        if not self._label:
            return body
        text, style = ("", "") if y == 0 else source.label(row)
        label = _cells(text, self._label - 2 * PADDING, header + _style(style), header)
        return Strip.join([Strip(label), body]).crop_extend(0, width, base)
