"""Runs: listing, details with their curves, and exact reproduction of a recorded run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.sweeps.spec import SweepSpec
from storage import sweeps as repo
from storage.datasets import get_version
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord, RunSummary, SweepRecord

Curves = dict[str, list[tuple[int, float]]]
FOLD_SCORE = "fold_score"  # metric point keys the sweep worker writes beside the curves
IMPORTANCE_PREFIX = "importance:"
PRUNER_REPORTS = "intermediate"
MAX_CURVES = 4


@dataclass(frozen=True)
class Reproduction:
    run: RunRecord
    value: float
    difference: float
    fold_differences: list[float]


def reproduce_run(ws: Workspace, run_id: int) -> Reproduction:
    """Re-execute a run from its recorded definition: same data (checked by hash), same
    parameters, folds and seed; report how far the metric moved."""
    from pipelines.sweeps.families import get_family
    from pipelines.sweeps.training import evaluate

    run = repo.get_run(ws.db, run_id)
    if run.status != "complete" or run.value is None:
        raise WorkbenchError(f"run {run_id} is {run.status}: only complete runs can be reproduced")
    sweep = repo.get_sweep(ws.db, run.sweep_id)
    X, y = run_frame(ws, run, sweep)
    spec = SweepSpec.from_stored(sweep.spec)
    result = evaluate(
        X,
        y,
        task=sweep.task,
        family=get_family(sweep.model),
        params=run.params,
        metric=sweep.metric,
        folds=spec.folds,
        holdout=spec.holdout,
        seed=run.seed,
    )
    return Reproduction(
        run=run,
        value=result.value,
        difference=result.value - run.value,
        fold_differences=[a - b for a, b in zip(result.fold_scores, run.fold_scores, strict=False)],
    )


def run_frame(ws: Workspace, run: RunRecord, sweep: SweepRecord) -> tuple[Any, Any]:
    """The features and target a run trained on, refusing data that has changed since (a
    model rebuilt on other data would not be that run's model)."""
    from pipelines.datasets.versions import browsable_path
    from pipelines.sweeps.training import load_frame

    version = get_version(ws.db, sweep.dataset_ref)
    if version.sha256 != run.dataset_sha:
        raise WorkbenchError(
            f"run {run.id} used data {run.dataset_sha[:12]} but {sweep.dataset_ref} is now "
            f"{version.sha256[:12]}"
        )
    exclude = SweepSpec.from_stored(sweep.spec).exclude
    return load_frame(browsable_path(ws, version), sweep.target, exclude)


def get_run(ws: Workspace, run_id: int) -> RunRecord:
    return repo.get_run(ws.db, run_id)


def run_curves(ws: Workspace, run_id: int) -> Curves:
    """Every metric point the run recorded, by key (curves, fold scores, importances)."""
    return repo.metric_points(ws.db, run_id)


def recorded_curves(points: Curves) -> Curves:
    """The per-step curves among a run's metric points: LightGBM's valid_* per iteration and
    what was reported to the pruner; not the fold scores or importances kept beside them."""
    return {
        key: curve
        for key, curve in points.items()
        if key != FOLD_SCORE and not key.startswith(IMPORTANCE_PREFIX)
    }


def iteration_curves(points: Curves, most: int = MAX_CURVES) -> Curves:
    """Curves worth a plot of one run: the model's own first; the pruner reports only when
    the model records nothing else."""
    curves = recorded_curves(points)
    own = {k: c for k, c in curves.items() if k != PRUNER_REPORTS and len(c) > 1}
    if own:
        return dict(list(own.items())[:most])
    reports = curves.get(PRUNER_REPORTS, [])
    return {PRUNER_REPORTS: reports} if len(reports) > 1 else {}


def recorded_importances(points: Curves, most: int | None = None) -> dict[str, float]:
    """The model's own importances by input column, recorded at training time, largest
    first (ties by name); {} when the run has none (pruned, failed, or no importances)."""
    found = {
        key.removeprefix(IMPORTANCE_PREFIX): curve[-1][1]
        for key, curve in points.items()
        if key.startswith(IMPORTANCE_PREFIX) and curve
    }
    ordered = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(ordered[:most] if most is not None else ordered)


def list_runs(
    ws: Workspace,
    *,
    sweep_id: int | None = None,
    status: str | None = None,
    order_by: str = "id",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[RunRecord]:
    return repo.list_runs(
        ws.db,
        sweep_id=sweep_id,
        status=status,
        order_by=order_by,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def run_summaries(ws: Workspace, sweep_id: int | None = None) -> list[RunSummary]:
    return repo.run_summaries(ws.db, sweep_id=sweep_id)
