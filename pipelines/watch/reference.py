"""What a deployment is compared against, and its recent traffic as a table.

The reference is the model's own training data, reached by the lineage the registry keeps:
deployment -> model version -> its dataset version and the sweep's target and exclusions,
restricted to the columns the model's schema names (what production sends)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.datasets.frames import NamedTable
from storage.errors import WorkbenchError

if TYPE_CHECKING:
    from storage.handle import Workspace

MAX_LAST = 50_000


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


def deployment_facts(ws: Workspace, name: str) -> DeploymentFacts:
    from pipelines.registry.versions import resolve
    from pipelines.sweeps.spec import SweepSpec
    from storage import deployments as deployments_repo
    from storage import sweeps as sweeps_repo

    record = deployments_repo.get_deployment(ws.db, name)
    version = resolve(ws, record.model_ref)
    dataset_ref = str(version.lineage.get("dataset_version") or "")
    if not dataset_ref:
        raise WorkbenchError(f"{version.ref} records no dataset version to compare against")
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
    )


def deployment_reference(ws: Workspace, facts: DeploymentFacts) -> NamedTable:
    """The model's training rows (features only) from its dataset version."""
    from pipelines.datasets.versions import browsable_path
    from pipelines.sweeps.training import load_frame
    from storage import datasets as datasets_repo

    dataset = datasets_repo.get_version(ws.db, facts.dataset_version)
    X, _ = load_frame(browsable_path(ws, dataset), facts.target, facts.exclude)
    absent = [c for c in facts.features if c not in X.columns]
    if absent:
        raise WorkbenchError(
            f"{facts.dataset_version} lacks {absent[0]!r}, which {facts.model_ref} was trained on"
        )
    return NamedTable(facts.dataset_version, X[list(facts.features)], None)


def recent_traffic(facts: DeploymentFacts, last: int) -> NamedTable:
    """The inputs of the deployment's last `last` answered requests (a row each for
    single-row requests), read from its /monitoring/records."""
    from pipelines.monitoring.feed import RecordFeed
    from pipelines.monitoring.window import MonitoringWindow

    if not 1 <= last <= MAX_LAST:
        raise WorkbenchError(f"--last must be between 1 and {MAX_LAST}, not {last}")
    probe = RecordFeed(facts.url, facts.token)
    probe.pull(limit=1)
    feed = RecordFeed(facts.url, facts.token, after=max(0, probe.last_id - last))
    window = MonitoringWindow(max_rows=last)
    while True:
        records = feed.pull(limit=last)
        window.extend(records)
        if not records or feed.behind == 0:
            break
    frame = window.features()
    if frame.empty:
        raise WorkbenchError(f"deployment {facts.name} has answered no requests yet")
    return NamedTable(f"{facts.name} (last {len(frame)} rows)", frame, None)
