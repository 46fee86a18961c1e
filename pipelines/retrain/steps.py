"""The work of each retraining step, apart from how steps are recorded (pipeline.py).

The champion's definition is read from its registered version and the sweep that trained
it: family, parameters, target, task, metric, excluded columns and seed (the family fixes
the preprocessing, which is part of the fitted pipeline). The challenger is trained by a
real sweep on the new dataset version, scored on a holdout split of it: either one trial
with the champion's parameters fixed, or a short sweep over the champion's search space
(its ranges; a parameter it fixed is searched over the family's default range). The best
trial of a sweep had the holdout as its selection set, which flatters it a little: the
margin is there for that too. The champion is scored on exactly the rows the
challenger was scored on; if the new version still holds rows the champion was trained
on, that favours the champion, never the challenger."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.sweeps.spec import SweepSpec
from storage import datasets as datasets_repo
from storage import sweeps as sweeps_repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import DatasetVersionRecord, ModelVersionRecord, RunRecord

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_HOLDOUT = 0.25


@dataclass(frozen=True)
class Champion:
    version: ModelVersionRecord
    spec: SweepSpec  # the sweep that trained it
    dataset: str
    target: str
    task: str
    family: str
    metric: str
    direction: str
    seed: int


def champion_of(ws: Workspace, model_ref: str) -> Champion:
    from pipelines.registry.versions import resolve

    version = resolve(ws, model_ref)
    lineage = version.lineage
    try:
        sweep = sweeps_repo.get_sweep(ws.db, int(lineage["sweep"]))
    except (KeyError, TypeError, ValueError):
        raise WorkbenchError(f"{version.ref}: its lineage names no sweep to retrain from") from None
    spec = SweepSpec.from_stored(sweep.spec)
    return Champion(
        version=version,
        spec=spec,
        dataset=str(lineage.get("dataset") or sweep.dataset_ref.partition("@")[0]),
        target=sweep.target,
        task=sweep.task,
        family=sweep.model,
        metric=sweep.metric,
        direction=sweep.direction,
        seed=int(lineage.get("seed", spec.seed)),
    )


def newest_validated(ws: Workspace, dataset: str) -> DatasetVersionRecord:
    """The newest version of `dataset` whose validation did not fail."""
    versions = datasets_repo.list_versions(ws.db, dataset)
    usable = [v for v in versions if v.validation.status != "fail"]
    if not usable:
        raise WorkbenchError(f"dataset {dataset} has no version that passed validation")
    return max(usable, key=lambda v: v.index)


def append_labels(
    ws: Workspace, base: DatasetVersionRecord, labels: pd.DataFrame, target: str, job_id: int
) -> tuple[DatasetVersionRecord, str]:
    """`base` with the labelled production rows appended, registered as the next version
    through the normal ingestion (so it is profiled and validated); returns it and a line
    saying what was appended. Extra columns of the labels (a request id, the prediction)
    are left out; a missing column or a failed validation is refused."""
    import pandas as pd

    from pipelines.datasets.versions import browsable_path, register_dataset

    frame = pd.read_parquet(browsable_path(ws, base))
    if target not in labels.columns:
        raise WorkbenchError(f"the labelled production records have no target column {target!r}")
    missing = [c for c in frame.columns if c not in labels.columns]
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (", …" if len(missing) > 8 else "")
        raise WorkbenchError(f"the labelled production records lack columns of {base.ref}: {shown}")
    rows = labels[labels[target].notna()][list(frame.columns)]
    if rows.empty:
        raise WorkbenchError("the labelled production records have no row with a label")
    rows = rows.copy()
    for column in frame.columns:  # a type that does not cast: validation will say so
        with contextlib.suppress(TypeError, ValueError):
            rows[column] = rows[column].astype(frame[column].dtype)
    combined = pd.concat([frame, rows], ignore_index=True)
    folder = ws.paths.cache / "retrain"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"job-{job_id}-{base.dataset_name}.parquet"
    combined.to_parquet(path, index=False)
    registered = register_dataset(ws, path, name=base.dataset_name, target=target)
    version = registered.version
    if version.validation.status == "fail":
        failed = next(c for c in version.validation.checks if c.status == "fail")
        raise WorkbenchError(
            f"{version.ref} failed validation against {base.ref} ({failed.check}: "
            f"{failed.reason}); retraining uses only validated versions"
        )
    dropped = len(labels) - len(rows)
    note = f", {dropped} without a label left out" if dropped else ""
    return version, f"appended {len(rows)} labelled rows to {base.ref} as {version.ref}{note}"


def sweep_definition(
    champion: Champion,
    version: DatasetVersionRecord,
    trials: int | None,
    holdout: float,
    name: str,
) -> dict[str, Any]:
    """The raw sweep definition that retrains the champion on `version`."""
    columns = {s.name for s in version.schema}
    if trials is None:
        params: dict[str, Any] = dict(champion.version.params)
    else:  # the champion sweep's ranges; what it fixed is searched over the family's defaults
        space = champion.spec.search_space.items()
        params = {key: _raw_param(e) for key, e in space if e["kind"] != "fixed"}
    return {
        "name": name,
        "dataset": version.ref,
        "target": champion.target,
        "model": champion.family,
        "metric": champion.metric,
        "task": champion.task,
        "trials": trials or 1,
        "holdout": holdout,
        "seed": champion.seed,
        "sampler": "tpe",
        "pruner": "none",
        "workers": 1,
        "keep_top": 1,
        "exclude": [c for c in champion.spec.exclude if c in columns],
        "params": params,
    }


def _raw_param(entry: dict[str, Any]) -> Any:
    """A resolved search-space entry written back as a sweep file's [params] setting."""
    if entry["kind"] == "fixed":
        return entry["value"]
    if entry["kind"] == "categorical":
        return {"choices": list(entry["choices"])}
    setting = {k: entry[k] for k in ("low", "high", "log", "step") if entry.get(k) is not None}
    return setting | {"type": entry["kind"]}


