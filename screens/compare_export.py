"""`e` on the compare screen: the compared runs as an HTML or Markdown report, or the table
as shown (order, filter, differences only) as CSV or JSON, written into the workspace's
`reports/` by the App in a thread (so it outlives the screen); the notification says where."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from screens.dialogs import ChoiceScreen
from screens.messages import InBackground

if TYPE_CHECKING:
    from pipelines.runs.compare import Comparison
    from screens.compare import CompareScreen
    from storage.handle import Workspace

REPORT_CHOICES = [
    ("h", "html", "HTML report (plots, single offline file)"),
    ("m", "md", "Markdown report (tables, for a pull request)"),
]
EXPORT_CHOICES = [
    *REPORT_CHOICES,
    ("c", "csv", "CSV of the table as shown"),
    ("j", "json", "JSON of the table as shown"),
]


def ask_and_export(screen: CompareScreen) -> None:
    """Ask for a format, then write in a worker and notify the path."""

    def chosen(fmt: str | None) -> None:
        if fmt is None or screen.comparison is None:
            return
        table = replace(screen.comparison, rows=screen.visible_rows())  # as shown
        screen.notify(f"exporting {fmt} …", timeout=2)
        work = partial(_export, screen.workspace, table, fmt)  # the App's: it outlives screens
        screen.post_message(InBackground(f"exporting the comparison as {fmt}", work))

    screen.app.push_screen(ChoiceScreen("Export the comparison", EXPORT_CHOICES), chosen)


def _export(ws: Workspace, table: Comparison, fmt: str) -> str:
    return f"wrote {export_comparison(ws, table, fmt)}"


def export_comparison(ws: Workspace, comparison: Comparison, fmt: str) -> Path:
    """Write one export and return its path (reports hold every row; tables what is shown)."""
    from pipelines.reports.writing import default_report_path, runs_stem, write_runs_report
    from pipelines.runs.compare_views import render_comparison
    from pipelines.runs.export import write_atomically

    run_ids = [run.id for run in comparison.runs]
    baseline = run_ids[comparison.baseline]
    if fmt in ("html", "md"):
        return write_runs_report(ws, run_ids, fmt, baseline=baseline)
    path = default_report_path(ws, runs_stem(run_ids, "compare"), fmt)
    return write_atomically(path, render_comparison(comparison, fmt))
