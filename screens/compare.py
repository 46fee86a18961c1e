"""Runs side by side. The Table tab holds metrics (deltas against a pinned baseline, the best
marked), parameters and lineage from ``pipelines.runs.compare``, so the screen, ``workbench
compare`` and reports agree on what differs; Curves, Folds, Slice and Insight tabs draw the
same runs in the same colours. Every query and statistic runs in a thread worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

from screens import compare_panels as panels
from screens.compare_grid import CompareGrid, ComparisonFormatted, format_cells
from screens.compare_table import fill_runs_as_columns, fill_transposed
from screens.focus import RestoresFocus
from screens.loaded import ComparisonLoaded, CurvesLoaded, InsightLoaded, SliceLoaded
from screens.routing import ForwardsWorkerFailures
from screens.widgets.colours import run_colour
from screens.widgets.footer import KeysFooter
from screens.widgets.grid_table import GridTable

if TYPE_CHECKING:
    from pipelines.runs.compare import CompareRow, Comparison
    from pipelines.runs.compare_views import SweepSlice
    from screens.compare_grid import FormattedCells
    from storage.handle import Workspace
    from storage.records import RunRecord

TABS = ("table", "curves", "folds", "slice", "insight")
RUNS_AS_ROWS_FROM = 16  # hundreds of runs read better as rows
GRID_FROM = 16  # from here the table is a GridTable: DataTable renders every cell up front


class CompareScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """State (order, filter, baseline, orientation) lives here; drawing is delegated."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding(
            "x",
            "toggle_differences",
            "Diff only",
            id="compare.differences",
            tooltip="Differences only: hide rows where every run agrees",
        ),
        Binding(
            "p",
            "pin_baseline",
            "Pin",
            id="compare.pin",
            tooltip="Pin the run under the cursor as baseline",
        ),
        Binding(
            "o",
            "sort",
            "Order",
            id="compare.sort",
            tooltip="Order the runs by the row under the cursor",
        ),
        Binding("slash", "filter", "Filter", key_display="/", id="compare.filter"),
        Binding("t", "transpose", "Transpose", id="compare.transpose"),
        Binding("e", "export", "Export", id="compare.export"),
        Binding(
            "left_square_bracket",
            "cycle(-1)",
            "Previous curve, parameter or run",
            key_display="[",
            show=False,
            id="compare.previous",
        ),
        Binding(
            "right_square_bracket",
            "cycle(1)",
            "Next curve, parameter or run",
            key_display="]",
            show=False,
            id="compare.next",
        ),
        Binding("i", "permutation", "Permutation importance", show=False, id="compare.perm"),
        Binding("M", "register", "Register model", show=False, id="compare.register"),
        *(
            Binding(str(n), f"tab('{tab}')", f"{tab.title()} tab", show=False, id=f"compare.{tab}")
            for n, tab in enumerate(TABS, start=1)
        ),
    ]

    def __init__(self, ws: Workspace, run_ids: list[int]) -> None:
        super().__init__()
        self.workspace = ws
        self.run_ids = list(run_ids)
        self.colours = {rid: run_colour(i) for i, rid in enumerate(self.run_ids)}
        self.baseline_id: int | None = None  # None: compare_runs' default, the first run
        self.comparison: Comparison | None = None
        self.differences_only = False
        self.transposed = len(self.run_ids) >= RUNS_AS_ROWS_FROM
        self.grid = len(self.run_ids) >= GRID_FROM
        self.cells: FormattedCells | None = None  # the grid's texts, for this baseline
        self.filter_text = ""
        self.sort_by: tuple[str, str, bool] | None = None  # (section, field, descending)
        self.shown: list[CompareRow | None] = []  # table row (or column) → field
        self.curves: dict[int, dict[str, list[tuple[int, float]]]] | None = None
        self.curve_key = 0
        self.slice: SweepSlice | None = None
        self.slice_param = 0
        self.insight_run_id: int | None = None  # None: the first run shown
        self._wanted_baseline: int | None = None  # the latest pin asked for
        self._first_fill = True
        self._tabs_mounted = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Comparing {len(self.run_ids)} runs — loading…", id="compare-title")
        yield Input(placeholder="filter fields, e.g. learning or lineage", id="compare-filter")
        with TabbedContent(id="compare-tabs"):
            with TabPane("1 Table", id="table"):
                if self.grid:
                    yield GridTable(id="compare-table")
                else:
                    yield DataTable(id="compare-table", cursor_type="cell")
            for number, tab in enumerate(TABS[1:], start=2):  # filled by mount_tabs
                yield TabPane(f"{number} {tab.title()}", id=tab)
        yield KeysFooter()

    def mount_tabs(self) -> None:
        """Put the plots and panels in the other tabs, once: after the table's first frame,
        or when a tab is drawn first (plotext is imported here, not before the table)."""
        if self._tabs_mounted:
            return
        self._tabs_mounted = True
        from textual_plotext import PlotextPlot  # plotext loads when runs are compared

        def note(text: str, id: str) -> Static:
            return Static(text, id=id, classes="plot-note", markup=False)

        panes = {
            "curves": [PlotextPlot(id="compare-curves"), note("loading …", "curves-note")],
            "folds": [
                PlotextPlot(id="compare-folds"),
                VerticalScroll(Static("", id="folds-table"), id="folds-scroll"),
            ],
            "slice": [PlotextPlot(id="compare-slice"), note("loading trials …", "slice-note")],
            "insight": [VerticalScroll(Static("", id="insight-body"), id="insight-scroll")],
        }
        for tab, widgets in panes.items():
            self.query_one(f"#{tab}", TabPane).mount(*widgets)

    def on_mount(self) -> None:
        self.title = f"Compare {len(self.run_ids)} runs"
        self.query_one("#compare-filter").display = False
        self.table().focus()
        self.load(self.baseline_id)

    # --- data in -----------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        group="compare",
        exit_on_error=False,
        description="comparing runs",
    )
    def load(self, baseline: int | None) -> None:
        """Build the comparison against ``baseline`` (a run id) and hand it to the screen."""
        from pipelines.runs.compare import compare_runs

        comparison = compare_runs(self.workspace, self.run_ids, baseline=baseline)
        if not self.grid:
            self.post_message(ComparisonLoaded(comparison))
            return
        sort_by = self.sort_by  # every cell is formatted and ordered here, off the event loop
        ordered = self.ordered(comparison, sort_by)
        self.post_message(ComparisonFormatted(ordered, format_cells(comparison), sort_by))

    @on(ComparisonLoaded)
    def comparison_loaded(self, event: ComparisonLoaded) -> None:
        self.show(event.comparison)

    @on(ComparisonFormatted)
    def comparison_formatted(self, event: ComparisonFormatted) -> None:
        self.show(event.comparison, event.cells, event.sort_by)

    def table(self) -> DataTable[object] | GridTable:
        """The Table tab's table: a GridTable for many runs, else a DataTable."""
        if self.grid:
            return self.query_one("#compare-table", GridTable)
        return self.query_one("#compare-table", DataTable)

    def show(
        self,
        comparison: Comparison,
        cells: FormattedCells | None = None,
        sorted_by: tuple[str, str, bool] | None = None,
    ) -> None:
        """Show a loaded comparison (``sorted_by``: the order it is already in)."""
        wanted = self._wanted_baseline or self.run_ids[0]
        if comparison.runs[comparison.baseline].id != wanted:
            return  # an earlier pin finishing late: thread workers cannot be cancelled
        self.cells = cells
        same = cells is not None and sorted_by == self.sort_by
        self.comparison = comparison if same else self.ordered(comparison, self.sort_by)
        self.baseline_id = comparison.runs[comparison.baseline].id
        if self._first_fill:
            self._first_fill = False
            first_field = Coordinate(0, 1) if self.transposed else Coordinate(1, 0)
            self.render_table(first_field)  # not on the Metrics title
        else:
            self.render_table()
        self.redraw_tab()

    @staticmethod
    def ordered(comparison: Comparison, sort_by: tuple[str, str, bool] | None) -> Comparison:
        """Apply the chosen sort (if any) to a freshly loaded comparison."""
        if sort_by is None:
            return comparison
        from pipelines.runs.compare_views import sort_runs

        section, name, descending = sort_by
        row = next((r for r in comparison.rows if (r.section, r.name) == (section, name)), None)
        return comparison if row is None else sort_runs(comparison, row, descending)

    @work(
        thread=True,
        exclusive=True,
        group="compare-curves",
        exit_on_error=False,
        description="loading curves",
    )
    def load_curves(self) -> None:
        from pipelines.runs.compare_views import run_curves

        self.post_message(CurvesLoaded(run_curves(self.workspace, self.run_ids)))

    @on(CurvesLoaded)
    def curves_loaded(self, event: CurvesLoaded) -> None:
        self.curves = event.curves
        self.draw_curves()

    @work(
        thread=True,
        exclusive=True,
        group="compare-slice",
        exit_on_error=False,
        description="loading the sweep's trials",
    )
    def load_slice(self, sweep_id: int) -> None:
        from pipelines.runs.compare_views import sweep_slice

        self.post_message(SliceLoaded(sweep_slice(self.workspace, sweep_id)))

    @on(SliceLoaded)
    def slice_loaded(self, event: SliceLoaded) -> None:
        data = event.data
        if self.comparison is None:
            return
        if data.sweep_id != self.comparison.runs[self.comparison.baseline].sweep_id:
            return  # the baseline moved to another sweep while this one loaded
        self.slice = data
        self.draw_slice()

    # --- display -----------------------------------------------------------------------

    def visible_rows(self) -> list[CompareRow]:
        if self.comparison is None:
            return []
        shown = self.comparison.only_differences() if self.differences_only else self.comparison
        needle = self.filter_text.lower()
        return [r for r in shown.rows if needle in f"{r.section} {r.name}".lower()]

    def render_table(self, cursor: Coordinate | None = None) -> None:
        """Rebuild the table for the current comparison, order, filter and orientation."""
        if self.comparison is None:
            return
        table = self.table()
        cursor = cursor or table.cursor_coordinate
        rows = self.visible_rows()
        if isinstance(table, GridTable):  # many runs: O(runs + fields), cells drawn on demand
            assert self.cells is not None
            grid = CompareGrid(self.cells, self.comparison, rows, self.colours, self.transposed)
            self.shown = grid.shown
            table.show(grid, cursor)  # the cursor clamped to the new shape
        else:
            fill = fill_transposed if self.transposed else fill_runs_as_columns
            self.shown = fill(table, self.comparison, rows, self.colours)
            if table.row_count and table.columns:
                table.cursor_coordinate = cursor  # DataTable clamps it to the new shape
        self.update_title(len(rows), len(self.comparison.rows))

    def update_title(self, shown: int, total: int, status: str = "") -> None:
        self.title = f"Compare {len(self.run_ids)} runs · baseline run {self.baseline_id}"
        parts = [self.title, f"{shown} of {total} rows" if shown != total else f"{total} rows"]
        if self.differences_only:
            parts.append("differences only")
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}”")
        if self.sort_by:
            parts.append(f"sorted by {self.sort_by[1]} {'↓' if self.sort_by[2] else '↑'}")
        if status:
            parts.append(status)
        self.query_one("#compare-title", Static).update(" — ".join(parts))

    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active or "table"

    @on(TabbedContent.TabActivated)
    def redraw_tab(self) -> None:
        """Draw the active tab; data for a tab loads the first time it is shown."""
        tab = self.active_tab()
        if tab == "table":
            if self.comparison is not None:  # the other tabs, once the table is painted
                self.call_after_refresh(self.mount_tabs)
            return
        self.mount_tabs()
        if self.comparison is None:
            return
        if tab == "curves":
            self.load_curves() if self.curves is None else self.draw_curves()
        elif tab == "folds":
            self.draw_folds()
        elif tab == "slice":
            base = self.comparison.runs[self.comparison.baseline]
            if self.slice is None or self.slice.sweep_id != base.sweep_id:
                self.plot("slice").plt.clear_figure()
                self.plot("slice").refresh()
                note = self.query_one("#slice-note", Static)
                note.update(f"loading the trials of sweep {base.sweep_id} …")
                self.load_slice(base.sweep_id)
            else:
                self.draw_slice()
        elif tab == "insight":
            self.show_insight()

    def plot(self, name: str) -> Any:
        from textual_plotext import PlotextPlot

        return self.query_one(f"#compare-{name}", PlotextPlot)

    def draw_curves(self) -> None:
        if self.comparison is None or self.curves is None:
            return
        sweep_metric = next(r.name for r in self.comparison.rows if r.section == "metric")
        keys = panels.curve_keys(self.curves, sweep_metric)
        note = self.query_one("#curves-note", Static)
        plot = self.plot("curves")
        if not keys:
            plot.plt.clear_figure()
            note.update("no per-iteration curves: these models record none (LightGBM does)")
        else:
            key = keys[self.curve_key % len(keys)]
            runs = self.comparison.runs
            text = panels.draw_curves(plot.plt, runs, self.colours, self.curves, key)
            more = f" · [ and ] switch curve ({len(keys)})" if len(keys) > 1 else ""
            note.update(text + more)
        plot.refresh()

    def draw_folds(self) -> None:
        if self.comparison is None:
            return
        plot = self.plot("folds")
        note = panels.draw_folds(plot.plt, self.comparison.runs, self.colours)
        plot.refresh()
        body = self.query_one("#folds-table", Static)
        if not any(run.fold_scores for run in self.comparison.runs):
            body.update(note)
            return
        body.update(panels.folds_table(self.comparison.runs, self.colours))

    def draw_slice(self) -> None:
        if self.slice is None:
            return
        plot = self.plot("slice")
        note = self.query_one("#slice-note", Static)
        if not self.slice.params:
            plot.plt.clear_figure()
            plot.refresh()
            note.update(f"sweep {self.slice.sweep_id} searched no parameters")
            return
        param = self.slice.params[self.slice_param % len(self.slice.params)]
        note.update(panels.draw_slice(plot.plt, self.slice, param, self.colours))
        plot.refresh()

    def show_insight(self, permutation: bool = False) -> None:
        """Insight for the chosen run: held-out summary and importances, in a worker."""
        if self.comparison is None:
            return
        run = self.insight_target()
        wait = "computing permutation importance on held-out data …" if permutation else "…"
        self.query_one("#insight-body", Static).update(f"run {run.id}: loading insight {wait}")
        self.load_insight(run.id, permutation)

    def insight_target(self) -> RunRecord:
        """The run the Insight tab is about: the one chosen, else the first shown."""
        assert self.comparison is not None
        runs = self.comparison.runs
        return next((r for r in runs if r.id == self.insight_run_id), runs[0])

    @work(
        thread=True,
        exclusive=True,
        group="compare-insight",
        exit_on_error=False,
        description="gathering model insight",
    )
    def load_insight(self, run_id: int, permutation: bool) -> None:
        from screens.compare_insight import gather_insight

        self.post_message(InsightLoaded(gather_insight(self.workspace, run_id, permutation)))

    @on(InsightLoaded)
    def insight_loaded(self, event: InsightLoaded) -> None:
        from screens.compare_insight import render_insight

        insight = event.insight

        if self.comparison is None:
            return
        run = self.insight_target()
        if insight.run_id != run.id:
            return  # the user moved on to another run
        body = self.query_one("#insight-body", Static)
        body.update(render_insight(insight, self.colours[run.id]))

    # --- actions -----------------------------------------------------------------------

    def field_at_cursor(self) -> CompareRow | None:
        table = self.table()
        if not has_cells(table):
            return None
        row, column = table.cursor_coordinate
        index = column if self.transposed else row
        return self.shown[index] if 0 <= index < len(self.shown) else None

    def action_register(self) -> None:
        from screens.register import ask_to_register

        ask_to_register(self, self.workspace, self.run_at_cursor(), "")

    def run_at_cursor(self) -> int | None:
        """The id of the run under the cursor (its column, or its row when transposed)."""
        if self.comparison is None:
            return None
        table = self.table()
        if not has_cells(table):
            return None
        coordinate = table.cursor_coordinate
        index = coordinate.row if self.transposed else coordinate.column
        runs = self.comparison.runs
        return runs[index].id if 0 <= index < len(runs) else None

    def action_tab(self, tab: str) -> None:
        if tab == "insight":  # insight follows the run under the table's cursor
            run_id = self.run_at_cursor()
            if run_id is not None and self.comparison is not None:
                self.insight_run_id = run_id
        tabs = self.query_one(TabbedContent)
        if tabs.active == tab:
            self.redraw_tab()  # no TabActivated when the tab is already showing
        tabs.active = tab
        self.call_after_refresh(self.focus_tab, tab)

    def focus_tab(self, tab: str) -> None:
        """Focus the first widget a person can use on the tab now showing (the table, a
        scrolling panel); a tab with only plots keeps none, never a hidden widget."""
        pane = self.query_one(f"#{tab}", TabPane)
        shown = [w for w in self.focus_chain if pane in w.ancestors_with_self]
        self.set_focus(shown[0] if shown else None)

    def action_cycle(self, step: int) -> None:
        """[ and ]: the previous or next curve, parameter or run, on the tab showing it."""
        tab = self.active_tab()
        if tab == "curves":
            self.curve_key += step
        elif tab == "slice":
            self.slice_param += step
        elif tab == "insight" and self.comparison is not None:
            ids = [run.id for run in self.comparison.runs]
            here = ids.index(self.insight_target().id)
            self.insight_run_id = ids[(here + step) % len(ids)]
        self.redraw_tab()

    def action_toggle_differences(self) -> None:
        """Show only the rows where the runs disagree, or every row again."""
        self.differences_only = not self.differences_only
        self.render_table()

    def action_sort(self) -> None:
        """Order the runs by the field under the cursor; again on the same field reverses."""
        from pipelines.runs.compare_views import sort_runs

        row = self.field_at_cursor()
        if row is None or self.comparison is None:
            self.notify("put the cursor on a field to sort the runs by it", timeout=3)
            return
        from pipelines.runs.compare import metric_direction

        previous = self.sort_by
        if previous and previous[:2] == (row.section, row.name):
            descending = not previous[2]
        else:  # best first on a metric, ascending otherwise
            descending = row.section == "metric" and metric_direction(row.name) == "maximize"
        self.comparison = sort_runs(self.comparison, row, descending)
        self.sort_by = (row.section, row.name, descending)
        self.render_table()
        self.redraw_tab()

    def action_filter(self) -> None:
        field = self.query_one("#compare-filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#compare-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.render_table(Coordinate(0, 1) if self.transposed else Coordinate(1, 0))

    @on(Input.Submitted, "#compare-filter")
    def filter_done(self) -> None:
        self.table().focus()

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
        self._wanted_baseline = run_id
        self.load(run_id)

    def action_transpose(self) -> None:
        """Swap runs between columns and rows (rows suit hundreds of runs)."""
        self.transposed = not self.transposed
        row, column = self.table().cursor_coordinate
        self.render_table(Coordinate(column, row))  # the same run stays under the cursor

    def action_export(self) -> None:
        from screens.compare_export import ask_and_export

        if self.comparison is not None:
            ask_and_export(self)

    def action_permutation(self) -> None:
        """i: permutation importance on held-out data for the insight run (seconds)."""
        if self.active_tab() != "insight":
            self.action_tab("insight")
        self.show_insight(permutation=True)

    def action_back(self) -> None:
        field = self.query_one("#compare-filter", Input)
        if field.has_focus:  # escape leaves the filter first, keeping what it holds
            field.display = bool(self.filter_text)
            self.table().focus()
            return
        self.app.pop_screen()


def has_cells(table: DataTable[object] | GridTable) -> bool:
    """Whether the table shows at least one cell (a cursor means something)."""
    columns = table.column_count if isinstance(table, GridTable) else len(table.columns)
    return bool(table.row_count and columns)
