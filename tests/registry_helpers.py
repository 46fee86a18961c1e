"""A small real workspace for registry tests: wine@D0 and a three-trial random-forest sweep
(three folds) run by a real worker, built once per module and copied for each test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as sweeps_repo
from storage.handle import Workspace, open_workspace
from tests.sweep_helpers import add_sample

SWEEP = {
    "name": "wine-rf",
    "dataset": "wine",
    "model": "random_forest",
    "trials": 3,
    "folds": 3,
    "keep_top": 3,
    "pruner": "none",
    "sampler": "random",
    "params": {"n_estimators": {"low": 5, "high": 20}},
}


def build_template(root: Path) -> Path:
    """Train the sweep in a workspace at `root`, with no user config or WORKBENCH_* in sight."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("WORKBENCH_") and key != "WORKBENCH_TEST_POSTGRES_URL":
                patch.delenv(key)
        patch.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
        patch.setenv("HOME", str(root / "home"))
        ws = open_workspace(root / "ws")
        try:
            add_sample(ws, "wine", "cultivar")
            created = sweeps.create_sweep(ws, dict(SWEEP))
            run_worker(ws, created.sweep.id)
        finally:
            ws.close()
    return root / "ws"


def copy_workspace(template: Path, target: Path) -> Workspace:
    shutil.copytree(template, target)
    return open_workspace(target)


def kept_run_ids(ws: Workspace) -> list[int]:
    """The complete runs whose model the sweep kept, best first is not promised: by id."""
    return [r.id for r in sweeps_repo.list_runs(ws.db) if r.artifact_sha and r.manifest_sha]
