"""One dataset version: schema, profile with sparkline histograms, and its validation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from pipelines.inert import inert
from screens.focus import RestoresFocus
from screens.formatting import (
    data_number,
    display_path,
    number,
    size,
    sparkline,
    status_text,
    user_text,
)
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import DatasetVersionRecord

TABS = ("schema", "profile", "validation")


class DatasetDetailScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """Everything recorded about a version; it is all in the record, so nothing to query."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("1", "tab('schema')", "Schema", id="detail.schema"),
        Binding("2", "tab('profile')", "Profile", id="detail.profile"),
        Binding("3", "tab('validation')", "Validation", id="detail.validation"),
        Binding("b", "browse", "Browse rows", id="detail.browse"),
    ]

    def __init__(self, ws: Workspace, version: DatasetVersionRecord, tab: str = "schema") -> None:
        super().__init__()
        self.workspace = ws
        self.version = version
        self.initial_tab = tab if tab in TABS else "schema"

    def compose(self) -> ComposeResult:
        version = self.version
        yield Header()
        kept = "kept by reference" if version.is_reference else "frozen copy"
        yield Static(
            f"[b]{escape(inert(version.ref))}[/b] · {version.row_count:,} rows ×"
            f" {version.column_count} columns · {version.file_format} · {size(version.size_bytes)}"
            f" · {kept} · target {escape(inert(version.target or '–'))}\nsha256 {version.sha256}"
            f" · source {escape(display_path(version.source_path))}",
            id="detail-header",
        )
        with TabbedContent(initial=self.initial_tab, id="detail-tabs"):
            with TabPane("Schema", id="schema"):
                yield self.schema_table()
            with TabPane("Profile", id="profile"):
                yield self.profile_table()
            with TabPane("Validation", id="validation"):
                yield self.validation_summary()
                yield self.validation_table()
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"Dataset {self.version.ref}"
        self.query_one(f"#{self.initial_tab}-table", DataTable).focus()

    def schema_table(self) -> DataTable[object]:
        table: DataTable[object] = DataTable(
            id="schema-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns("column", "type", "arrow type", "nullable", "distinct")
        for column in self.version.schema:
            target = " (target)" if column.name == self.version.target else ""
            table.add_row(
                user_text(column.name + target),
                column.logical_type,
                column.physical_type,
                "yes" if column.nullable else "no",
                number(column.cardinality),
            )
        return table

    def profile_table(self) -> DataTable[object]:
        table: DataTable[object] = DataTable(
            id="profile-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(
            "column",
            "missing %",
            "min",
            "p25",
            "median",
            "p75",
            "max",
            "mean",
            "std",
            "histogram / top values",
        )
        for column in self.version.profile.columns:
            if column.histogram:
                shape = sparkline(column.histogram)
            elif column.distinct == self.version.row_count and column.missing == 0:
                shape = f"all {column.distinct:,} values distinct (an id?)"
            else:
                shape = ", ".join(f"{value} ({count:,})" for value, count in column.top_values[:4])
            figures = [  # values from the data: 2007 stays 2007 (a year, a code), not 2,007
                f"{column.missing_pct:.1f}",
                data_number(column.min),
                data_number(column.quantiles.get("p25")),
                data_number(column.quantiles.get("p50")),
                data_number(column.quantiles.get("p75")),
                data_number(column.max),
                data_number(column.mean),
                data_number(column.std),
            ]
            cells = (Text(f, justify="right") for f in figures)
            table.add_row(user_text(column.name), *cells, user_text(shape))
        return table

    def validation_summary(self) -> Static:
        result = self.version.validation
        against = f"against {result.against}" if result.against else "(first version)"
        counts = {s: sum(c.status == s for c in result.checks) for s in ("fail", "warn", "pass")}
        return Static(
            f"validation of {self.version.label} {against}: [b]{result.status}[/b] · "
            f"{counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass",
            id="validation-summary",
        )

    def validation_table(self) -> DataTable[object]:
        table: DataTable[object] = DataTable(id="validation-table", cursor_type="row")
        table.add_columns("status", "check", "column", "reason")
        for check in self.version.validation.checks:
            table.add_row(
                status_text(check.status),
                check.check,
                user_text(check.column or ""),
                user_text(check.reason),
            )
        return table

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}-table", DataTable).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_browse(self) -> None:
        from screens.browse_launcher import browse_version

        browse_version(self, self.workspace, self.version)
