"""Model insight per run: held-out predictions (confusion matrix or residuals), the model's
own feature importances, and permutation importance on held-out rows.

Held-out predictions are recorded at training time (pipelines.sweeps.training.evaluate keeps the
out-of-fold predictions its fold scores came from; the sweep worker stores them as a small
Parquet artifact named by `RunRecord.predictions_sha`), so a summary costs one file read.
Permutation importance needs a refit and many predictions: it is computed on demand and
cached, never during a sweep. UI-free: the compare screen and `workbench runs insight` both
call these functions; heavy libraries are imported inside them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.runs.details import recorded_importances
from pipelines.sweeps.spec import SweepSpec
from storage import sweeps as repo
from storage.artifacts import ArtifactStore
from storage.errors import WorkbenchError
from storage.handle import Workspace

if TYPE_CHECKING:
    from pipelines.sweeps.training import HeldOutPredictions
    from storage.records import RunRecord, SweepRecord

__all__ = [
    "ConfusionSummary",
    "HeldOutSummary",
    "InsightError",
    "LargeResidual",
    "PermutationResult",
    "ResidualSummary",
    "decode_held_out",
    "encode_held_out",
    "held_out_predictions",
    "held_out_summary",
    "own_importances",
    "permutation_importances",
]

QUANTILES = (("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95))
LARGEST = 5
CACHE_VERSION = 1  # bump when the permutation computation changes meaning


class InsightError(WorkbenchError):
    """A run has no insight of the kind asked for; the message says why, in one line."""


@dataclass(frozen=True)
class ConfusionSummary:
    labels: list[Any]  # class labels, sorted (the order of the model's classes_)
    matrix: list[list[int]]  # rows = true class, columns = predicted class
    precision: list[float]  # per label; 0.0 where nothing was predicted as it
    recall: list[float]  # per label; 0.0 where no row has it
    accuracy: float  # pooled over every held-out row


@dataclass(frozen=True)
class LargeResidual:
    row: int  # row position in the training frame (missing targets dropped)
    true: float
    predicted: float
    residual: float  # true - predicted


@dataclass(frozen=True)
class ResidualSummary:
    """Residuals are true - predicted, pooled over every held-out row."""

    count: int
    mean: float
    std: float
    mae: float
    rmse: float
    quantiles: dict[str, float]  # "p05", "p25", "p50", "p75", "p95"
    largest: list[LargeResidual]  # the largest absolute residuals, largest first


@dataclass(frozen=True)
class HeldOutSummary:
    run_id: int
    task: str  # classification | regression
    rows: int  # held-out rows (K-fold: every row of the data once)
    folds: int  # how many folds they came from (1 for a holdout split)
    confusion: ConfusionSummary | None = None  # classification
    residuals: ResidualSummary | None = None  # regression


@dataclass(frozen=True)
class PermutationResult:
    """Drop in the sweep metric when one input column is shuffled, on held-out rows.
    Drops are signed so that positive means the model got worse (for a loss such as rmse
    the drop is the increase); a column near 0 (or below) carries nothing the model uses."""

    run_id: int
    scorer: str  # the sweep metric
    direction: str  # maximize | minimize: which way the metric is better
    baseline: float  # the metric on the rows used, nothing shuffled
    rows: int  # held-out rows scored (the first fold's, subsampled to max_rows)
    repeats: int
    mean: dict[str, float]  # by input column, largest drop first
    std: dict[str, float]
    seconds: float  # how long the computation took when it ran
    cached: bool = field(default=False)  # this call read the cache


# --- held-out predictions ----------------------------------------------------------------


def encode_held_out(held: HeldOutPredictions) -> bytes:
    """Parquet bytes (columns row, fold, y_true, y_pred): a few KB for thousands of rows,
    and labels keep their type (bool, int, str, float) without pickling."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "row": pa.array(held.rows, type=pa.int64()),
            "fold": pa.array(held.folds, type=pa.int16()),
            "y_true": _arrow(held.y_true),
            "y_pred": _arrow(held.y_pred),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def decode_held_out(data: bytes) -> HeldOutPredictions:
    import numpy as np
    import pyarrow.parquet as pq

    from pipelines.sweeps.training import HeldOutPredictions

    table = pq.read_table(io.BytesIO(data))

    def column(name: str) -> Any:
        values = table.column(name).to_numpy(zero_copy_only=False)
        return values.astype(object) if values.dtype.kind in "OUS" else values

    return HeldOutPredictions(
        rows=np.asarray(column("row"), dtype=np.int64),
        folds=np.asarray(column("fold"), dtype=np.int16),
        y_true=column("y_true"),
        y_pred=column("y_pred"),
    )


