"""Cells and rows of the compare table, both orientations, with a header per section.

Kept apart from the screen so the screen holds state and keys, and this module only turns
``pipelines.runs.compare`` rows into DataTable content."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable

from screens.formatting import delta, user_text, value_text
from screens.widgets.colours import rich_colour
from screens.widgets.tables import TableRow, fill_table

if TYPE_CHECKING:
    from pipelines.runs.compare import CompareRow, Comparison
    from storage.records import RunRecord

BEST = "★"
MAX_CELL = 24  # a long value (a commit, a platform) is cut so three runs fit 100 columns
DIFFERS_STYLE = "bold yellow"
SAME_STYLE = "dim"
SECTION_TITLES = {"metric": "Metrics", "param": "Parameters", "lineage": "Lineage"}


def run_label(run: RunRecord, is_baseline: bool, colour: tuple[int, int, int] | None) -> Text:
    """A run's header: its id in its colour, and "(base)" on the baseline."""
    style = f"bold {rich_colour(colour)}" if colour else "bold"
    return Text(f"run {run.id}" + (" (base)" if is_baseline else ""), style=style)


def cell_text(row: CompareRow, index: int, baseline: int) -> Text:
    """One run's value in a row, dim where every run agrees."""
    return Text(cell_plain(row, index, baseline), style="" if row.differs else SAME_STYLE)


def cell_plain(row: CompareRow, index: int, baseline: int) -> str:
    """One run's value in a row: the value, its delta against the baseline (two significant
    digits), ★ on every run that holds the best value."""
    value = row.values[index]
    text = value_text(value) if value is not None else "–"
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    change = row.deltas[index]
    if change is not None and index != baseline:
        text += f" ({delta(change)})"
    if row.is_best(index):
        text += f" {BEST}"
    return text


def field_label(row: CompareRow) -> Text:
    """A row's name: highlighted when the runs disagree, dim when they all agree."""
    return user_text(row.name, style=DIFFERS_STYLE if row.differs else SAME_STYLE)


def section_title(section: str) -> Text:
    return Text(SECTION_TITLES.get(section, section), style="bold reverse")


def fill_runs_as_columns(
    table: DataTable[object],
    comparison: Comparison,
    rows: list[CompareRow],
    colours: dict[int, tuple[int, int, int]],
) -> list[CompareRow | None]:
    """Runs as columns, one row per field, a title row before each section. Returns what
    each table row shows (None for a title row) so the cursor can be mapped to a field."""
    runs, base = comparison.runs, comparison.baseline
    columns = [
        (run_label(run, i == base, colours.get(run.id)), f"run-{i}") for i, run in enumerate(runs)
    ]
    table_rows: list[TableRow] = []
    shown: list[CompareRow | None] = []
    section = None
    for position, row in enumerate(rows):
        if row.section != section:
            section = row.section
            blank = [Text("")] * len(runs)
            table_rows.append(TableRow(f"section-{section}", blank, section_title(section)))
            shown.append(None)
        cells = [cell_text(row, i, base) for i in range(len(runs))]
        table_rows.append(TableRow(f"row-{position}", cells, field_label(row)))
        shown.append(row)
    fill_table(table, columns, table_rows, fixed=True)
    return shown


def fill_transposed(
    table: DataTable[object],
    comparison: Comparison,
    rows: list[CompareRow],
    colours: dict[int, tuple[int, int, int]],
) -> list[CompareRow | None]:
    """Runs as rows (for many runs), one column per field, a title column per section.
    Returns what each column shows (None for a title column)."""
    runs, base = comparison.runs, comparison.baseline
    columns: list[tuple[str | Text, str]] = []
    shown: list[CompareRow | None] = []
    section = None
    for position, row in enumerate(rows):
        if row.section != section:
            section = row.section
            columns.append((section_title(section), f"section-{section}"))
            shown.append(None)
        columns.append((field_label(row), f"row-{position}"))
        shown.append(row)
    table_rows = []
    for index, run in enumerate(runs):
        cells: list[object] = []
        for row in shown:
            cells.append(Text("│", style="dim") if row is None else cell_text(row, index, base))
        label = run_label(run, index == base, colours.get(run.id))
        table_rows.append(TableRow(f"run-{index}", cells, label))
    fill_table(table, columns, table_rows, fixed=True)
    return shown
