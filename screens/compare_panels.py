"""Drawing the compare screen's tabs: overlaid curves, per-fold scores and a parameter slice
in plotext, and model insight as text. Each run keeps one colour on every tab (and in the
table header) so a line, a bar and a column are the same run at a glance."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from pipelines.runs.details import PRUNER_REPORTS
from screens.formatting import number
from screens.widgets.colours import legend, rich_colour

if TYPE_CHECKING:
    from pipelines.runs.compare_views import SweepSlice
    from storage.records import RunRecord

MAX_PLOTTED_RUNS = 12  # more lines than this is a hatch, not a picture
OTHER_TRIALS = (128, 128, 128)


def curve_keys(curves: dict[int, dict[str, list[tuple[int, float]]]], metric: str) -> list[str]:
    """Curve names any run has, the sweep metric first (then what the pruner saw)."""
    names = list(dict.fromkeys(key for per_run in curves.values() for key in per_run))
    preferred = [k for k in (f"valid_{metric}", metric, PRUNER_REPORTS) if k in names]
    return preferred + sorted(k for k in names if k not in preferred)


def draw_curves(
    plt: Any,
    runs: list[RunRecord],
    colours: dict[int, tuple[int, int, int]],
    curves: dict[int, dict[str, list[tuple[int, float]]]],
    key: str,
) -> Text:
    """Overlay one curve (one metric: one axis) per run; returns the legend and a note on
    what is (and is not) drawn."""
    plt.clear_figure()
    shown = [r for r in runs if curves.get(r.id, {}).get(key)][:MAX_PLOTTED_RUNS]
    if not shown:
        return Text(f"no per-iteration curve {key!r} for these runs")
    for run in shown:
        points = curves[run.id][key]
        xs = [step for step, _ in points]
        ys = [value for _, value in points]
        plt.plot(xs, ys, marker="braille", color=colours[run.id])
    plt.title(f"{key} per iteration" if key != PRUNER_REPORTS else "values reported to pruner")
    plt.xlabel("iteration" if key != PRUNER_REPORTS else "step")
    with_curve = sum(1 for r in runs if curves.get(r.id, {}).get(key))
    note = f"{len(shown)} of {len(runs)} runs drawn"
    if with_curve > len(shown):
        note += f" (the first {MAX_PLOTTED_RUNS} in table order; order with o to choose)"
    return legend([(f"run {r.id}", colours[r.id]) for r in shown]) + Text(note)


def draw_folds(plt: Any, runs: list[RunRecord], colours: dict[int, tuple[int, int, int]]) -> str:
    """Bars grouped by fold, one bar per run: which run wins on which fold, and by how much."""
    plt.clear_figure()
    shown = [r for r in runs if r.fold_scores][:MAX_PLOTTED_RUNS]
    if not shown:
        return "no fold scores: none of these runs completed"
    longest = max(len(r.fold_scores) for r in shown)
    padded = [list(r.fold_scores) + [0.0] * (longest - len(r.fold_scores)) for r in shown]
    low = min(min(r.fold_scores) for r in shown)
    high = max(max(r.fold_scores) for r in shown)
    margin = (high - low) * 0.25 or abs(high) * 0.01 or 0.01
    plt.multiple_bar(  # no labels: the table under the plot names each run in its colour
        [f"fold {i}" for i in range(1, longest + 1)],
        padded,
        color=[colours[r.id] for r in shown],
    )
    plt.ylim(low - margin, high + margin)  # differences between runs are small: zoom in
    plt.title("score per fold")
    return f"{len(shown)} of {len(runs)} runs drawn"


def folds_table(runs: list[RunRecord], colours: dict[int, tuple[int, int, int]]) -> Table:
    """The same fold scores as numbers: one row per run, one column per fold."""
    longest = max((len(r.fold_scores) for r in runs), default=0)
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("run")
    for fold in range(1, longest + 1):
        table.add_column(f"fold {fold}", justify="right")
    table.add_column("mean ± std", justify="right")
    for run in runs:
        scores = [number(s) for s in run.fold_scores] + ["–"] * (longest - len(run.fold_scores))
        spread = f"{number(run.value)} ± {number(run.value_std)}" if run.fold_scores else "–"
        label = Text(f"run {run.id}", style=rich_colour(colours[run.id]))
        table.add_row(label, *scores, spread)
    return table


def draw_slice(
    plt: Any,
    data: SweepSlice,
    param: str,
    colours: dict[int, tuple[int, int, int]],
) -> str:
    """The sweep's value against one parameter; the compared runs in their colours."""
    plt.clear_figure()
    points = data.points(param)
    if not points:
        return f"no complete trials set {param!r}"
    numeric = all(_is_number(p.param) for p in points)
    categories = sorted({str(p.param) for p in points}) if not numeric else []

    def x(value: object) -> float:
        return float(value) if numeric else float(categories.index(str(value)))  # type: ignore[arg-type]

    others = [p for p in points if p.run_id not in colours]
    if others:
        plt.scatter(
            [x(p.param) for p in others],
            [p.value for p in others],
            marker="dot",
            color=OTHER_TRIALS,
        )
    for point in points:
        if point.run_id in colours:
            plt.scatter([x(point.param)], [point.value], marker="●", color=colours[point.run_id])
    if categories:
        plt.xticks(list(range(len(categories))), categories)
    elif _log_scale(points):
        plt.xscale("log")
    plt.title(f"{data.metric} by {param} · sweep {data.sweep_id} ({len(points)} trials)")
    plt.xlabel(param)
    compared = [(f"run {p.run_id}", colours[p.run_id]) for p in points if p.run_id in colours]
    marks = legend(compared, mark="●") + legend([("other trials", OTHER_TRIALS)], mark="·")
    return marks + Text(
        f"{len(points)} complete trials of sweep {data.sweep_id}; [ and ] choose the parameter"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _log_scale(points: list[Any]) -> bool:
    """A positive parameter spanning two decades or more reads better on a log axis."""
    values = [float(p.param) for p in points]
    low, high = min(values), max(values)
    return low > 0 and math.log10(high / low) >= 2
