"""Report data, assembled once and rendered by any format (Markdown or HTML): a comparison
of chosen runs with their lineage, curves and importances, or a sweep's summary, history,
trials, importances, top runs and the comparison of its best few. UI-free; the renderers
(markdown, html, plots) only format these records, and `writing` puts them in files."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.runs.compare import Comparison, compare_runs
from pipelines.runs.details import iteration_curves, list_runs, recorded_importances
from pipelines.runs.tables import best_so_far, param_importances
from pipelines.sweeps.spec import searched_space
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord, RunSummary, SweepRecord

TOP_RUNS = 10
TOP_COMPARED = 5
RUN_STATES = ("complete", "pruned", "failed", "running")
MAX_IMPORTANCES = 15
Curve = list[tuple[int, float]]


@dataclass(frozen=True)
class RunLineage:
    """Where one run came from: its data, seed, interpreter, libraries, code and machine."""

    run_id: int
    sweep_id: int
    trial_number: int
    dataset_ref: str
    dataset_sha: str
    seed: int
    python: str | None
    libraries: dict[str, str]
    git_commit: str | None
    git_dirty: bool | None
    platform: str | None


@dataclass(frozen=True)
class RunDetail:
    """What one run recorded beyond its scores: per-iteration curves and feature importances."""

    run_id: int
    curves: dict[str, Curve]  # key -> (step, value), e.g. LightGBM's valid_* or "intermediate"
    importances: dict[str, float]  # input column -> share, largest first


@dataclass(frozen=True)
class RunsReport:
    """Chosen runs side by side, with the lineage, curves and importances of each."""

    comparison: Comparison
    lineage: list[RunLineage]
    generated_at: datetime  # naive UTC
    details: list[RunDetail] = field(default_factory=list)  # in run order

    @property
    def title(self) -> str:
        return "Runs " + ", ".join(str(r.id) for r in self.comparison.runs) + " compared"


@dataclass(frozen=True)
class SweepSummary:
    """The headline facts of a sweep."""

    id: int
    name: str
    dataset_ref: str
    dataset_sha: str
    target: str
    task: str
    model: str
    metric: str
    direction: str
    status: str
    trials: int  # runs recorded, whatever their state
    trials_requested: int | None
    counts: dict[str, int]  # runs by state
    best_value: float | None
    best_params: dict[str, Any]
    best_run_id: int | None
    best_trial: int | None
    elapsed_s: float | None


@dataclass(frozen=True)
class HistoryPoint:
    """One complete trial: its value and the best value up to and including it."""

    trial: int
    value: float
    best: float


@dataclass(frozen=True)
class TrialPoint:
    """One complete trial's searched parameters and value, for the parameter plots."""

    trial: int
    run_id: int
    value: float
    params: dict[str, Any]


@dataclass(frozen=True)
class SweepReport:
    """Everything a sweep report shows; ``comparison`` is None with fewer than 2 runs."""

    summary: SweepSummary
    history: list[HistoryPoint]
    importances: dict[str, float]
    top_runs: list[RunRecord]
    comparison: Comparison | None
    generated_at: datetime  # naive UTC
    notes: list[str] = field(default_factory=list)
    trials: list[TrialPoint] = field(default_factory=list)  # complete trials, trial order
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)  # searched only
    lineage: list[RunLineage] = field(default_factory=list)  # of the top runs

    @property
    def title(self) -> str:
        return f"Sweep {self.summary.id}: {self.summary.name}"


def top_runs_table(report: SweepReport) -> tuple[list[str], list[list[str]]]:
    """The top runs as a header and text rows, the same in every format."""
    names = list(dict.fromkeys(k for r in report.top_runs for k in r.params))
    header = ["rank", "run", "trial", report.summary.metric, "± std", "duration", *names]
    rows = [
        [
            str(rank),
            str(run.id),
            str(run.trial_number),
            format_value(run.value),
            format_value(run.value_std),
            format_duration(run.duration_s),
            *(format_value(run.params.get(name)) for name in names),
        ]
        for rank, run in enumerate(report.top_runs, start=1)
    ]
    return header, rows


def runs_report(ws: Workspace, run_ids: list[int], baseline: int | None = None) -> RunsReport:
    """Compare the runs and gather each one's lineage, curves and importances."""
    comparison = compare_runs(ws, run_ids, baseline)
    sweeps = {r.sweep_id: repo.get_sweep(ws.db, r.sweep_id) for r in comparison.runs}
    lineage = [run_lineage(run, sweeps[run.sweep_id]) for run in comparison.runs]
    details = [run_detail(run.id, repo.metric_points(ws.db, run.id)) for run in comparison.runs]
    return RunsReport(
        comparison=comparison, lineage=lineage, generated_at=utc_now(), details=details
    )


