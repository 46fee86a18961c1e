"""Runs flattened for screens: one Parquet row per run (so the runs screen filters and sorts
any parameter or metric with DuckDB SQL), sweep timing for progress estimates, and Optuna
parameter importances. UI-free: the screens call these from thread workers.

Measured on 10,000 runs (SQLite; 8 params, 5 metrics and a full environment record each):
``write_runs_parquet`` reads plain columns (``run_summaries``: no environment, no ORM
objects) and runs in a worker: the runs screen mounts at once and the loop stays responsive.
It still takes a second or more at 10,000 runs (the JSON of every run, then pyarrow and
DuckDB imported), so the screen first paints ``first_runs``: one indexed page of runs
flattened in plain Python by the same rules (``runs_rows``), while the snapshot is made."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord, RunSummary, SweepRecord

if TYPE_CHECKING:
    import pyarrow as pa

BASE_COLUMNS = ("run", "sweep", "trial", "status", "value", "value_std", "duration_s", "started")
METRIC_PREFIX = "m_"
PARAM_PREFIX = "p_"  # only when a parameter's name clashes with another column
MIN_TRIALS_FOR_IMPORTANCE = 4
TIMING_SAMPLE = 50  # recent finished runs whose mean duration estimates the rest
FIRST_RUNS = 200  # one LazyTable page: the rows painted before the snapshot is ready
SNAPSHOT_PREFIX = "runs-"
KIND_TYPES = {"bool": "BOOLEAN", "int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR"}
BASE_TYPES = ("BIGINT", "BIGINT", "BIGINT", "VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR")
STALE_SNAPSHOT_S = 3600.0  # a snapshot this old belongs to no open screen


def write_runs_parquet(ws: Workspace, path: Path, sweep_id: int | None = None) -> int:
    """Write every run (or one sweep's) as one flat row to ``path``; returns the row count.
    The file appears whole or not at all (written beside it, then renamed)."""
    import pyarrow.parquet as pq

    table = runs_table(repo.run_summaries(ws.db, sweep_id=sweep_id))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        pq.write_table(table, partial, compression="zstd")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return table.num_rows


@dataclass(frozen=True)
class RunRows:
    """Runs flattened in plain Python: the snapshot's columns, their DuckDB types, and one
    tuple per run holding what a page of the snapshot would hold."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[object, ...]]


@dataclass(frozen=True)
class FirstRuns:
    """The first runs in id order (the snapshot's own order) and how many there are."""

    rows: RunRows
    total: int


def first_runs(ws: Workspace, sweep_id: int | None = None, limit: int = FIRST_RUNS) -> FirstRuns:
    """The first ``limit`` runs, flattened, and the run count: two indexed queries."""
    runs = repo.run_summaries(ws.db, sweep_id=sweep_id, limit=limit)
    return FirstRuns(runs_rows(runs), repo.count_runs(ws.db, sweep_id=sweep_id))


def runs_rows(runs: Sequence[RunRecord | RunSummary]) -> RunRows:
    """The rows ``runs_table`` makes of ``runs``, as DuckDB reads them back from Parquet."""
    (param_names, param_columns), (metric_names, metric_columns) = _layout(runs)
    columns = [*BASE_COLUMNS, *param_columns, *metric_columns]
    types = list(BASE_TYPES)
    cells: list[list[object]] = [
        [r.id for r in runs],
        [r.sweep_id for r in runs],
        [r.trial_number for r in runs],
        [r.status for r in runs],
        [_float(r.value) for r in runs],
        [_float(r.value_std) for r in runs],
        [_float(r.duration_s) for r in runs],
        [_iso(r.started_at) for r in runs],
    ]
    extra = [[run.params.get(name) for run in runs] for name in param_names]
    extra += [[run.metrics.get(name) for run in runs] for name in metric_names]
    for values in extra:
        kind = _kind(values)
        types.append(KIND_TYPES[kind])
        cells.append([_as(kind, value) for value in values])
    return RunRows(columns, types, list(zip(*cells, strict=True)) if runs else [])


def _layout(runs: Sequence[RunRecord | RunSummary]) -> tuple[tuple[list[str], list[str]], ...]:
    """(parameter names, their columns) and (metric names, their columns)."""
    param_names = _names(run.params for run in runs)
    metric_names = _names(run.metrics for run in runs)
    metric_columns = [METRIC_PREFIX + name for name in metric_names]
    taken = set(BASE_COLUMNS) | set(metric_columns)
    param_columns = [PARAM_PREFIX + n if n in taken else n for n in param_names]
    return (param_names, param_columns), (metric_names, metric_columns)


def runs_table(runs: Sequence[RunRecord | RunSummary]) -> pa.Table:
    """Runs as an Arrow table: the fixed columns, then parameters, then ``m_`` metrics."""
    import pyarrow as pa

    (param_names, param_columns), (metric_names, metric_columns) = _layout(runs)
    columns: dict[str, pa.Array] = {
        "run": pa.array([r.id for r in runs], pa.int64()),
        "sweep": pa.array([r.sweep_id for r in runs], pa.int64()),
        "trial": pa.array([r.trial_number for r in runs], pa.int64()),
        "status": pa.array([r.status for r in runs], pa.string()),
        "value": pa.array([r.value for r in runs], pa.float64()),
        "value_std": pa.array([r.value_std for r in runs], pa.float64()),
        "duration_s": pa.array([r.duration_s for r in runs], pa.float64()),
        "started": pa.array([_iso(r.started_at) for r in runs], pa.string()),
    }
    for name, column in zip(param_names, param_columns, strict=True):
        columns[column] = _column([run.params.get(name) for run in runs])
    for name, column in zip(metric_names, metric_columns, strict=True):
        columns[column] = _column([run.metrics.get(name) for run in runs])
    return pa.table(columns)


def _names(dicts: Any) -> list[str]:
    """Keys in first-seen order (a sweep's parameters keep the order of its search space)."""
    seen: dict[str, None] = {}
    for mapping in dicts:
        for key in mapping:
            seen.setdefault(str(key), None)
    return list(seen)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else None


def _kind(values: list[Any]) -> str:
    """A column's kind: numbers stay numbers (so `lr < 0.05` compares numerically), a
    column mixing kinds (a categorical of numbers and text) becomes text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    if present and numeric:
        return "int" if all(isinstance(v, int) for v in present) else "float"
    return "str"


def _as(kind: str, value: Any) -> object:
    """One value as its column of ``kind`` stores it."""
    if value is None or kind in ("bool", "int"):
        return value
    return float(value) if kind == "float" else str(value)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _column(values: list[Any]) -> pa.Array:
    """One typed column of ``_kind``."""
    import pyarrow as pa

    kind = _kind(values)
    types = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}
    return pa.array([_as(kind, value) for value in values], types[kind])


def remove_stale_snapshots(folder: Path, older_than_s: float = STALE_SNAPSHOT_S) -> int:
    """Delete runs snapshots left behind (a TUI that was killed); a screen deletes its own
    when it refreshes or closes, so only files older than ``older_than_s`` go here."""
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for old in folder.glob(f"{SNAPSHOT_PREFIX}*.parquet"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def new_snapshot_path(ws: Workspace) -> Path:
    """A fresh file name under ``<workspace>/cache`` for a runs snapshot."""
    return ws.paths.cache / f"{SNAPSHOT_PREFIX}{uuid.uuid4().hex[:12]}.parquet"


@dataclass(frozen=True)
class SweepTiming:
    """What a progress estimate needs: recent mean trial time and workers alive now."""

    mean_trial_s: float | None
    live_workers: int


def sweep_timing(ws: Workspace, sweep: SweepRecord) -> SweepTiming:
    """Mean duration of the latest finished trials and the live worker count (cheap: a few
    indexed rows, so it can run every second while a sweep is running)."""
    from pipelines.sweeps.lifecycle import live_worker_count

    recent = repo.list_runs(
        ws.db, sweep_id=sweep.id, order_by="id", descending=True, limit=TIMING_SAMPLE
    )
    durations = [r.duration_s for r in recent if r.duration_s is not None and r.status != "running"]
    mean = sum(durations) / len(durations) if durations else None
    return SweepTiming(mean, live_worker_count(ws, sweep.id))


def remaining_s(sweep: SweepRecord, timing: SweepTiming) -> float | None:
    """Estimated seconds left: trials not yet finished × mean trial time ÷ workers."""
    if sweep.status not in ("running", "stopping") or timing.mean_trial_s is None:
        return None
    if not sweep.trials_requested:
        return None
    done = sum(sweep.counts.get(s, 0) for s in ("complete", "pruned", "failed"))
    left = max(0, sweep.trials_requested - done)
    workers = max(1, timing.live_workers)
    return timing.mean_trial_s * -(-left // workers)


def best_so_far(values: list[tuple[int, float]], direction: str) -> list[tuple[int, float]]:
    """(trial, best value up to and including that trial) for a best-so-far curve."""
    better = max if direction == "maximize" else min
    out: list[tuple[int, float]] = []
    for trial, value in sorted(values):
        out.append((trial, value if not out else better(out[-1][1], value)))
    return out


def param_importances(ws: Workspace, sweep: SweepRecord) -> dict[str, float]:
    """PED-ANOVA importances of the searched parameters, most important first; {} while
    fewer than MIN_TRIALS_FOR_IMPORTANCE trials are complete or nothing varies."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState

    from pipelines.sweeps.studies import open_storage

    storage = open_storage(ws, sweep.optuna_storage)
    try:
        study = optuna.load_study(study_name=sweep.study_name, storage=storage)
    except KeyError:
        where = sweep.optuna_storage
        message = f"sweep {sweep.id}: Optuna study {sweep.study_name} not in {where}"
        raise WorkbenchError(message) from None
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return {}
    searched = sorted({name for trial in complete for name in trial.distributions})
    varied = [n for n in searched if len({repr(t.params.get(n)) for t in complete}) > 1]
    if not varied:
        return {}
    importances = get_param_importances(
        study, evaluator=PedAnovaImportanceEvaluator(), params=varied, normalize=True
    )
    return dict(sorted(importances.items(), key=lambda kv: kv[1], reverse=True))