def held_out_predictions(ws: Workspace, run_id: int) -> HeldOutPredictions:
    """The run's recorded out-of-fold predictions; InsightError says why there are none."""
    run = repo.get_run(ws.db, run_id)
    if run.status != "complete":
        raise InsightError(f"run {run_id} {_status_words(run.status)}: no held-out predictions")
    if run.predictions_sha is None:
        raise InsightError(f"run {run_id} predates held-out recording: no held-out predictions")
    store = ArtifactStore(ws.paths.artifacts)
    if not store.exists(run.predictions_sha):
        raise InsightError(
            f"run {run_id}: held-out predictions {run.predictions_sha[:12]} are missing from "
            f"the workspace's artifacts"
        )
    try:
        return decode_held_out(store.get_bytes(run.predictions_sha))
    except Exception as exc:  # a damaged artifact: pyarrow's errors are not one line
        raise InsightError(
            f"run {run_id}: held-out predictions {run.predictions_sha[:12]} are unreadable: "
            f"{_one_line(exc)}"
        ) from exc


def held_out_summary(ws: Workspace, run_id: int) -> HeldOutSummary:
    """Confusion matrix with per-class precision/recall (classification) or the residual
    distribution with its largest misses (regression), from the recorded predictions."""
    import numpy as np

    held = held_out_predictions(ws, run_id)
    sweep = repo.get_sweep(ws.db, repo.get_run(ws.db, run_id).sweep_id)
    rows, folds = len(held), len(np.unique(held.folds))
    if sweep.task == "classification":
        return HeldOutSummary(run_id, sweep.task, rows, folds, confusion=_confusion(held))
    return HeldOutSummary(run_id, sweep.task, rows, folds, residuals=_residuals(held))


def _confusion(held: HeldOutPredictions) -> ConfusionSummary:
    import numpy as np

    true, pred = np.asarray(held.y_true), np.asarray(held.y_pred)
    labels = np.unique(np.concatenate([true, pred]))  # sorted, as classes_ are
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, (np.searchsorted(labels, true), np.searchsorted(labels, pred)), 1)
    correct = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    return ConfusionSummary(
        labels=[_plain(label) for label in labels],
        matrix=matrix.tolist(),
        precision=[float(c / p) if p else 0.0 for c, p in zip(correct, predicted, strict=True)],
        recall=[float(c / a) if a else 0.0 for c, a in zip(correct, actual, strict=True)],
        accuracy=float(correct.sum() / matrix.sum()) if matrix.sum() else 0.0,
    )


def _residuals(held: HeldOutPredictions) -> ResidualSummary:
    import numpy as np

    true = np.asarray(held.y_true, dtype=float)
    pred = np.asarray(held.y_pred, dtype=float)
    residual = true - pred
    order = np.argsort(-np.abs(residual), kind="stable")[:LARGEST]
    return ResidualSummary(
        count=len(residual),
        mean=float(residual.mean()),
        std=float(residual.std()),
        mae=float(np.abs(residual).mean()),
        rmse=float(np.sqrt(np.mean(residual**2))),
        quantiles={name: float(np.quantile(residual, q)) for name, q in QUANTILES},
        largest=[
            LargeResidual(int(held.rows[i]), float(true[i]), float(pred[i]), float(residual[i]))
            for i in order
        ],
    )


# --- importances -------------------------------------------------------------------------


def own_importances(ws: Workspace, run_id: int) -> dict[str, float]:
    """The model's own importances by input column (mean over folds, summing to 1), largest
    first, as recorded at training time; {} when the run has none (pruned, failed, or a
    model without importances)."""
    repo.get_run(ws.db, run_id)  # NotFoundError for an unknown run
    return recorded_importances(repo.metric_points(ws.db, run_id))


def permutation_importances(
    ws: Workspace, run_id: int, repeats: int = 5, max_rows: int = 2000, *, compute: bool = True
) -> PermutationResult | None:
    """Permutation importance of every input column on held-out rows: the run's pipeline is
    rebuilt from its parameters and seed exactly as training builds it, fitted on the first
    fold's training part, and scored with the sweep metric on that fold's held-out part
    (at most `max_rows` of them, a seeded sample) with each column shuffled `repeats` times.

    Computed on demand rather than during the sweep: it costs a refit plus
    columns x repeats predictions, many times a trial's own time, and would break the
    sweep-overhead budget (<= 1.05x a bare Optuna loop) for a view most runs never get.
    The result is cached in the workspace (artifacts/insight/), keyed by everything it
    depends on (data hash, model, parameters, seed, split, metric, repeats, max_rows), so a
    second call only reads a small JSON file. With ``compute=False`` only the cache is read
    (None when the result was never computed): a view can show it without the wait."""
    if repeats < 1 or max_rows < 1:
        raise InsightError(f"repeats and max_rows must be at least 1, got {repeats}, {max_rows}")
    run = repo.get_run(ws.db, run_id)
    if run.status != "complete":
        raise InsightError(
            f"run {run_id} {_status_words(run.status)}: permutation importance needs a complete run"
        )
    sweep = repo.get_sweep(ws.db, run.sweep_id)
    path = _cache_path(ws, run, sweep, repeats, max_rows)
    cached = _read_cache(path)
    if cached is not None:
        return PermutationResult(**{**cached, "run_id": run_id, "cached": True})
    if not compute:
        return None
    try:
        result = _compute_permutation(ws, run, sweep, repeats, max_rows)
    except WorkbenchError:
        raise
    except Exception as exc:  # a model or data library failing: one line, not a traceback
        raise InsightError(
            f"run {run_id}: permutation importance failed: {_one_line(exc)}"
        ) from exc
    _write_cache(path, {k: v for k, v in asdict(result).items() if k not in ("run_id", "cached")})
    return result


