"""Plotly figures for HTML reports, built straight from the report records so every point
is a run's recorded value. Plotly is imported only here, inside the functions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pipelines.reports.content import RunsReport, SweepReport, format_value

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

TEMPLATE = "plotly_white"
HEIGHT = 380
SLICE_COLUMNS = 3


def sweep_figures(report: SweepReport) -> dict[str, Figure]:
    """The sweep plots worth drawing, by section id: history, parallel coordinates,
    parameter importances and slices (absent when there is nothing to show)."""
    figures: dict[str, Figure] = {}
    if report.history:
        figures["history"] = history_figure(report)
    params = [name for name in report.search_space if _varied(report, name)]
    if report.trials and params:
        figures["parallel"] = parallel_figure(report, params)
        figures["slices"] = slice_figure(report, params)
    if report.importances:
        figures["importances"] = bar_figure(
            {"importance": report.importances}, "PED-ANOVA importance", "parameter"
        )
    return figures


def runs_figures(report: RunsReport) -> dict[str, Figure]:
    """The runs plots: per-iteration curves (one figure per curve key), fold scores and
    feature importances side by side."""
    import plotly.graph_objects as go

    runs = report.comparison.runs
    names = {run.id: f"run {run.id}" for run in runs}
    figures: dict[str, Figure] = {}
    keys = list(dict.fromkeys(key for d in report.details for key in d.curves))
    for index, key in enumerate(keys):
        fig = _figure(f"{key} per iteration", "iteration", key)
        for detail in report.details:
            curve = detail.curves.get(key)
            if curve:
                fig.add_trace(
                    go.Scatter(
                        x=[step for step, _ in curve],
                        y=[_number(value) for _, value in curve],
                        mode="lines",
                        name=names[detail.run_id],
                    )
                )
        figures[f"curve-{index}"] = fig
    if any(run.fold_scores for run in runs):
        folds = {
            names[run.id]: {f"fold {i}": s for i, s in enumerate(run.fold_scores)} for run in runs
        }
        metric = _metric_name(report)
        figures["folds"] = bar_figure(folds, f"{metric} per fold", "fold", horizontal=False)
    if any(d.importances for d in report.details):
        shares = {names[d.run_id]: d.importances for d in report.details}
        figures["features"] = bar_figure(shares, "feature importance (share)", "feature")
    return figures


def history_figure(report: SweepReport) -> Figure:
    """Each complete trial's value, and the best value so far as a step line."""
    import plotly.graph_objects as go

    metric = report.summary.metric
    fig = _figure("Optimization history", "trial", metric)
    points = report.history
    fig.add_trace(
        go.Scatter(
            x=[p.trial for p in points],
            y=[p.value for p in points],
            mode="markers",
            name=metric,
            text=[f"trial {p.trial}: {format_value(p.value)}" for p in points],
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[p.trial for p in points],
            y=[p.best for p in points],
            mode="lines",
            line={"shape": "hv"},
            name="best so far",
        )
    )
    return fig


def parallel_figure(report: SweepReport, params: list[str]) -> Figure:
    """One axis per varied parameter (categories as ticks, log ranges as log10) and the
    metric last, each line a complete trial coloured by its value."""
    import plotly.graph_objects as go

    trials = report.trials
    values = [t.value for t in trials]
    dimensions = []
    for name in params:
        dist = report.search_space[name]
        column = [t.params.get(name) for t in trials]
        numbers = _numbers(column)
        if dist.get("kind") in ("float", "int") and numbers is not None:
            log = bool(dist.get("log")) and all(v > 0 for v in numbers)
            shown = [math.log10(v) for v in numbers] if log else numbers
            label = f"log10({name})" if log else name
            dimensions.append({"label": label, "values": shown})
        else:
            choices = list(dict.fromkeys(format_value(v) for v in column))
            dimensions.append(
                {
                    "label": name,
                    "values": [choices.index(format_value(v)) for v in column],
                    "tickvals": list(range(len(choices))),
                    "ticktext": choices,
                }
            )
    dimensions.append({"label": report.summary.metric, "values": values})
    reverse = report.summary.direction == "minimize"
    line = {"color": values, "colorscale": "Viridis", "reversescale": reverse, "showscale": True}
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=line))
    fig.update_layout(template=TEMPLATE, height=HEIGHT, title="Parallel coordinates")
    fig.update_layout(margin={"l": 70, "r": 40, "t": 110, "b": 40}, title_y=0.97)
    return fig


def slice_figure(report: SweepReport, params: list[str]) -> Figure:
    """The metric against each varied parameter, one panel each, coloured by trial number."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    columns = min(SLICE_COLUMNS, len(params))
    rows = math.ceil(len(params) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=params, shared_yaxes=True)
    trials = report.trials
    for index, name in enumerate(params):
        row, col = index // columns + 1, index % columns + 1
        column = [t.params.get(name) for t in trials]
        numbers = _numbers(column)
        fig.add_trace(
            go.Scatter(
                x=numbers if numbers is not None else [format_value(v) for v in column],
                y=[t.value for t in trials],
                mode="markers",
                name=name,
                showlegend=False,
                text=[f"trial {t.trial}" for t in trials],
                marker={
                    "color": [t.trial for t in trials],
                    "colorscale": "Blues",
                    "showscale": index == 0,
                    "colorbar": {"title": {"text": "trial"}},
                    "line": {"width": 0.5, "color": "#445"},
                },
            ),
            row=row,
            col=col,
        )
        dist = report.search_space.get(name, {})
        if numbers is not None and dist.get("log") and all(v > 0 for v in numbers):
            fig.update_xaxes(type="log", row=row, col=col)
    fig.update_yaxes(title_text=report.summary.metric, col=1)
    fig.update_layout(template=TEMPLATE, height=max(HEIGHT, 300 * rows), title="Slices")
    return fig


def bar_figure(
    groups: dict[str, dict[str, float]], title: str, axis: str, horizontal: bool = True
) -> Figure:
    """One bar trace per group (a run, or a single series), sharing the category axis."""
    import plotly.graph_objects as go

    categories = list(dict.fromkeys(name for shares in groups.values() for name in shares))
    if horizontal:
        fig = _figure(title, None, axis)
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(height=max(HEIGHT, 60 + 22 * len(categories) * max(1, len(groups))))
    else:
        fig = _figure(title, axis, None)
    for group, shares in groups.items():
        numbers = [_number(shares.get(name)) for name in categories]
        if horizontal:
            fig.add_trace(go.Bar(x=numbers, y=categories, orientation="h", name=group))
        else:
            fig.add_trace(go.Bar(x=categories, y=numbers, name=group))
    fig.update_layout(barmode="group", showlegend=len(groups) > 1)
    return fig


def _figure(title: str, x: str | None, y: str | None) -> Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, height=HEIGHT, title=title)
    fig.update_layout(margin={"l": 60, "r": 20, "t": 60, "b": 50})
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig


def _varied(report: SweepReport, name: str) -> bool:
    return len({format_value(t.params.get(name)) for t in report.trials}) > 1


def _metric_name(report: RunsReport) -> str:
    rows = [row for row in report.comparison.rows if row.section == "metric"]
    return rows[0].name if rows else "value"


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(column: list[Any]) -> list[float] | None:
    """The column as floats when every value is a number (a bool is not), else None."""
    return [float(v) for v in column] if all(_numeric(v) for v in column) else None


def _number(value: Any) -> float | None:
    """JSON-safe: NaN and infinities (and missing values) become gaps."""
    if not _numeric(value) or not math.isfinite(value):
        return None
    return float(value)
