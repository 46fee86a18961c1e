"""Evaluating a deployment's alert rules on one window, and keeping the window's drift
snapshot.

An alert is raised on the transition: when a rule starts to hold after a window where it
did not (or on the first window it holds), not again on every window while it keeps
holding. A window where the rule no longer holds clears it, so the next time it holds is
a new alert. A window that cannot tell (no labels yet for a real-performance rule, an
unknown error rate) leaves the rule as it was. The state is stored on the rule, so a
restart does not raise again what was already raised, and of two processes evaluating the
same window only one raises (one conditional update).

A rule with a command starts it in the background (pipelines.alerts.commands): the alert
is returned with `command_status` "running" and its outcome lands on the stored alert."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pipelines.alerts.commands import DEFAULT_TIMEOUT_S, start_command
from pipelines.alerts.rules import WindowSummary, check
from storage import monitoring as repo
from storage.handle import Workspace
from storage.records import AlertRecord, DriftSnapshotRecord

COLUMN_FIELDS = ("column", "method", "score", "threshold", "drifted")


def evaluate_rules(
    ws: Workspace, summary: WindowSummary, *, command_timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[AlertRecord]:
    """Check every enabled rule of the summary's deployment; store and return the alerts
    raised by this window (commands started, not waited for)."""
    raised: list[AlertRecord] = []
    for rule in repo.list_rules(ws.db, summary.deployment):
        if not rule.enabled:
            continue
        verdict = check(rule, summary)
        if verdict.holds is None or verdict.holds == rule.firing:
            continue
        if not repo.move_firing(ws.db, rule.id, verdict.holds) or not verdict.holds:
            continue  # cleared, or another evaluator raised it first
        alert_id = repo.add_alert(
            ws.db,
            rule,
            summary.window_end,
            message=verdict.message,
            value=verdict.value,
            command_status="running" if rule.command else None,
        )
        alert = repo.get_alert(ws.db, alert_id)
        if rule.command:
            start_command(ws.db, rule.command, alert, command_timeout_s)
        raised.append(alert)
    return raised


def record_snapshot(
    ws: Workspace,
    summary: WindowSummary,
    columns: Iterable[Any] = (),
    prediction_drift: Mapping[str, Any] | None = None,
) -> None:
    """Store the window: `columns` are per-column results, each a mapping or an object
    with column, method, score, threshold and drifted (pipelines.drift's results are)."""
    repo.add_snapshot(
        ws.db,
        summary.deployment,
        summary.window_end,
        rows=summary.rows,
        drift_share=float(summary.drift_share),
        dataset_drifted=bool(summary.dataset_drifted),
        columns=[_column(c) for c in columns],
        prediction_drift=None if prediction_drift is None else _plain(dict(prediction_drift)),
        real_metrics={k: float(v) for k, v in summary.real_metrics.items()},
        estimated_metrics={k: float(v) for k, v in summary.estimated_metrics.items()},
        error_rate=None if summary.error_rate is None else float(summary.error_rate),
        unseen_columns=list(summary.unseen_columns),
    )


def snapshots(
    ws: Workspace, deployment: str, limit: int = 50, before: datetime | None = None
) -> list[DriftSnapshotRecord]:
    """Newest first; pass the last one's window_end as `before` for the page before it."""
    return repo.list_snapshots(ws.db, deployment, limit, before)


def list_alerts(
    ws: Workspace, deployment: str | None = None, limit: int = 200
) -> list[AlertRecord]:
    return repo.list_alerts(ws.db, deployment, limit)


def _column(result: Any) -> dict[str, Any]:
    get = result.get if isinstance(result, Mapping) else lambda key: getattr(result, key)
    data: dict[str, Any] = {key: get(key) for key in COLUMN_FIELDS}
    score = data["score"]
    return {
        "column": str(data["column"]),
        "method": str(data["method"]),
        "score": None if score is None or score != score else float(score),  # NaN: no score
        "threshold": float(data["threshold"]),
        "drifted": bool(data["drifted"]),
    }


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars as Python values, for JSON."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in data.items()}
