"""Small real data whose relationship moves, a champion trained on the old relationship,
and a deployment record that names it: what the retraining tests start from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.datasets.versions import register_dataset
from pipelines.registry.versions import register_model
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import deployments
from storage import sweeps as sweeps_repo
from storage.handle import Workspace

CHAMPION_SWEEP = {
    "name": "churn-linear",
    "dataset": "churn",
    "target": "churned",
    "model": "linear",
    "trials": 1,
    "holdout": 0.25,
    "keep_top": 1,
    "pruner": "none",
    "params": {"C": 1.0},
}


def churn_frame(rows: int, driver: str, seed: int) -> pd.DataFrame:
    """`churned` follows `driver` (tenure or usage) with a little noise; the other column
    is noise, so a model of one relationship is a coin toss on the other."""
    rng = np.random.default_rng(seed)
    tenure, usage = rng.normal(size=rows), rng.normal(size=rows)
    signal = tenure if driver == "tenure" else usage
    churned = np.where(signal + 0.2 * rng.normal(size=rows) > 0, "yes", "no")
    plan = rng.choice(["basic", "pro"], size=rows)
    return pd.DataFrame({"tenure": tenure, "usage": usage, "plan": plan, "churned": churned})


def add_version(ws: Workspace, frame: pd.DataFrame, folder: Path, label: str) -> str:
    path = folder / f"churn-{label}.csv"
    frame.to_csv(path, index=False)
    return register_dataset(ws, path, name="churn", target="churned").version.ref


def champion(ws: Workspace, folder: Path, driver: str = "tenure", name: str = "churn") -> str:
    """churn@D0 where `driver` decides, a one-trial linear model of it registered as
    churn:1, and a deployment record `name` serving it (no process: most tests need none)."""
    add_version(ws, churn_frame(400, driver, seed=1), folder, "old")
    created = sweeps.create_sweep(ws, dict(CHAMPION_SWEEP))
    run_worker(ws, created.sweep.id)
    (run,) = [r for r in sweeps_repo.list_runs(ws.db) if r.artifact_sha]
    version = register_model(ws, run.id, "churn", alias="production")
    deployments.add_deployment(
        ws.db, name, kind="local", model_version_id=version.id, port=1, url="http://127.0.0.1:1"
    )
    return version.ref
