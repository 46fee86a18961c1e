"""The Insight tab: for one run, what its held-out predictions say (a confusion matrix or a
residual summary, recorded at training time) and which inputs matter (the model's own
importances, and permutation importance on held-out rows, computed on `i` and cached).
What is shown is gathered by pipelines.runs.insight.gather_insight, the function
`workbench runs insight` calls too; this module only renders it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from pipelines.inert import inert
from pipelines.runs.insight import RunInsight, gather_insight
from screens.formatting import number, user_text
from screens.widgets.colours import rich_colour

if TYPE_CHECKING:
    from pipelines.runs.insight import HeldOutSummary

__all__ = ["RunInsight", "gather_insight", "render_insight"]  # compare.py runs the gathering

BAR_CELLS = 24
MAX_FEATURES = 15
MAX_CLASSES = 12
NOT_COMPUTED = "press i to compute it on held-out rows (seconds)"


def render_insight(found: RunInsight, colour: tuple[int, int, int]) -> RenderableType:
    title = Text.assemble(
        (f"run {found.run_id}", f"bold {rich_colour(colour)}"),
        ("   [ and ] switch run · i permutation importance", "dim"),
    )
    parts: list[RenderableType] = [title, Text("")]
    parts += held_out_part(found)
    parts += [Text(""), Text("Feature importance (the model's own)", style="bold")]
    if found.importances:
        parts.append(bars({k: v for k, v in found.importances.items()}))
    else:
        parts.append(Text("this run recorded none", style="dim"))
    parts += [Text(""), Text("Permutation importance on held-out rows", style="bold")]
    parts += permutation_part(found)
    return Group(*parts)


def held_out_part(found: RunInsight) -> list[RenderableType]:
    summary = found.held_out
    if summary is None:
        return [Text("Held-out predictions", style="bold"), Text(found.held_out_note or "")]
    where = f"{summary.rows} held-out rows from {summary.folds} fold(s)"
    if summary.confusion is not None:
        return [Text(f"Confusion matrix · {where}", style="bold"), confusion_table(summary)]
    if summary.residuals is not None:
        return [Text(f"Residuals (true − predicted) · {where}", style="bold"), residuals(summary)]
    return [Text(where)]


def confusion_table(summary: HeldOutSummary) -> RenderableType:
    """Rows are the true class, columns the predicted; the diagonal is what it got right."""
    confusion = summary.confusion
    assert confusion is not None
    labels = [inert(str(label)) for label in confusion.labels]  # class values from the data
    if len(labels) > MAX_CLASSES:
        return Text(f"{len(labels)} classes: too many to draw; accuracy {confusion.accuracy:.4f}")
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("true ╲ predicted")
    for label in labels:
        table.add_column(Text(label), justify="right")
    table.add_column("recall", justify="right")
    for i, label in enumerate(labels):
        cells = [
            Text(str(count), style="bold green" if i == j else ("red" if count else "dim"))
            for j, count in enumerate(confusion.matrix[i])
        ]
        table.add_row(Text(label), *cells, number(confusion.recall[i]))
    table.add_row("precision", *(number(p) for p in confusion.precision), "")
    note = Text(f"accuracy {number(confusion.accuracy)}", style="dim")
    return Group(table, note)


def residuals(summary: HeldOutSummary) -> RenderableType:
    found = summary.residuals
    assert found is not None
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in (
        ("count", found.count),
        ("mean", found.mean),
        ("std", found.std),
        ("MAE", found.mae),
        ("RMSE", found.rmse),
        *found.quantiles.items(),
    ):
        table.add_row(name, number(value))
    worst = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    for name in ("row", "true", "predicted", "residual"):
        worst.add_column(name, justify="right")
    for item in found.largest:
        figures = (number(item.true), number(item.predicted), number(item.residual))
        worst.add_row(str(item.row), *figures)
    return Group(table, Text("largest residuals", style="bold"), worst)


def permutation_part(found: RunInsight) -> list[RenderableType]:
    result = found.permutation
    if result is None:
        return [Text(found.permutation_note or NOT_COMPUTED, style="dim")]
    how = (
        f"drop in {result.scorer} when a column is shuffled ({result.repeats} repeats, "
        f"{result.rows} rows, baseline {number(result.baseline)}"
        + (", cached)" if result.cached else f", {result.seconds:.1f} s)")
    )
    return [Text(how, style="dim"), bars(result.mean, result.std)]


def bars(values: dict[str, float], spread: dict[str, float] | None = None) -> Table:
    """Names, a bar proportional to the value, and the figure (± its spread)."""
    shown = list(values.items())[:MAX_FEATURES]
    top = max((abs(v) for _, v in shown), default=0) or 1.0
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column()
    table.add_column()
    table.add_column(justify="right")
    for name, value in shown:  # column names from the data
        cells = round(BAR_CELLS * max(value, 0) / top)
        figure = number(value) + (f" ± {number(spread[name])}" if spread and name in spread else "")
        table.add_row(user_text(name), Text("█" * cells, style="cyan"), figure)
    if len(values) > MAX_FEATURES:
        table.add_row(Text(f"… {len(values) - MAX_FEATURES} more", style="dim"), "", "")
    return table
