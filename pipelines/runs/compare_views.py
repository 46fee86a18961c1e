"""The pictures beside a comparison: per-iteration curves, per-fold scores, a sweep's
parameter-vs-score slice, runs reordered by any row, and the comparison as CSV or JSON.
UI-free: the compare screen draws these, `workbench compare` and reports can reuse them."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, replace
from typing import Any

from pipelines.runs.compare import CompareRow, Comparison, metric_direction
from pipelines.runs.details import recorded_curves
from pipelines.sweeps.spec import searched_space
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace

EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True)
class SlicePoint:
    run_id: int
    value: float
    param: object


@dataclass(frozen=True)
class SweepSlice:
    """Every complete trial of one sweep: the value against each searched parameter."""

    sweep_id: int
    metric: str
    direction: str
    params: list[str]
    values: dict[int, float]  # run id → sweep metric
    settings: dict[int, dict[str, Any]]  # run id → params

    def points(self, param: str) -> list[SlicePoint]:
        return [
            SlicePoint(run_id, value, self.settings[run_id].get(param))
            for run_id, value in self.values.items()
            if param in self.settings[run_id]
        ]


def run_curves(ws: Workspace, run_ids: list[int]) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """Every per-step curve of each run, to overlay one key across runs."""
    return {run_id: recorded_curves(repo.metric_points(ws.db, run_id)) for run_id in run_ids}


def sweep_slice(ws: Workspace, sweep_id: int) -> SweepSlice:
    """The complete trials of a sweep as (parameter, value) points for slice plots."""
    sweep = repo.get_sweep(ws.db, sweep_id)
    runs = [
        r
        for r in repo.run_summaries(ws.db, sweep_id=sweep_id)
        if r.status == "complete" and r.value is not None and math.isfinite(r.value)
    ]
    params = list(searched_space(sweep.spec))
    if not params:
        params = list(dict.fromkeys(name for r in runs for name in r.params))
    return SweepSlice(
        sweep_id=sweep.id,
        metric=sweep.metric,
        direction=sweep.direction,
        params=params,
        values={r.id: float(r.value) for r in runs if r.value is not None},
        settings={r.id: dict(r.params) for r in runs},
    )


def sort_runs(
    comparison: Comparison, row: CompareRow, descending: bool | None = None
) -> Comparison:
    """The comparison with its runs ordered by one row's values: best first for a metric
    with a known direction (``descending`` overrides), missing values last, ties by id."""
    if descending is None:
        direction = metric_direction(row.name) if row.section == "metric" else None
        descending = direction == "maximize"
    ids = [run.id for run in comparison.runs]
    present = [i for i, v in enumerate(row.values) if not _missing(v)]
    missing = [i for i, v in enumerate(row.values) if _missing(v)]
    numeric = all(_is_number(row.values[i]) for i in present)

    def key(index: int) -> Any:
        value = row.values[index]
        if numeric and isinstance(value, int | float):  # numeric: every present value is one
            return float(value)
        return json.dumps(value, sort_keys=True, default=str)

    present.sort(key=lambda i: ids[i])  # ties keep id order (sorted() is stable)
    present.sort(key=key, reverse=descending)
    return reorder(comparison, present + sorted(missing, key=lambda i: ids[i]))


def reorder(comparison: Comparison, order: list[int]) -> Comparison:
    """The same comparison with runs (and every row's cells) in ``order``."""
    position = {old: new for new, old in enumerate(order)}
    rows = [
        replace(
            row,
            values=[row.values[i] for i in order],
            deltas=[row.deltas[i] for i in order],
            best=None if row.best is None else position[row.best],
        )
        for row in comparison.rows
    ]
    return replace(
        comparison,
        runs=[comparison.runs[i] for i in order],
        baseline=position[comparison.baseline],
        rows=rows,
    )


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The comparison as CSV (a row per field, a column per run) or JSON records."""
    if fmt not in EXPORT_FORMATS:
        raise WorkbenchError(f"unknown export format {fmt!r} (use {' or '.join(EXPORT_FORMATS)})")
    run_ids = [run.id for run in comparison.runs]
    if fmt == "json":
        records = [
            {
                "section": row.section,
                "field": row.name,
                "differs": row.differs,
                "values": dict(zip(map(str, run_ids), row.values, strict=True)),
                "deltas": dict(zip(map(str, run_ids), row.deltas, strict=True)),
                "best_run": None if row.best is None else run_ids[row.best],
            }
            for row in comparison.rows
        ]
        baseline = run_ids[comparison.baseline]
        document = {"runs": run_ids, "baseline": baseline, "rows": records}
        return json.dumps(document, indent=2, default=str) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "field", "differs", *(f"run {i}" for i in run_ids)])
    for row in comparison.rows:
        cells = ["" if v is None else _csv_cell(v) for v in row.values]
        writer.writerow([row.section, row.name, row.differs, *cells])
    return buffer.getvalue()


def _csv_cell(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
