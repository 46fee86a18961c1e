"""Retraining policies: when a deployment's model should be retrained, read from its
stored drift snapshots (the dataset drifted in each of the last K windows) or its
performance (the newest window's real or estimated metric on the wrong side of a bound),
or only by hand.

`should_retrain` says why, or None. It does not fire twice for one episode: only windows
stored after the newest retraining job started count (none while one is running), so after
a job it waits for K new drifted windows, or a new window past the bound. That is by the
order windows were stored, not by the times they carry (a simulator's clock may differ)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pipelines.alerts.rules import KNOWN_METRICS, LOWER_IS_BETTER
from storage import monitoring as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RetrainPolicyRecord

DEFAULT_MARGIN = 0.01
DEFAULT_SHARE = 0.1
TRIGGER_FORMS = "drift:K, performance:METRIC<BOUND (METRIC>BOUND for rmse, mae, log_loss) or manual"
_PERFORMANCE = re.compile(r"^performance:([a-z_0-9]+)\s*([<>])\s*(\S+)$")


@dataclass(frozen=True)
class Trigger:
    kind: str  # drift | performance | manual
    windows: int | None = None
    metric: str | None = None
    bound: float | None = None


def parse_trigger(text: str) -> Trigger:
    """'drift:3', 'performance:accuracy<0.8', 'performance:rmse>2.5', 'manual'."""
    text = text.strip()
    if text == "manual":
        return Trigger("manual")
    if text.startswith("drift:"):
        count = text.partition(":")[2]
        if not count.isdigit() or not 1 <= int(count) <= 1000:
            raise WorkbenchError(f"--on {text!r}: K must be a whole number from 1 to 1000")
        return Trigger("drift", windows=int(count))
    found = _PERFORMANCE.match(text)
    if found is None:
        raise WorkbenchError(f"--on {text!r} is not a trigger: write {TRIGGER_FORMS}")
    metric, sign, bound_text = found.groups()
    if metric not in KNOWN_METRICS:
        raise WorkbenchError(
            f"--on {text!r}: unknown metric (use one of: {', '.join(KNOWN_METRICS)})"
        )
    try:
        bound = float(bound_text)
    except ValueError:
        bound = math.nan
    if not math.isfinite(bound):
        raise WorkbenchError(f"--on {text!r}: the bound {bound_text!r} is not a finite number")
    wanted = ">" if metric in LOWER_IS_BETTER else "<"
    if sign != wanted:
        better, side = ("lower", "above") if wanted == ">" else ("higher", "below")
        raise WorkbenchError(
            f"--on {text!r}: {metric} is better {better}, so retrain when it is {side} a "
            f"bound: performance:{metric}{wanted}{bound_text}"
        )
    return Trigger("performance", metric=metric, bound=bound)


def set_policy(
    ws: Workspace,
    deployment: str,
    trigger: Trigger | str,
    *,
    source: str = "real",
    margin: float = DEFAULT_MARGIN,
    append_labels: bool = False,
    trials: int | None = None,
    canary: bool = False,
    canary_share: float = DEFAULT_SHARE,
) -> RetrainPolicyRecord:
    """Create or replace the deployment's policy; bad values are refused in one line."""
    chosen = parse_trigger(trigger) if isinstance(trigger, str) else trigger
    check_options(margin=margin, trials=trials, canary_share=canary_share)
    if source not in ("real", "estimated"):
        raise WorkbenchError(f"--source must be real or estimated, not {source!r}")
    return repo.set_policy(
        ws.db,
        deployment,
        trigger=chosen.kind,
        windows=chosen.windows,
        metric=chosen.metric,
        bound=chosen.bound,
        source=source if chosen.kind == "performance" else None,
        margin=margin,
        append_labels=append_labels,
        trials=trials,
        canary=canary,
        canary_share=canary_share if canary else None,
    )


def check_options(*, margin: float, trials: int | None, canary_share: float | None = None) -> None:
    if not math.isfinite(margin) or margin < 0:
        raise WorkbenchError(f"--margin must be a number of at least 0, not {margin:g}")
    if trials is not None and not 1 <= trials <= 1000:
        raise WorkbenchError(f"--trials must be from 1 to 1000, not {trials}")
    if canary_share is not None and not 0 < canary_share < 1:
        raise WorkbenchError(f"--share must be above 0 and below 1, not {canary_share:g}")


def get_policy(ws: Workspace, deployment: str) -> RetrainPolicyRecord | None:
    return repo.get_policy(ws.db, deployment)


def describe(policy: RetrainPolicyRecord) -> str:
    if policy.trigger == "drift":
        return f"dataset drift in {policy.windows} consecutive windows"
    if policy.trigger == "performance":
        side = ">" if policy.metric in LOWER_IS_BETTER else "<"
        return f"{policy.source} {policy.metric} {side} {policy.bound:g}"
    return "by hand"


def should_retrain(ws: Workspace, deployment: str) -> str | None:
    """Why the deployment's policy asks for retraining now, or None."""
    policy = repo.get_policy(ws.db, deployment)
    if policy is None or policy.trigger == "manual":
        return None
    jobs = repo.list_jobs(ws.db, deployment)
    if any(job.status == "running" for job in jobs):
        return None
    last_job = jobs[0].created_at if jobs else None  # only windows stored since count
    if policy.trigger == "drift":
        count = int(policy.windows or 1)
        recent = repo.list_snapshots(ws.db, deployment, limit=count, recorded_after=last_job)
        if len(recent) < count or not all(s.dataset_drifted for s in recent):
            return None
        since = recent[-1].window_end.strftime("%Y-%m-%d %H:%M")
        return f"the dataset drifted in each of the last {count} windows (since {since})"
    newest = repo.list_snapshots(ws.db, deployment, limit=1, recorded_after=last_job)
    if not newest:
        return None
    metrics = newest[0].real_metrics if policy.source == "real" else newest[0].estimated_metrics
    metric, bound = str(policy.metric), float(policy.bound or 0)
    value = metrics.get(metric)
    if value is None:
        return None
    lower = metric in LOWER_IS_BETTER
    if (value > bound) if lower else (value < bound):
        side = "above" if lower else "below"
        return f"{policy.source} {metric} {value:.4g} is {side} {bound:g}"
    return None
