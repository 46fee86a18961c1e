"""Alert rules on a real workspace: an alert is raised on the window where its rule starts
to hold (not on every window while it keeps holding), its command runs with the alert on
stdin and in its environment and its outcome is recorded, a command that hangs is cut off
without holding up the evaluation, and bad rules are refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.alerts.commands import wait_for_commands
from pipelines.alerts.evaluate import evaluate_rules, list_alerts, record_snapshot, snapshots
from pipelines.alerts.rules import WindowSummary, add_rule, list_rules, remove_rule, set_enabled
from storage import deployments
from storage.errors import NotFoundError, WorkbenchError
from storage.handle import Workspace, open_workspace
from tests.test_storage_contract_registry import register, sweep_with_runs

START = datetime(2026, 3, 1, 9, 0)


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    dataset_version_id, run_ids = sweep_with_runs(workspace.db, runs=1)
    version = register(workspace.db, "churn", run_ids[0], dataset_version_id)
    deployments.add_deployment(
        workspace.db, "churn", kind="local", model_version_id=version.id, port=1, url="u"
    )
    return workspace


def window(index: int, drifted: bool = False, **fields: object) -> WindowSummary:
    return WindowSummary(
        deployment="churn",
        window_end=START + timedelta(minutes=index),
        rows=500,
        dataset_drifted=drifted,
        drift_share=0.6 if drifted else 0.1,
        drifted_columns=("age", "plan") if drifted else (),
        **fields,  # type: ignore[arg-type]
    )


def test_an_alert_is_raised_on_the_window_where_drift_starts_and_again_after_it_clears(
    ws: Workspace,
) -> None:
    add_rule(ws, "churn", "dataset_drift")
    add_rule(ws, "churn", "column_drift", column="plan")
    pattern = [False, True, True, True, False, True]
    raised = {i: evaluate_rules(ws, window(i, drifted)) for i, drifted in enumerate(pattern)}
    assert {i: len(a) for i, a in raised.items()} == {0: 0, 1: 2, 2: 0, 3: 0, 4: 0, 5: 2}
    alerts = list_alerts(ws, "churn")
    assert sorted(a.window_end for a in alerts) == [
        START + timedelta(minutes=m) for m in (1, 1, 5, 5)
    ]
    drift = next(a for a in raised[1] if a.kind == "dataset_drift")
    assert drift.value == 0.6 and "60% of columns drifted" in drift.message
    assert drift.command_status is None  # no command


def test_a_restart_does_not_raise_again_what_was_raised(ws: Workspace) -> None:
    add_rule(ws, "churn", "unseen_columns")
    assert len(evaluate_rules(ws, window(0, unseen_columns=("coupon",)))) == 1
    again = open_workspace(ws.root)
    try:
        assert evaluate_rules(again, window(1, unseen_columns=("coupon",))) == []
        assert evaluate_rules(again, window(2)) == []
        (alert,) = evaluate_rules(again, window(3, unseen_columns=("coupon", "promo")))
        assert alert.message == "unseen columns arrived: coupon, promo" and alert.value == 2
    finally:
        again.close()


def test_a_disabled_rule_raises_nothing_and_starts_clear_when_enabled(ws: Workspace) -> None:
    rule = add_rule(ws, "churn", "dataset_drift")
    assert len(evaluate_rules(ws, window(0, drifted=True))) == 1
    set_enabled(ws, rule.id, False)
    assert evaluate_rules(ws, window(1, drifted=True)) == []
    set_enabled(ws, rule.id, True)
    (again,) = evaluate_rules(ws, window(2, drifted=True))
    assert again.window_end == START + timedelta(minutes=2)


def test_performance_rules_wait_for_a_window_that_can_tell(ws: Workspace) -> None:
    add_rule(ws, "churn", "performance_below", metric="accuracy", bound=0.8, source="real")
    add_rule(ws, "churn", "performance_below", metric="rmse", bound=2.0, source="estimated")
    add_rule(ws, "churn", "error_rate_above", bound=0.05)
    assert evaluate_rules(ws, window(0)) == []  # no labels, no estimate, no error rate yet
    low = window(1, real_metrics={"accuracy": 0.7}, estimated_metrics={"rmse": 1.5}, error_rate=0.1)
    kinds = sorted((a.kind, a.value) for a in evaluate_rules(ws, low))
    assert kinds == [("error_rate_above", 0.1), ("performance_below", 0.7)]
    worse = window(2, real_metrics={"accuracy": 0.7}, estimated_metrics={"rmse": 2.5})
    (rmse,) = evaluate_rules(ws, worse)  # lower is better for rmse: above the bound is worse
    assert rmse.message == "estimated rmse 2.5 is above 2"
    assert evaluate_rules(ws, window(3)) == []  # unknown again: nothing clears, nothing raised
    assert all(r.firing for r in list_rules(ws, "churn"))


def test_a_command_gets_the_alert_and_its_outcome_is_recorded(
    ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "alert.json"
    command = f'cat > {out}; echo "kind=$WORKBENCH_ALERT_KIND"; exit 3'
    add_rule(ws, "churn", "dataset_drift", command=command)
    (alert,) = evaluate_rules(ws, window(0, drifted=True))
    assert alert.command_status == "running"
    assert wait_for_commands(10)
    (stored,) = list_alerts(ws, "churn")
    assert (stored.command_status, stored.command_exit) == ("failed", 3)
    assert stored.command_output == "kind=dataset_drift\n"
    payload = json.loads(out.read_text())
    assert payload["id"] == alert.id and payload["deployment"] == "churn"
    assert payload["window_end"] == START.isoformat() and payload["value"] == 0.6


def test_a_hanging_command_is_cut_off_without_holding_up_the_evaluation(
    ws: Workspace, tmp_path: Path
) -> None:
    group = tmp_path / "group"
    add_rule(ws, "churn", "dataset_drift", command=f"echo $$ > {group}; sleep 60; echo never")
    started = time.monotonic()
    (alert,) = evaluate_rules(ws, window(0, drifted=True), command_timeout_s=1.0)
    assert alert.command_status == "running"
    assert time.monotonic() - started < 0.5
    assert wait_for_commands(15)
    (stored,) = list_alerts(ws, "churn")
    assert stored.command_status == "timeout" and stored.command_exit is None
    assert "cut off after 1 s" in (stored.command_output or "")
    assert living_members(int(group.read_text())) == []  # the shell and its sleep, as a group


def living_members(group: int) -> list[int]:
    """Processes of the group that are not zombies (a container's init may reap late)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_bad_rules_are_refused_in_one_line(ws: Workspace) -> None:
    cases = [
        (("churn", "drift"), {}, "unknown alert kind 'drift'"),
        (("churn", "column_drift"), {}, "needs --column"),
        (("churn", "performance_below"), {"metric": "accuracy"}, "needs a finite --bound"),
        (("churn", "performance_below"), {"bound": 0.8, "metric": "acc"}, "one of: accuracy"),
        (("churn", "error_rate_above"), {"bound": 1.5}, "from 0 to below 1, not 1.5"),
        (("churn", "dataset_drift"), {"bound": 0.5}, "--bound applies to"),
        (("churn", "dataset_drift"), {"command": "  "}, "--command is empty"),
    ]
    for args, fields, message in cases:
        with pytest.raises(WorkbenchError, match=message) as caught:
            add_rule(ws, *args, **fields)  # type: ignore[arg-type]
        assert "\n" not in str(caught.value)
    with pytest.raises(NotFoundError, match="no deployment named 'nope'"):
        add_rule(ws, "nope", "dataset_drift")
    rule = add_rule(ws, "churn", "dataset_drift")
    remove_rule(ws, rule.id)
    with pytest.raises(NotFoundError, match=f"no alert rule {rule.id}"):
        remove_rule(ws, rule.id)


def test_snapshots_are_kept_from_drift_results_and_scroll_back(ws: Workspace) -> None:
    for index in range(3):
        columns = [
            SimpleNamespace(column="age", method="ks", score=0.01, threshold=0.05, drifted=True),
            {"column": "plan", "method": "chisquare", "score": float("nan"), "threshold": 0.05,
             "drifted": False},
        ]  # fmt: skip
        record_snapshot(ws, window(index, drifted=index == 2), columns, {"method": "psi"})
    newest, *older = snapshots(ws, "churn", limit=3)
    assert newest.dataset_drifted and [s.dataset_drifted for s in older] == [False, False]
    assert [(c.column, c.score) for c in newest.columns] == [("age", 0.01), ("plan", None)]
    assert newest.prediction_drift == {"method": "psi"}
    assert [s.window_end for s in snapshots(ws, "churn", before=older[0].window_end)] == [START]


def test_a_command_still_running_when_its_process_exits_is_cut_off_and_recorded(
    ws: Workspace, tmp_path: Path
) -> None:
    group = tmp_path / "group"
    add_rule(ws, "churn", "dataset_drift", command=f"echo $$ > {group}; sleep 60")
    script = (
        "import sys; from datetime import datetime\n"
        "from pipelines.alerts.evaluate import evaluate_rules\n"
        "from pipelines.alerts.rules import WindowSummary\n"
        "from storage.handle import open_workspace\n"
        "ws = open_workspace(__import__('pathlib').Path(sys.argv[1]))\n"
        "summary = WindowSummary('churn', datetime(2026, 3, 1), 10, True, 0.9)\n"
        "assert len(evaluate_rules(ws, summary)) == 1\n"
        "import time; time.sleep(0.5)\n"  # the command is running; exit without waiting
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ws.root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    (stored,) = list_alerts(ws, "churn")
    assert stored.command_status == "timeout"
    assert "cut off: the Workbench process that ran it exited" in (stored.command_output or "")
    assert living_members(int(group.read_text())) == []