def run_detail(run_id: int, points: dict[str, Curve]) -> RunDetail:
    """A run's plot-worthy curves and its largest importances, as the run screen shows them."""
    return RunDetail(
        run_id=run_id,
        curves=iteration_curves(points),
        importances=recorded_importances(points, most=MAX_IMPORTANCES),
    )


def sweep_report(
    ws: Workspace, sweep_id: int, top: int = TOP_RUNS, compared: int = TOP_COMPARED
) -> SweepReport:
    """A sweep's summary, optimization history, importances, top runs and top-N comparison."""
    sweep = repo.get_sweep(ws.db, sweep_id)
    complete = sorted(  # table columns only: a sweep may hold tens of thousands of runs
        (r for r in repo.run_summaries(ws.db, sweep_id=sweep.id) if r.status == "complete"),
        key=lambda r: r.trial_number,
    )
    history = optimization_history(ws, sweep, complete)
    top_runs = list_runs(
        ws,
        sweep_id=sweep.id,
        status="complete",
        order_by="value",
        descending=sweep.direction == "maximize",
        limit=top,
    )
    top_runs = [r for r in top_runs if r.value is not None]
    notes: list[str] = []
    try:
        importances = param_importances(ws, sweep)
    except WorkbenchError as exc:
        importances, notes = {}, [str(exc)]
    chosen = [r.id for r in top_runs[:compared]]
    comparison = compare_runs(ws, chosen) if len(chosen) >= 2 else None
    best_trial = next((r.trial_number for r in top_runs if r.id == sweep.best_run_id), None)
    space = searched_space(sweep.spec)
    trials = [
        TrialPoint(r.trial_number, r.id, float(r.value), {k: r.params.get(k) for k in space})
        for r in complete
        if r.value is not None
    ]
    return SweepReport(
        summary=sweep_summary(sweep, best_trial),
        history=history,
        importances=importances,
        top_runs=top_runs,
        comparison=comparison,
        generated_at=utc_now(),
        notes=notes,
        trials=trials,
        search_space=space,
        lineage=[run_lineage(run, sweep) for run in top_runs],
    )


def sweep_summary(sweep: SweepRecord, best_trial: int | None = None) -> SweepSummary:
    return SweepSummary(
        id=sweep.id,
        name=sweep.name,
        dataset_ref=sweep.dataset_ref,
        dataset_sha=sweep.dataset_sha,
        target=sweep.target,
        task=sweep.task,
        model=sweep.model,
        metric=sweep.metric,
        direction=sweep.direction,
        status=sweep.status,
        trials=sum(sweep.counts.values()),
        trials_requested=sweep.trials_requested,
        counts={state: sweep.counts.get(state, 0) for state in RUN_STATES},
        best_value=sweep.best_value,
        best_params=dict(sweep.best_params),
        best_run_id=sweep.best_run_id,
        best_trial=best_trial,
        elapsed_s=_elapsed(sweep),
    )


def optimization_history(
    ws: Workspace, sweep: SweepRecord, runs: Sequence[RunRecord | RunSummary] | None = None
) -> list[HistoryPoint]:
    """Complete trials in trial order, each with the best value so far."""
    if runs is None:
        runs = repo.list_runs(ws.db, sweep_id=sweep.id, status="complete", order_by="trial")
    values = [(r.trial_number, float(r.value)) for r in runs if r.value is not None]
    best = dict(best_so_far(values, sweep.direction))
    return [HistoryPoint(trial, value, best[trial]) for trial, value in sorted(values)]


def run_lineage(run: RunRecord, sweep: SweepRecord) -> RunLineage:
    env = run.environment or {}
    git = found if isinstance(found := env.get("git"), dict) else {}
    return RunLineage(
        run_id=run.id,
        sweep_id=run.sweep_id,
        trial_number=run.trial_number,
        dataset_ref=sweep.dataset_ref,
        dataset_sha=run.dataset_sha,
        seed=run.seed,
        python=env.get("python"),
        libraries={str(k): str(v) for k, v in (env.get("libraries") or {}).items()},
        git_commit=git.get("commit") or None,
        git_dirty=git.get("dirty") if git.get("commit") else None,
        platform=env.get("platform"),
    )


def format_value(value: object) -> str:
    """How every report shows a value: floats to 6 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _elapsed(sweep: SweepRecord) -> float | None:
    if sweep.started_at is None:
        return None
    end = sweep.finished_at or utc_now()
    return max(0.0, (end - sweep.started_at).total_seconds())


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
