"""Filling and updating a DataTable with column widths that are right on the first frame and
stay right after live updates.

DataTable measures auto-width columns on its next idle tick, and a frame painted before that
tick can keep the header at the label widths while the rows are drawn at the measured widths
(seen as a misaligned header on the first fill). So ``fill_table`` measures every column up
front and hands DataTable the result. The columns stay auto-width, and ``update_row``
measures its columns again up front the same way (DataTable's idle tick then finds the same
widths): a status that grows from ``running`` to ``finished`` is not cut to the old width,
not even by a frame painted before the tick (DataTable keys its line caches on an update
count its idle tick does not bump, so such a frame stayed on screen). Long values are cut
with an ellipsis instead, so one of them cannot push every other column off screen.

Row labels need the same care, and worse: DataTable turns its label column on and measures
it only on that idle tick, from row renderables it caches by its update count. A frame painted
before the tick (a loaded machine) caches the rows without labels, the tick then measures
those label-less rows as 0 cells wide, and the labels stay hidden until the next fill. So
``show_labels`` turns the label column on and sizes it before any frame can be painted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

MAX_COLUMN_WIDTH = 60  # one long value must not push every other column off screen


@dataclass(frozen=True)
class TableRow:
    """One row to add: its key, its cells in column order, and an optional label."""

    key: str
    cells: Sequence[object]
    label: str | Text | None = None


def measure(value: object) -> int:
    """Terminal cells a cell value takes on one line."""
    text = value.plain if isinstance(value, Text) else str(value)
    if "\n" not in text:
        return cell_len(text)
    return max((cell_len(line) for line in text.splitlines()), default=0)


def cell(value: object, most: int = MAX_COLUMN_WIDTH) -> object:
    """A value as DataTable should get it: text (never parsed as markup) at most ``most``
    cells wide, cut with an ellipsis; other renderables as they are."""
    if isinstance(value, str):
        value = Text(value)
    if isinstance(value, Text) and measure(value) > most:
        value = value.copy()
        value.truncate(most, overflow="ellipsis")
    return value


def fill_table(
    table: DataTable[object],
    columns: Sequence[str | Text | tuple[str | Text, str]],
    rows: Sequence[TableRow],
    *,
    widest: Mapping[str, int] | None = None,
    fixed: bool = False,
) -> None:
    """Replace the table's columns and rows; each column as wide as its widest cell, at most
    ``widest[key]`` (or MAX_COLUMN_WIDTH) cells. ``fixed``: the columns keep those widths
    (for a table never updated in place): DataTable's idle tick then measures no cell, where
    auto-width columns have every new cell rendered by Rich on the event loop (~1 s for
    1,000 runs × 32 fields)."""
    table.clear(columns=True)
    specs = [c if isinstance(c, tuple) else (c, None) for c in columns]
    limits = [(widest or {}).get(key or "", MAX_COLUMN_WIDTH) for _, key in specs]
    cells = [[cell(value, limits[i]) for i, value in enumerate(row.cells)] for row in rows]
    for index, (label, key) in enumerate(specs):
        wide = max([measure(label), *(measure(row[index]) for row in cells)])
        column_key = table.add_column(label, key=key, width=wide if fixed else None)
        table.columns[column_key].content_width = wide
    for row, values in zip(rows, cells, strict=True):
        table.add_row(*values, key=row.key, label=label_text(row.label))
    show_labels(table, [row.label for row in rows])
    if fixed:  # measured above: the idle tick only sizes the table (private, Textual 8.2)
        table._new_rows.clear()


def label_text(value: str | Text | None) -> Text | None:
    """A row label as DataTable should get it: text, never parsed as markup."""
    return Text(value) if isinstance(value, str) else value


def show_labels(table: DataTable[object], labels: Sequence[str | Text | None]) -> None:
    """Turn the label column on and widen it to the widest of ``labels`` now, as DataTable's
    next idle tick would (it only ever widens it until ``clear``), so no frame painted before
    that tick caches rows without their labels.

    Uses DataTable's private ``_labelled_row_exists`` and ``_label_column`` (Textual 8.2);
    tests/test_table_labels.py fails if Textual renames them or sizes the column otherwise.
    """
    widths = [measure(value) for value in labels if value]
    if not widths:
        return
    table._labelled_row_exists = True
    column = table._label_column
    column.content_width = max(column.content_width, *widths)
    table.refresh(layout=True)


def update_row(
    table: DataTable[object],
    row_key: str,
    values: Mapping[str, object],
    *,
    widest: Mapping[str, int] | None = None,
) -> None:
    """Change cells of one row in place (the cursor stays); their columns are measured again,
    now, as DataTable's idle tick would measure them: a frame painted before that tick would
    otherwise cache the rows at the old width, and the grown value stay cut."""
    for key, value in values.items():
        most = (widest or {}).get(key, MAX_COLUMN_WIDTH)
        table.update_cell(row_key, ColumnKey(key), cell(value, most), update_width=True)
        column = table.columns[ColumnKey(key)]
        widths = (measure(other) for other in table.get_column(ColumnKey(key)))
        column.content_width = max(measure(column.label), *widths)


def append_row(
    table: DataTable[object], row: TableRow, *, widest: Mapping[str, int] | None = None
) -> None:
    """Add a row after the first fill; DataTable widens its columns to fit it (the new row
    is drawn after that, with the table's next layout)."""
    limits = [(widest or {}).get(str(c.key.value), MAX_COLUMN_WIDTH) for c in table.ordered_columns]
    values = [cell(value, limits[i]) for i, value in enumerate(row.cells)]
    table.add_row(*values, key=row.key, label=label_text(row.label))
    show_labels(table, [row.label])
