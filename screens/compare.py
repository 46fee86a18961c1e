"""Runs side by side: metrics (with deltas against a baseline run and the best marked),
parameters and lineage, one DataTable built from ``pipelines.compare``'s rows so the screen,
``workbench compare`` and reports agree on what differs."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from screens.formatting import number
from screens.routing import ForwardsWorkerFailures
from screens.sweep_detail import value_text

if TYPE_CHECKING:
    from pipelines.compare import CompareRow, Comparison
    from storage.handle import Workspace
    from storage.records import RunRecord

BEST = "★"
MAX_CELL = 40
DIFFERS_STYLE = "bold yellow"
SAME_STYLE = "dim"
SECTION_TITLES = {"metric": "Metrics", "param": "Parameters", "lineage": "Lineage"}


def run_label(run: RunRecord, is_baseline: bool) -> str:
    """A run's header: its id, and "(base)" on the baseline."""
    return f"run {run.id}" + (" (base)" if is_baseline else "")


def cell_text(row: CompareRow, index: int, baseline: int) -> Text:
    """One run's value in a row: the value, its delta against the baseline, ★ when best."""
    value = row.values[index]
    text = value_text(value) if value is not None else "–"
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    delta = row.deltas[index]
    if delta is not None and index != baseline:
        text += f" ({'+' if delta >= 0 else ''}{number(delta)})"
    if row.best == index:
        text += f" {BEST}"
    return Text(text, style="" if row.differs else SAME_STYLE)


def field_label(row: CompareRow) -> Text:
    """A row's name: highlighted when the runs disagree, dim when they all agree."""
    return Text(row.name, style=DIFFERS_STYLE if row.differs else SAME_STYLE)


class CompareScreen(ForwardsWorkerFailures, Screen[None]):
    """Runs as columns (or rows, transposed); compare_runs runs in a thread worker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("x", "toggle_differences", "Differences only", id="compare.differences"),
        Binding("p", "pin_baseline", "Pin as baseline", id="compare.pin"),
        Binding("t", "transpose", "Transpose", id="compare.transpose"),
    ]

    def __init__(self, ws: Workspace, run_ids: list[int]) -> None:
        super().__init__()
        self.workspace = ws
        self.run_ids = list(run_ids)
        self.baseline_id: int | None = None  # None: compare_runs' default, the first run
        self.comparison: Comparison | None = None
        self.differences_only = False
        self.transposed = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Comparing {len(self.run_ids)} runs — loading…", id="compare-title")
        table: DataTable[Text] = DataTable(id="compare-table", cursor_type="cell")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Compare {len(self.run_ids)} runs"
        self.query_one(DataTable).focus()
        self.load(self.baseline_id)

    @work(
        thread=True,
        exclusive=True,
        group="compare",
        exit_on_error=False,
        description="comparing runs",
    )
    def load(self, baseline: int | None) -> None:
        """Build the comparison against ``baseline`` (a run id) and hand it to the screen."""
        from pipelines.compare import compare_runs

        comparison = compare_runs(self.workspace, self.run_ids, baseline=baseline)
        self.app.call_from_thread(self.show, comparison)

    def show(self, comparison: Comparison) -> None:
        if not self.is_attached:  # the screen was closed while the worker ran
            return
        self.comparison = comparison
        self.baseline_id = comparison.runs[comparison.baseline].id
        self.render_table()
        # DataTable keeps header-only widths (and no row-label column) on the first fill after
        # mount; a second fill after that frame draws it right. Root cause not found yet.
        self.call_after_refresh(self.render_table)

    # --- display -----------------------------------------------------------------------

    def visible_rows(self) -> list[CompareRow]:
        if self.comparison is None:
            return []
        shown = self.comparison.only_differences() if self.differences_only else self.comparison
        return shown.rows

    def render_table(self, cursor: Coordinate | None = None) -> None:
        """Rebuild the table for the current comparison, filter and orientation."""
        comparison = self.comparison
        if comparison is None:
            return
        table = self.query_one(DataTable)
        cursor = cursor or table.cursor_coordinate
        table.clear(columns=True)
        rows = self.visible_rows()
        labels = [run_label(r, i == comparison.baseline) for i, r in enumerate(comparison.runs)]
        if self.transposed:
            self.fill_transposed(table, rows, labels, comparison.baseline)
        else:
            self.fill_runs_as_columns(table, rows, labels, comparison.baseline)
        if table.row_count and table.columns:
            table.cursor_coordinate = cursor  # DataTable clamps it to the new shape
        self.update_title(len(rows), len(comparison.rows))

    @staticmethod
    def fill_runs_as_columns(
        table: DataTable[Text], rows: list[CompareRow], labels: list[str], baseline: int
    ) -> None:
        """Runs as columns, one row per field, a header row before each section."""
        for index, label in enumerate(labels):
            table.add_column(Text(label, style="bold"), key=f"run-{index}")
        section = None
        for position, row in enumerate(rows):
            if row.section != section:
                section = row.section
                title = Text(SECTION_TITLES.get(section, section), style="bold reverse")
                table.add_row(*[Text("")] * len(labels), label=title, key=f"section-{section}")
            cells = [cell_text(row, i, baseline) for i in range(len(labels))]
            table.add_row(*cells, label=field_label(row), key=f"row-{position}")

    @staticmethod
    def fill_transposed(
        table: DataTable[Text], rows: list[CompareRow], labels: list[str], baseline: int
    ) -> None:
        """Runs as rows (for many runs), one column per field."""
        for position, row in enumerate(rows):
            table.add_column(field_label(row), key=f"row-{position}")
        for index, label in enumerate(labels):
            cells = [cell_text(row, index, baseline) for row in rows]
            table.add_row(*cells, label=Text(label, style="bold"), key=f"run-{index}")

    def update_title(self, shown: int, total: int, status: str = "") -> None:
        self.title = f"Compare {len(self.run_ids)} runs · baseline run {self.baseline_id}"
        parts = [self.title]
        if self.differences_only:
            parts.append(f"differences only: {shown} of {total} rows")
        else:
            parts.append(f"{total} rows")
        if status:
            parts.append(status)
        self.query_one("#compare-title", Static).update(" — ".join(parts))

    # --- actions -----------------------------------------------------------------------

    def run_at_cursor(self) -> int | None:
        """The id of the run under the cursor (its column, or its row when transposed)."""
        if self.comparison is None:
            return None
        table = self.query_one(DataTable)
        if not table.row_count or not table.columns:
            return None
        coordinate = table.cursor_coordinate
        index = coordinate.row if self.transposed else coordinate.column
        runs = self.comparison.runs
        return runs[index].id if 0 <= index < len(runs) else None

    def action_toggle_differences(self) -> None:
        """Show only the rows where the runs disagree, or every row again."""
        self.differences_only = not self.differences_only
        self.render_table()

    def action_pin_baseline(self) -> None:
        """Make the run under the cursor the baseline and recompute the deltas."""
        run_id = self.run_at_cursor()
        if run_id is None or self.comparison is None:
            return
        if run_id == self.baseline_id:
            self.notify(f"run {run_id} is already the baseline", timeout=2)
            return
        rows = self.visible_rows()
        self.update_title(len(rows), len(self.comparison.rows), f"pinning run {run_id}…")
        self.load(run_id)

    def action_transpose(self) -> None:
        """Swap runs between columns and rows (rows suit hundreds of runs)."""
        self.transposed = not self.transposed
        row, column = self.query_one(DataTable).cursor_coordinate
        self.render_table(Coordinate(column, row))  # the same run stays under the cursor

    def action_back(self) -> None:
        self.app.pop_screen()