def train_challenger(ws: Workspace, raw: dict[str, Any]) -> tuple[int, RunRecord]:
    """Create the sweep and run it in this process; (sweep id, its best kept run)."""
    from pipelines.sweeps.lifecycle import create_sweep
    from pipelines.sweeps.worker import run_worker

    sweep = create_sweep(ws, raw).sweep
    run_worker(ws, sweep.id)
    finished = sweeps_repo.get_sweep(ws.db, sweep.id)
    if finished.status != "finished":
        raise WorkbenchError(f"sweep {sweep.id} ended {finished.status}: {finished.error or ''}")
    runs = sweeps_repo.list_runs(
        ws.db,
        sweep_id=sweep.id,
        status="complete",
        order_by="value",
        descending=finished.direction == "maximize",
        limit=1,
    )
    if not runs or not runs[0].artifact_sha or runs[0].value is None:
        raise WorkbenchError(f"sweep {sweep.id} completed no trial with a kept model")
    return sweep.id, runs[0]


def score_champion(
    ws: Workspace,
    champion: Champion,
    version: DatasetVersionRecord,
    challenger: RunRecord,
    holdout: float,
) -> tuple[float, int]:
    """The champion's metric on the challenger's holdout rows of `version` (checked to be
    the same rows), and how many rows that is."""
    import numpy as np

    from pipelines.datasets.versions import browsable_path
    from pipelines.registry.versions import load_model_version
    from pipelines.runs.held_out import held_out_predictions
    from pipelines.sweeps.training import load_frame, predict, prepare_target, score, splits

    exclude = [c for c in champion.spec.exclude if c in {s.name for s in version.schema}]
    X, y = load_frame(Path(browsable_path(ws, version)), champion.target, exclude)
    y = prepare_target(y, champion.task)
    _, valid = splits(y, champion.task, 1, holdout, champion.seed)[0]
    held = held_out_predictions(ws, challenger.id)
    if not np.array_equal(np.sort(held.rows), np.sort(valid)):
        raise WorkbenchError("the challenger was scored on other rows than the holdout")
    model = load_model_version(ws, champion.version.ref).model
    try:
        predicted, proba, classes = predict(model, X.iloc[valid], champion.task)
        value = score(champion.metric, y.iloc[valid], predicted, proba, classes)
    except WorkbenchError:
        raise
    except Exception as exc:  # a new class the champion never saw, a column it lacks
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbenchError(
            f"{champion.version.ref} cannot score the new holdout: {line}"
        ) from exc
    if not math.isfinite(value):
        raise WorkbenchError(f"{champion.version.ref} scored {value} on the new holdout")
    return value, len(valid)


def beats(champion: Champion, challenger: float, incumbent: float, margin: float) -> bool:
    """Whether the challenger is better by at least `margin`, in the metric's direction."""
    if champion.direction == "maximize":
        return challenger >= incumbent + margin
    return challenger <= incumbent - margin
