"""The demo's last step: the demo sweep's best churn model registered as churn@production,
deployed as a local process, watched by a dataset-drift alert rule, and fed by simulated
traffic whose drift grows over a quarter of an hour (with labels arriving 10 s later), so
a new user sees a live drift panel within a minute of `make demo`.

Each part is made only when missing (a stopped demo deployment is started again, traffic
that ended is sent again), so `workbench demo` can be run any number of times."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from pipelines import supervisor
from pipelines.progress import Progress, no_progress
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.meta import get_fact, set_fact

DEPLOYMENT = "churn-demo"
MODEL = "churn"
TRAFFIC_FACT = "demo_traffic"
TRAFFIC = ["--scenario", "gradual", "--rate", "10", "--duration", "900", "--labels-after", "10"]


@dataclass(frozen=True)
class DemoServing:
    deployment: str
    url: str
    traffic_log: Path
    said: tuple[str, ...]  # what was done, for the terminal


def ensure_demo_serving(ws: Workspace, progress: Progress = no_progress) -> DemoServing:
    said: list[str] = []
    progress("registering the demo model", 0.2)
    _ensure_model(ws, said)
    progress(f"deploying {MODEL}@production locally", 0.4)
    url = _ensure_deployment(ws, said)
    _ensure_rule(ws, said)
    progress("sending simulated traffic", 0.9)
    log = _ensure_traffic(ws, said)
    return DemoServing(DEPLOYMENT, url, log, tuple(said))


def _ensure_model(ws: Workspace, said: list[str]) -> None:
    from pipelines.registry.versions import register_model, resolve
    from storage import sweeps as sweeps_repo

    try:
        resolve(ws, f"{MODEL}@production")
        return
    except WorkbenchError:
        pass
    sweeps = [s for s in sweeps_repo.list_sweeps(ws.db) if s.dataset_ref.startswith("churn@")]
    best = next((s.best_run_id for s in sweeps if s.best_run_id is not None), None)
    if best is None:
        raise WorkbenchError("the demo has no finished churn sweep to deploy a model from")
    version = register_model(ws, best, MODEL, alias="production", description="the demo's best")
    said.append(f"registered run {best} as {version.ref} (@production)")


def _ensure_deployment(ws: Workspace, said: list[str]) -> str:
    from pipelines.deploy import deployments
    from storage import deployments as repo

    try:
        record = deployments.get_deployment(ws, DEPLOYMENT)
    except WorkbenchError:
        record = deployments.deploy(ws, f"{MODEL}@production", local=True, name=DEPLOYMENT).record
        said.append(f"deployed {record.model_ref} as {DEPLOYMENT} at {record.url}")
        return record.url
    if record.status in ("stopped", "down", "failed"):
        if record.status == "down":
            deployments.stop_deployment(ws, DEPLOYMENT)
        record = deployments.start_deployment(ws, DEPLOYMENT)
        said.append(f"started {DEPLOYMENT} again at {record.url}")
    return repo.get_deployment(ws.db, DEPLOYMENT).url


def _ensure_rule(ws: Workspace, said: list[str]) -> None:
    from pipelines.alerts.rules import add_rule, list_rules

    if not list_rules(ws, DEPLOYMENT):
        add_rule(ws, DEPLOYMENT, "dataset_drift")
        said.append(f"an alert rule watches {DEPLOYMENT} for dataset drift")


def _ensure_traffic(ws: Workspace, said: list[str]) -> Path:
    """One simulator process at a time, known by pid and creation time."""
    log = ws.paths.logs / "demo-traffic.log"
    known = get_fact(ws.db, TRAFFIC_FACT)
    if known:
        process = supervisor.Supervised(**json.loads(known))
        if supervisor.is_alive(process):
            return log
    command = [sys.executable, "-m", "workbench", "--workspace", str(ws.root), "simulate"]
    command += [DEPLOYMENT, *TRAFFIC]
    secrets = {supervisor.DATABASE_URL_ENV: ws.settings.database_url}
    process = supervisor.spawn(command, log_path=log, secrets=secrets, cwd=Path.cwd())
    fact = {"pid": process.pid, "started_at": process.started_at, "host": process.host}
    set_fact(ws.db, TRAFFIC_FACT, json.dumps(fact | {"log_path": str(log)}))
    said.append(f"simulated traffic with growing drift flows to {DEPLOYMENT} for 15 minutes")
    return log


def stop_demo_traffic(ws: Workspace) -> bool:
    """Stop the simulator if it runs (tests, and `deploy rm` of the demo)."""
    known = get_fact(ws.db, TRAFFIC_FACT)
    if not known:
        return False
    return supervisor.stop(supervisor.Supervised(**json.loads(known)))
