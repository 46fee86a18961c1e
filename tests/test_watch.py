"""A deployment watched end to end: a real wine sweep registered and deployed as a local
process on 127.0.0.1, fed by the simulator with held-out rows and delayed labels. The
watch says plainly when the window is too small, finds no drift on the data's own rows,
flips to drift once a sudden shift fills the window, stores snapshots that an alert rule
judges (raised on the window where drift starts), and keeps its window when the
deployment stops answering; `workbench drift --deployment` reads the same traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.alerts.evaluate import list_alerts, snapshots
from pipelines.alerts.rules import add_rule
from pipelines.deploy import deployments
from pipelines.monitoring.simulate import simulate
from pipelines.monitoring.traffic_data import deployment_traffic
from pipelines.registry.versions import register_model
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from pipelines.watch.watcher import DeploymentWatch, WatchSettings
from storage import sweeps as sweeps_repo
from storage.handle import Workspace, open_workspace
from tests.sweep_helpers import add_sample
from workbench.cli import main

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


def test_the_watch_flips_to_drift_when_the_traffic_shifts_and_an_alert_fires_then(
    deployed: Deployed,
) -> None:
    add_rule(deployed.ws, deployed.name, "dataset_drift")
    settings = WatchSettings(max_rows=60, min_rows=30, snapshot_every_s=0.0)
    watch = DeploymentWatch.open(deployed.ws, deployed.name, settings)
    view = watch.refresh(deployed.ws)
    assert view.drift is None and view.window_rows == 0
    assert view.note is not None and "no requests answered yet" in view.note

    send(deployed, "none", 10)
    view = watch.refresh(deployed.ws)
    assert view.drift is None and view.note == "the window holds 10 rows: drift is tested from 30"

    send(deployed, "none", 50, labels_after_s=0.05)
    view = watch.refresh(deployed.ws)
    assert view.drift is not None and not view.drift.drifted, view.drift
    assert view.window_rows == 60 and view.reference_label == "wine@D0"
    assert view.prediction_drift is not None and not view.prediction_drift.drifted
    assert view.traffic is not None and view.traffic.errors == 0
    assert view.alerts == ()
    stored = snapshots(deployed.ws, deployed.name)
    assert len(stored) == 1 and not stored[0].dataset_drifted

    send(deployed, "new-column", 60)  # the new column is recorded, the data unshifted
    view = watch.refresh(deployed.ws)
    assert view.schema is not None and view.schema.unseen and not view.drift.drifted

    moved = {"alcohol": 4.0, "proline": 900.0, "color_intensity": 6.0, "flavanoids": 3.0}
    moved |= {"hue": 1.0, "magnesium": 60.0, "ash": 1.5, "total_phenols": 2.0}
    source = deployment_traffic(deployed.ws, deployed.name)
    rows = [{k: v + moved.get(k, 0.0) for k, v in row.items()} for row in source.rows]
    summary = simulate(source.url, rows, source.labels, scenario="none", rate=400, count=60)
    assert summary.answered == 60
    view = watch.refresh(deployed.ws)
    assert view.drift is not None and view.drift.drifted, view.drift.to_dict()
    assert set(moved) <= {c.column for c in view.drift.columns if c.drifted}
    assert [a.kind for a in view.alerts] == ["dataset_drift"]  # raised on this window
    assert len(list_alerts(deployed.ws, deployed.name)) == 1
    assert all(len(watch.history[c]) >= 3 for c in moved)  # the sparklines' points

    again = watch.refresh(deployed.ws)  # still drifting: no second alert
    assert again.alerts == () and len(list_alerts(deployed.ws, deployed.name)) == 1


def test_drift_against_a_deployment_from_the_command_line(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    send(deployed, "none", 40)
    args = ["--workspace", str(deployed.root), "drift", "--deployment", deployed.name]
    code = main([*args, "--last", "40", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["current_rows"] == 40 and result["reference"] == "wine@D0"
    assert code == (1 if result["drifted"] else 0) and not result["drifted"]


def test_a_deployment_that_stops_answering_keeps_its_window_and_says_so(
    deployed: Deployed,
) -> None:
    watch = DeploymentWatch.open(deployed.ws, deployed.name, WatchSettings(max_rows=50))
    send(deployed, "none", 50)
    view = watch.refresh()
    assert view.error is None and view.drift is not None
    deployments.stop_deployment(deployed.ws, deployed.name)
    try:
        view = watch.refresh()
        assert view.error is not None and "\n" not in view.error
        assert view.drift is not None and view.window_rows == 50  # what it had is kept
    finally:
        deployments.start_deployment(deployed.ws, deployed.name)
