"""What a deployment is compared against, and its recent traffic as a table.

The reference is the model's own training data, reached by the lineage the registry keeps:
deployment -> model version -> its dataset version and the sweep's target and exclusions,
restricted to the columns the model's schema names (what production sends)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.datasets.frames import NamedTable
from pipelines.monitoring.lineage import DeploymentFacts, deployment_facts, training_frame
from storage.errors import WorkbenchError

if TYPE_CHECKING:
    from storage.handle import Workspace

__all__ = ["DeploymentFacts", "deployment_facts", "deployment_reference", "recent_traffic"]

MAX_LAST = 50_000


def deployment_reference(ws: Workspace, facts: DeploymentFacts) -> NamedTable:
    """The model's training rows (features only) from its dataset version."""
    X = training_frame(ws, facts)
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
