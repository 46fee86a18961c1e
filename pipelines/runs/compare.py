"""Runs side by side: the one model behind the compare screen, `workbench compare` and
reports, so all three agree on which rows differ, the deltas and the best run. UI-free."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord, SweepRecord

MAXIMIZE = frozenset({"accuracy", "f1", "roc_auc", "r2"})
MINIMIZE = frozenset({"log_loss", "rmse", "mae"})
SECTIONS = ("metric", "param", "lineage")
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class CompareRow:
    """One line of a comparison: a metric, a parameter or a piece of lineage across runs."""

    section: str  # "metric" | "param" | "lineage"
    name: str
    values: list[object]  # one per run, in run order (None where a run lacks it)
    differs: bool  # not all equal
    deltas: list[float | None]  # numeric metric rows: value - baseline's; else all None
    best: int | None  # index of the best run (metric rows whose direction is known)

    def is_best(self, index: int) -> bool:
        """Whether run ``index`` holds the best value: every one of tied runs does."""
        return self.best is not None and self.values[index] == self.values[self.best]


@dataclass(frozen=True)
class Comparison:
    """Runs in the order asked, which of them is the baseline, and the rows."""

    runs: list[RunRecord]
    baseline: int  # index into runs
    rows: list[CompareRow]

    def only_differences(self) -> Comparison:
        """The same comparison without the rows where every run agrees."""
        return replace(self, rows=[row for row in self.rows if row.differs])


def compare_runs(ws: Workspace, run_ids: list[int], baseline: int | None = None) -> Comparison:
    """Load the runs and build every row; ``baseline`` is a run id (default: the first)."""
    if len(run_ids) < 2:
        raise WorkbenchError(f"compare needs at least 2 runs, got {len(run_ids)}")
    repeated = sorted(i for i, n in Counter(run_ids).items() if n > 1)
    if repeated:
        raise WorkbenchError(f"run {repeated[0]} is given more than once")
    if baseline is not None and baseline not in run_ids:
        raise WorkbenchError(f"baseline run {baseline} is not one of the compared runs")
    runs = repo.get_runs(ws.db, run_ids)
    sweeps = {sid: repo.get_sweep(ws.db, sid) for sid in dict.fromkeys(r.sweep_id for r in runs)}
    base = run_ids.index(baseline) if baseline is not None else 0
    rows = [
        *_metric_rows(runs, sweeps, base),
        *_param_rows(runs),
        *_lineage_rows(runs, sweeps),
    ]
    return Comparison(runs=runs, baseline=base, rows=rows)


def metric_direction(metric: str) -> str | None:
    """Whether higher or lower is better for a metric name; None when unknown."""
    if metric in MAXIMIZE:
        return "maximize"
    if metric in MINIMIZE:
        return "minimize"
    return None


def _metric_rows(
    runs: list[RunRecord], sweeps: dict[int, SweepRecord], base: int
) -> list[CompareRow]:
    """The sweep metric (value and spread) first, then every other metric any run has."""
    baseline_sweep = sweeps[runs[base].sweep_id]
    metric_names = {s.metric for s in sweeps.values()}
    shared = len(metric_names) == 1  # all runs were optimised for the same metric
    value_name = baseline_sweep.metric if shared else "value"
    direction = baseline_sweep.direction if shared else None
    values = [r.value for r in runs]
    rows = [
        _numeric_row(value_name, values, base, direction),
        _numeric_row("± std", [r.value_std for r in runs], base, None),
    ]
    for name in _names(r.metrics for r in runs):
        if shared and name == value_name:
            continue  # the same numbers as the value row
        column = [r.metrics.get(name) for r in runs]
        rows.append(_numeric_row(name, column, base, metric_direction(name)))
    return rows


def _param_rows(runs: list[RunRecord]) -> list[CompareRow]:
    rows = []
    for name in _names(r.params for r in runs):
        values = [r.params.get(name) for r in runs]
        rows.append(_plain_row("param", name, values))
    return rows


def _lineage_rows(runs: list[RunRecord], sweeps: dict[int, SweepRecord]) -> list[CompareRow]:
    """Where each run came from: data, seed, interpreter, libraries, platform, code."""
    envs = [r.environment or {} for r in runs]
    lines: list[tuple[str, list[object]]] = [
        ("sweep", [r.sweep_id for r in runs]),
        ("dataset", [f"{sweeps[r.sweep_id].dataset_ref} ({r.dataset_sha[:12]})" for r in runs]),
        ("seed", [r.seed for r in runs]),
        ("python", [e.get("python") for e in envs]),
    ]
    libraries = [e.get("libraries") or {} for e in envs]
    for name in _names(libraries):
        lines.append((name, [libs.get(name) for libs in libraries]))
    lines.append(("platform", [e.get("platform") for e in envs]))
    lines.append(("git commit", [_git(e.get("git")) for e in envs]))
    lines.append(("status", [r.status for r in runs]))
    lines.append(("duration_s", [r.duration_s for r in runs]))
    return [_plain_row("lineage", name, values) for name, values in lines]


def _git(state: Any) -> str | None:
    if not isinstance(state, dict) or not state.get("commit"):
        return None
    return f"{state['commit']}{' (dirty)' if state.get('dirty') else ''}"


def _numeric_row(name: str, values: list[Any], base: int, direction: str | None) -> CompareRow:
    reference = values[base]
    deltas = [v - reference if _number(v) and _number(reference) else None for v in values]
    return CompareRow(
        section="metric",
        name=name,
        values=list(values),
        differs=_differs(values),
        deltas=deltas,
        best=_best(values, direction),
    )


def _plain_row(section: str, name: str, values: list[Any]) -> CompareRow:
    return CompareRow(
        section=section,
        name=name,
        values=list(values),
        differs=_differs(values),
        deltas=[None] * len(values),
        best=None,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def _best(values: list[Any], direction: str | None) -> int | None:
    """Index of the best value (the first on ties); None without a direction or numbers."""
    scored = [(v, i) for i, v in enumerate(values) if _number(v)]
    if direction is None or not scored:
        return None
    if direction == "maximize":
        return max(scored, key=lambda pair: (pair[0], -pair[1]))[1]
    return min(scored, key=lambda pair: (pair[0], pair[1]))[1]


def _differs(values: list[Any]) -> bool:
    """Not all equal as JSON: dicts and lists by content, 1 and 1.0 and True apart. Plain
    scalars (nearly every row) are told apart by type and repr, which is the same equality
    (a float's repr is what JSON writes, NaN included) without encoding every value."""
    if all(type(v) in _SCALARS for v in values):
        keys: set[object] = {(type(v), repr(v) if type(v) is float else v) for v in values}
    else:
        keys = {json.dumps(v, sort_keys=True, default=str) for v in values}
    return len(keys) > 1


def _names(dicts: Iterable[dict[str, Any]]) -> list[str]:
    """Keys in first-seen order (a sweep's parameters keep its search-space order)."""
    seen: dict[str, None] = {}
    for mapping in dicts:
        for key in mapping:
            seen.setdefault(str(key), None)
    return list(seen)
