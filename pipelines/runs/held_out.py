"""Held-out predictions of a run: recorded at training time (pipelines.sweeps.training.evaluate
keeps the out-of-fold predictions its fold scores came from; the sweep worker stores them as a
small Parquet artifact named by `RunRecord.predictions_sha`), so a confusion matrix or a
residual summary costs one file read. Part of pipelines.runs.insight, which gathers it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace

if TYPE_CHECKING:
    from pipelines.sweeps.training import HeldOutPredictions

QUANTILES = (("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95))
LARGEST = 5


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
        raise InsightError(f"run {run_id} {status_words(run.status)}: no held-out predictions")
    if run.predictions_sha is None:
        raise InsightError(f"run {run_id} predates held-out recording: no held-out predictions")
    store = ws.artifacts
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
            f"{one_line(exc)}"
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


# --- helpers -----------------------------------------------------------------------------


def _arrow(values: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.array(values)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def status_words(status: str) -> str:
    return {"failed": "failed", "running": "is still running"}.get(status, f"was {status}")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON-ready and hashable alike)."""
    return value.item() if hasattr(value, "item") else value
