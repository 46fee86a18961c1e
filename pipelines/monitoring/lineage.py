"""A deployment's lineage as the monitoring side needs it: deployment -> model version
(registry) -> its run, sweep and dataset version, and the model's training frame. One walk,
shared by the drift watch, `workbench drift --deployment` and the traffic simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

    from storage.handle import Workspace


@dataclass(frozen=True)
class DeploymentFacts:
    name: str
    url: str
    token: str | None
    model_ref: str  # name:version
    dataset_version: str  # name@Dn
    task: str
    target: str
    exclude: tuple[str, ...]
    features: tuple[str, ...]  # the schema's columns, time columns aside (no drift test)
    categorical: tuple[str, ...]  # the schema's category columns
    training_metrics: dict[str, Any]
    run_id: int = 0
    columns: tuple[str, ...] = ()  # every column of the schema, in its order


def deployment_facts(ws: Workspace, name: str) -> DeploymentFacts:
    from pipelines.registry.versions import resolve
    from pipelines.sweeps.spec import SweepSpec
    from storage import deployments as deployments_repo
    from storage import sweeps as sweeps_repo

    record = deployments_repo.get_deployment(ws.db, name)
    version = resolve(ws, record.model_ref)
    dataset_ref = str(version.lineage.get("dataset_version") or "")
    if not dataset_ref:
        raise WorkbenchError(f"{version.ref} records no dataset version in its lineage")
    run = sweeps_repo.get_run(ws.db, version.run_id)
    sweep = sweeps_repo.get_sweep(ws.db, run.sweep_id)
    columns = version.input_schema.get("columns") or []
    return DeploymentFacts(
        name=name,
        url=record.url,
        token=record.token,
        model_ref=version.ref,
        dataset_version=dataset_ref,
        task=sweep.task,
        target=sweep.target,
        exclude=tuple(SweepSpec.from_stored(sweep.spec).exclude),
        features=tuple(str(c["name"]) for c in columns if c.get("kind") != "time"),
        categorical=tuple(str(c["name"]) for c in columns if c.get("kind") == "categorical"),
        training_metrics=dict(version.metrics),
        run_id=version.run_id,
        columns=tuple(str(c["name"]) for c in columns),
    )


def training_frame(ws: Workspace, facts: DeploymentFacts) -> pd.DataFrame:
    """The model's training features (target and exclusions dropped, every row kept) from
    its dataset version."""
    from pipelines.datasets.versions import browsable_path
    from pipelines.sweeps.training import load_frame
    from storage import datasets as datasets_repo

    dataset = datasets_repo.get_version(ws.db, facts.dataset_version)
    X, _ = load_frame(browsable_path(ws, dataset), facts.target, facts.exclude)
    return X
