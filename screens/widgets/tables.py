"""Filling a DataTable with column widths measured up front.

DataTable measures auto-width columns on its next idle tick, and a frame painted before that
tick can keep the header at the label widths while the rows are drawn at the measured
widths (seen as a misaligned header on the first fill). Measuring here and giving each
column an explicit width makes the very first frame final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

MAX_COLUMN_WIDTH = 60  # one long value must not push every other column off screen


@dataclass(frozen=True)
class TableRow:
    """One row to add: its key, its cells in column order, and an optional label."""

    key: str
    cells: Sequence[object]
    label: str | Text | None = None


def measure(value: object) -> int:
    """Terminal cells a cell value takes on one line."""
    if isinstance(value, Text):
        return max((cell_len(line.plain) for line in value.split()), default=0)
    return max((cell_len(line) for line in str(value).splitlines()), default=0)


def fill_table(
    table: DataTable[object],
    columns: Sequence[str | Text | tuple[str | Text, str]],
    rows: Sequence[TableRow],
) -> None:
    """Replace the table's columns and rows; each column as wide as its widest cell."""
    table.clear(columns=True)
    specs = [c if isinstance(c, tuple) else (c, None) for c in columns]
    for index, (label, key) in enumerate(specs):
        widest = max([measure(label), *(measure(r.cells[index]) for r in rows)])
        table.add_column(label, key=key, width=min(widest, MAX_COLUMN_WIDTH))
    for row in rows:
        table.add_row(*row.cells, key=row.key, label=row.label)