def _compute_permutation(
    ws: Workspace, run: RunRecord, sweep: SweepRecord, repeats: int, max_rows: int
) -> PermutationResult:
    import numpy as np
    from sklearn.inspection import permutation_importance
    from threadpoolctl import threadpool_limits

    from pipelines.runs.details import run_frame
    from pipelines.sweeps.families import get_family
    from pipelines.sweeps.training import (
        METRICS,
        fit_fold,
        predict,
        prepare_target,
        score,
        splits,
    )

    started = time.perf_counter()
    X, y = run_frame(ws, run, sweep)
    y = prepare_target(y, sweep.task)
    spec = SweepSpec.from_stored(sweep.spec)
    train, valid = splits(y, sweep.task, spec.folds, spec.holdout, run.seed)[0]
    with threadpool_limits(limits=1, user_api="openmp"):  # as a sweep worker fits (n_jobs=1)
        pipeline, _ = fit_fold(
            X.iloc[train],
            y.iloc[train],
            X.iloc[valid],
            y.iloc[valid],
            task=sweep.task,
            family=get_family(sweep.model),
            params=run.params,
            metric=sweep.metric,
            seed=run.seed,
        )
    if len(valid) > max_rows:
        picked = np.random.default_rng(run.seed).choice(len(valid), size=max_rows, replace=False)
        valid = valid[np.sort(picked)]
    X_eval, y_eval = X.iloc[valid], y.iloc[valid]
    metric, task = sweep.metric, sweep.task
    sign = 1.0 if METRICS[metric].direction == "maximize" else -1.0

    def scorer(estimator: Any, X_part: Any, y_part: Any) -> float:
        predictions, proba, classes = predict(estimator, X_part, task)
        return sign * score(metric, y_part, predictions, proba, classes)

    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            baseline = sign * scorer(pipeline, X_eval, y_eval)
            found = permutation_importance(
                pipeline,
                X_eval,
                y_eval,
                scoring=scorer,
                n_repeats=repeats,
                random_state=run.seed,
                n_jobs=1,
            )
    except ValueError as exc:
        raise InsightError(
            f"run {run.id}: permutation importance failed: {_one_line(exc)}"
        ) from exc
    columns = [str(c) for c in X.columns]
    order = sorted(range(len(columns)), key=lambda i: (-found.importances_mean[i], columns[i]))
    return PermutationResult(
        run_id=run.id,
        scorer=metric,
        direction=METRICS[metric].direction,
        baseline=float(baseline),
        rows=len(valid),
        repeats=repeats,
        mean={columns[i]: float(found.importances_mean[i]) for i in order},
        std={columns[i]: float(found.importances_std[i]) for i in order},
        seconds=time.perf_counter() - started,
    )


def _cache_path(
    ws: Workspace, run: RunRecord, sweep: SweepRecord, repeats: int, max_rows: int
) -> Path:
    spec = SweepSpec.from_stored(sweep.spec)
    key = {
        "version": CACHE_VERSION,
        "data": run.dataset_sha,
        "target": sweep.target,
        "task": sweep.task,
        "model": sweep.model,
        "metric": sweep.metric,
        "params": run.params,
        "seed": run.seed,
        "folds": spec.folds,
        "holdout": spec.holdout,
        "exclude": spec.exclude,
        "repeats": repeats,
        "max_rows": max_rows,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return ws.paths.artifacts / "insight" / f"permutation-{digest}.json"


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Atomically, so a reader never sees half a file; a failed write only costs a rerun."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        return
    finally:
        partial.unlink(missing_ok=True)


# --- helpers -----------------------------------------------------------------------------


def _arrow(values: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.array(values)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _status_words(status: str) -> str:
    return {"failed": "failed", "running": "is still running"}.get(status, f"was {status}")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON-ready and hashable alike)."""
    return value.item() if hasattr(value, "item") else value
