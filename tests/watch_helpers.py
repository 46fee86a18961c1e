"""A real wine model deployed as a local process on 127.0.0.1 for the drift watch and panel
tests, and the simulator's traffic sent to it (the data's own rows, or shifted ones)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.deploy import deployments
from pipelines.monitoring.simulate import simulate
from pipelines.monitoring.traffic_data import deployment_traffic
from pipelines.registry.versions import register_model
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as sweeps_repo
from storage.handle import Workspace, open_workspace
from tests.sweep_helpers import add_sample

SWEEP = {"dataset": "wine", "model": "random_forest", "trials": 1, "folds": 2, "keep_top": 1}
SWEEP |= {"pruner": "none", "params": {"n_estimators": {"low": 5, "high": 10}}}


@dataclass
class Deployed:
    root: Path
    ws: Workspace
    name: str


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("watch") / "ws"
    ws = open_workspace(root)
    add_sample(ws, "wine", "cultivar")
    run_worker(ws, sweeps.create_sweep(ws, dict(SWEEP)).sweep.id)
    [run] = [r for r in sweeps_repo.list_runs(ws.db) if r.artifact_sha]
    register_model(ws, run.id, "wine")
    deployments.deploy(ws, "wine", local=True, name="wine-watch")
    try:
        yield Deployed(root, ws, "wine-watch")
    finally:
        deployments.remove_deployment(ws, "wine-watch")
        ws.close()


def send(deployed: Deployed, scenario: str, count: int, labels_after_s: float = 0.0) -> None:
    source = deployment_traffic(deployed.ws, deployed.name)
    summary = simulate(source.url, source.rows, source.labels, scenario=scenario, rate=400,
                       count=count, labels_after_s=labels_after_s, seed=3)  # fmt: skip
    assert summary.answered == count


MOVED = {"alcohol": 4.0, "proline": 900.0, "color_intensity": 6.0, "flavanoids": 3.0}
MOVED |= {"hue": 1.0, "magnesium": 60.0, "ash": 1.5, "total_phenols": 2.0}


def send_shifted(deployed: Deployed, count: int) -> None:
    """Held-out rows with most features moved far: the dataset drifts."""
    source = deployment_traffic(deployed.ws, deployed.name)
    rows = [{k: v + MOVED.get(k, 0.0) for k, v in row.items()} for row in source.rows]
    summary = simulate(source.url, rows, source.labels, scenario="none", rate=400, count=count)
    assert summary.answered == count
