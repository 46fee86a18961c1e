"""The compare table for many runs: every cell formatted and measured once, in the worker
that built the comparison (``format_cells``), then drawn through GridTable a window at a
time (``CompareGrid``), so 1,000 runs × 32 fields cost the event loop what is on screen.

The texts and styles are the ones the DataTable of a small comparison shows (the same
``cell_plain``, labels and section titles); sorting, filtering, differences only and
transposing reuse them (a delta is against the baseline and ★ marks a value, whatever the
order), so only pinning another baseline formats again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.message import Message

from pipelines.inert import inert
from screens.compare_table import DIFFERS_STYLE, SAME_STYLE, SECTION_TITLES, cell_plain
from screens.widgets.colours import rich_colour
from screens.widgets.tables import MAX_COLUMN_WIDTH

if TYPE_CHECKING:
    from pipelines.runs.compare import CompareRow, Comparison

TITLE_STYLE = "bold reverse"
DIVIDER = ("│", "dim")  # a section's title column, runs as rows


@dataclass(frozen=True)
class FormattedCells:
    """Every cell of one comparison as text, with the widest cell of each row and run."""

    run_index: dict[int, int]  # run id → position in each row of ``texts``
    row_index: dict[tuple[str, str], int]  # (section, field) → row of ``texts``
    texts: list[list[str]]
    row_widths: list[int]  # widest cell of each field
    run_widths: list[int]  # widest cell of each run, over every field


@dataclass
class ComparisonFormatted(Message, bubble=False):
    """A worker built and formatted a comparison (``comparison`` already in the order
    asked for; ``cells`` in any order: they are found by run id)."""

    comparison: Comparison
    cells: FormattedCells
    sort_by: tuple[str, str, bool] | None  # the order ``comparison`` is in


def format_cells(comparison: Comparison) -> FormattedCells:
    """Runs in a worker thread: the text of every cell and the widths (O(cells))."""
    runs, base = comparison.runs, comparison.baseline
    texts = [[cell_plain(row, i, base) for i in range(len(runs))] for row in comparison.rows]
    widths = [[len(text) if text.isascii() else cell_len(text) for text in row] for row in texts]
    return FormattedCells(
        run_index={run.id: i for i, run in enumerate(runs)},
        row_index={(row.section, row.name): i for i, row in enumerate(comparison.rows)},
        texts=texts,
        row_widths=[max(row, default=0) for row in widths],
        run_widths=[max(column) for column in zip(*widths, strict=True)] or [0] * len(runs),
    )


class CompareGrid:
    """A ``GridSource`` over formatted cells: runs as rows (``transposed``) or as columns,
    the fields in ``rows`` with a title before each section. Built in O(runs + fields)."""

    def __init__(
        self,
        cells: FormattedCells,
        comparison: Comparison,
        rows: list[CompareRow],
        colours: dict[int, tuple[int, int, int]],
        transposed: bool,
    ) -> None:
        self.cells = cells
        self.transposed = transposed
        runs = comparison.runs
        self.order = [cells.run_index[run.id] for run in runs]
        self.run_labels = [
            (
                f"run {run.id}" + (" (base)" if i == comparison.baseline else ""),
                f"bold {rich_colour(colours[run.id])}" if run.id in colours else "bold",
            )
            for i, run in enumerate(runs)
        ]
        self.shown: list[CompareRow | None] = []  # each field line (None: a section title)
        self.titles: list[str] = []  # the title of each field line
        self.text_rows: list[int] = []  # each field line's row of ``cells.texts`` (-1: title)
        section = None
        for row in rows:
            if row.section != section:
                section = row.section
                self.shown.append(None)
                self.titles.append(SECTION_TITLES.get(section, section))
                self.text_rows.append(-1)
            self.shown.append(row)
            self.titles.append(inert(row.name))
            self.text_rows.append(cells.row_index[(row.section, row.name)])

    # -- the GridSource protocol ----------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.order) if self.transposed else len(self.shown)

    @property
    def column_count(self) -> int:
        return len(self.shown) if self.transposed else len(self.order)

    def column_widths(self) -> list[int]:
        if self.transposed:
            widths = [
                cell_len(title) if line < 0 else max(cell_len(title), self.cells.row_widths[line])
                for title, line in zip(self.titles, self.text_rows, strict=True)
            ]
        else:
            widths = [
                max(cell_len(label), self.cells.run_widths[index])
                for (label, _), index in zip(self.run_labels, self.order, strict=True)
            ]
        return [min(width, MAX_COLUMN_WIDTH) for width in widths]

    def label_width(self) -> int:
        labels = [label for label, _ in self.run_labels] if self.transposed else self.titles
        return min(MAX_COLUMN_WIDTH, max(map(cell_len, labels), default=0))

    def header(self, column: int) -> tuple[str, str]:
        return self._field(column) if self.transposed else self.run_labels[column]

    def label(self, row: int) -> tuple[str, str]:
        return self.run_labels[row] if self.transposed else self._field(row)

    def cell(self, row: int, column: int) -> tuple[str, str]:
        field, run = (column, row) if self.transposed else (row, column)
        line = self.text_rows[field]
        if line < 0:
            return DIVIDER if self.transposed else ("", "")
        shown = self.shown[field]
        style = "" if shown is not None and shown.differs else SAME_STYLE
        return self.cells.texts[line][self.order[run]], style

    def _field(self, index: int) -> tuple[str, str]:
        """A field line's name (highlighted when the runs disagree), or a section title."""
        shown = self.shown[index]
        if shown is None:
            return self.titles[index], TITLE_STYLE
        return self.titles[index], DIFFERS_STYLE if shown.differs else SAME_STYLE
