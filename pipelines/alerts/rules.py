"""Alert rules: what a user may ask to be told about, checked when the rule is added (so
a bad bound is refused in one line, not found wrong at the first window), and the one
function that says whether a rule holds on a window.

A window summary is what the monitoring loop knows about one window (drift verdicts from
pipelines.drift, metrics from labels and from confidence, the serving error rate); the
lead's live layer fills it and hands it to `pipelines.alerts.evaluate.evaluate_rules`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipelines.alerts.window import WindowSummary
from storage import monitoring as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import AlertRuleRecord

KINDS = ("dataset_drift", "column_drift", "performance_below", "error_rate_above", "unseen_columns")
SOURCES = ("real", "estimated")
LOWER_IS_BETTER = ("rmse", "mae", "log_loss")  # for these, "below" means worse: above the bound
KNOWN_METRICS = ("accuracy", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2")
__all__ = [
    "KINDS",
    "Verdict",
    "WindowSummary",
    "add_rule",
    "check",
    "describe",
    "list_rules",
    "set_enabled",
]


@dataclass(frozen=True)
class Verdict:
    """Whether a rule holds on a window (None: the window cannot tell, e.g. no labels
    yet), the value it looked at, and a message saying it in words."""

    holds: bool | None
    value: float | None
    message: str


def add_rule(
    ws: Workspace,
    deployment: str,
    kind: str,
    *,
    column: str | None = None,
    metric: str | None = None,
    bound: float | None = None,
    source: str = "real",
    command: str | None = None,
) -> AlertRuleRecord:
    """A new enabled rule; anything it would need and lacks is refused here."""
    if kind not in KINDS:
        raise WorkbenchError(f"unknown alert kind {kind!r} (use one of: {', '.join(KINDS)})")
    if kind == "column_drift" and not column:
        raise WorkbenchError("a column_drift rule needs --column NAME")
    if kind != "column_drift" and column:
        raise WorkbenchError(f"--column applies to column_drift rules, not {kind}")
    if kind in ("performance_below", "error_rate_above"):
        if bound is None or not math.isfinite(bound):
            raise WorkbenchError(f"a {kind} rule needs a finite --bound, not {bound}")
    elif bound is not None:
        raise WorkbenchError(
            f"--bound applies to performance_below and error_rate_above, not {kind}"
        )
    if kind == "error_rate_above" and bound is not None and not 0 <= bound < 1:
        raise WorkbenchError(f"--bound is a share of requests, from 0 to below 1, not {bound:g}")
    if kind == "performance_below":
        if metric not in KNOWN_METRICS:
            raise WorkbenchError(
                f"a performance_below rule needs --metric, one of: {', '.join(KNOWN_METRICS)}"
                f" (not {metric!r})"
            )
        if source not in SOURCES:
            raise WorkbenchError(f"--source must be real or estimated, not {source!r}")
    elif metric is not None:
        raise WorkbenchError(f"--metric applies to performance_below rules, not {kind}")
    if command is not None and not command.strip():
        raise WorkbenchError("--command is empty")
    return repo.add_rule(
        ws.db,
        deployment,
        kind,
        column=column,
        metric=metric,
        bound=bound,
        source=source if kind == "performance_below" else None,
        command=command,
    )


def list_rules(ws: Workspace, deployment: str | None = None) -> list[AlertRuleRecord]:
    return repo.list_rules(ws.db, deployment)


def remove_rule(ws: Workspace, rule_id: int) -> AlertRuleRecord:
    return repo.remove_rule(ws.db, rule_id)


def set_enabled(ws: Workspace, rule_id: int, enabled: bool) -> AlertRuleRecord:
    return repo.set_rule_enabled(ws.db, rule_id, enabled)


def describe(rule: AlertRuleRecord) -> str:
    """The rule in words, for listings."""
    if rule.kind == "column_drift":
        return f"column {rule.column} drifts"
    if rule.kind == "performance_below":
        worse = "above" if rule.metric in LOWER_IS_BETTER else "below"
        return f"{rule.source} {rule.metric} {worse} {rule.bound:g}"
    if rule.kind == "error_rate_above":
        return f"error rate above {rule.bound:.1%}"
    return {"dataset_drift": "the dataset drifts", "unseen_columns": "unseen columns arrive"}[
        rule.kind
    ]


def check(rule: AlertRuleRecord, window: WindowSummary) -> Verdict:
    """Whether `rule` holds on `window`."""
    if rule.kind == "dataset_drift":
        share = f"{window.drift_share:.0%} of columns drifted"
        return Verdict(window.dataset_drifted, window.drift_share, f"dataset drift: {share}")
    if rule.kind == "column_drift":
        drifted = rule.column in window.drifted_columns
        return Verdict(drifted, 1.0 if drifted else 0.0, f"column {rule.column} drifted")
    if rule.kind == "unseen_columns":
        seen = window.unseen_columns
        names = ", ".join(seen[:5]) + (", …" if len(seen) > 5 else "")
        return Verdict(bool(seen), float(len(seen)), f"unseen columns arrived: {names}")
    if rule.kind == "error_rate_above":
        rate, bound = window.error_rate, float(rule.bound or 0)
        if rate is None:
            return Verdict(None, None, "error rate unknown")
        return Verdict(rate > bound, rate, f"error rate {rate:.1%} is above {bound:.1%}")
    metrics = window.real_metrics if rule.source == "real" else window.estimated_metrics
    metric, bound = str(rule.metric), float(rule.bound or 0)
    value = metrics.get(metric)
    if value is None or not math.isfinite(value):
        return Verdict(None, None, f"no {rule.source} {metric} in this window")
    worse = value > bound if metric in LOWER_IS_BETTER else value < bound
    side = "above" if metric in LOWER_IS_BETTER else "below"
    return Verdict(worse, value, f"{rule.source} {metric} {value:.4g} is {side} {bound:g}")
