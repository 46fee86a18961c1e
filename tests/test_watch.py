"""A deployment watched end to end: a real wine sweep registered and deployed as a local
process on 127.0.0.1, fed by the simulator with held-out rows and delayed labels. The
watch says plainly when the window is too small, finds no drift on the data's own rows,
flips to drift once a sudden shift fills the window, stores snapshots that an alert rule
judges (raised on the window where drift starts), and keeps its window when the
deployment stops answering; `workbench drift --deployment` reads the same traffic."""

from __future__ import annotations

import json

import pytest

from pipelines.alerts.evaluate import list_alerts, snapshots
from pipelines.alerts.rules import add_rule
from pipelines.deploy import deployments
from pipelines.watch.watcher import DeploymentWatch, WatchSettings
from tests.watch_helpers import MOVED, Deployed, deployed, send, send_shifted
from workbench.cli import main

__all__ = ["deployed"]  # fixture


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

    send_shifted(deployed, 60)
    view = watch.refresh(deployed.ws)
    assert view.drift is not None and view.drift.drifted, view.drift.to_dict()
    assert set(MOVED) <= {c.column for c in view.drift.columns if c.drifted}
    assert [a.kind for a in view.alerts] == ["dataset_drift"]  # raised on this window
    assert len(list_alerts(deployed.ws, deployed.name)) == 1
    assert all(len(watch.history[c]) >= 3 for c in MOVED)  # the sparklines' points

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
