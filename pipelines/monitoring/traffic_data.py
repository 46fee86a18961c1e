"""The rows simulated traffic is drawn from: the held-out rows of the run a deployment's
model version came from, in its dataset version, with their true labels.

The path is the one lineage records: deployment -> model version (registry) -> run and
dataset version -> the run's recorded held-out rows (positions in the training frame,
`pipelines.runs.held_out`) and that version's Parquet rows. The model served was refit on
every row after evaluation, so these rows were held out from the evaluated folds, not from
the served model; for drift and delayed-label demos that is what is wanted (rows like the
training data, with labels), not a fresh test set."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.monitoring.feed import MonitoringError
from storage.errors import WorkbenchError

if TYPE_CHECKING:
    from storage.handle import Workspace


@dataclass(frozen=True)
class TrafficSource:
    deployment: str
    url: str
    token: str | None
    model_ref: str  # name:version
    task: str
    dataset_version: str  # name@Dn
    rows: list[dict[str, Any]]  # JSON-ready records of the model's features
    labels: list[Any]  # the true label of each row


def deployment_traffic(ws: Workspace, name: str) -> TrafficSource:
    """The deployment's URL and token with its model's held-out rows and labels;
    MonitoringError (one line) when the deployment or its data cannot be reached."""
    from pipelines.monitoring.lineage import deployment_facts, training_frame
    from pipelines.runs.held_out import held_out_predictions
    from storage import deployments as deployments_repo

    record = deployments_repo.get_deployment(ws.db, name)
    if record.status != "running":
        raise MonitoringError(
            f"deployment {name} is {record.status}, not running: start it first "
            f"(`workbench deploy start {name}`)"
        )
    try:
        facts = deployment_facts(ws, name)
        held = held_out_predictions(ws, facts.run_id)
        X = training_frame(ws, facts)
    except WorkbenchError as exc:
        raise MonitoringError(f"deployment {name}: no held-out data to send ({exc})") from None
    features, dataset_ref = list(facts.columns), facts.dataset_version
    absent = [c for c in features if c not in X.columns]
    if absent or len(X) <= int(max(held.rows, default=-1)):
        raise MonitoringError(
            f"deployment {name}: {dataset_ref} no longer matches the model's training frame"
        )
    frame = X.iloc[list(held.rows)][features]
    return TrafficSource(
        deployment=name,
        url=record.url,
        token=record.token,
        model_ref=facts.model_ref,
        task=facts.task,
        dataset_version=dataset_ref,
        rows=json_records(frame),
        labels=[_plain(v) for v in held.y_true],
    )


def json_records(frame: Any) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready records: missing values as null, numpy scalars as
    Python ones, times as ISO text."""
    columns = [str(c) for c in frame.columns]
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return None if _missing(value) else value.isoformat()
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    return None if _missing(value) else value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, str | bool | int) else False
    except (TypeError, ValueError):
        return False
