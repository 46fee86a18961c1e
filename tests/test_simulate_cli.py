"""`workbench simulate` end to end: a real sweep on wine, its model registered and deployed
as a local process on 127.0.0.1 with a token, traffic drawn from the run's held-out rows
with their true labels, and one-line errors for an unknown deployment and for data that is
no longer there."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.deploy import deployments
from pipelines.monitoring.feed import RecordFeed
from pipelines.registry.versions import register_model
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as sweeps_repo
from storage.handle import open_workspace
from tests.sweep_helpers import SAMPLES, add_sample
from workbench.cli import main

SWEEP = {"dataset": "wine", "model": "random_forest", "trials": 1, "folds": 2, "keep_top": 1}
SWEEP |= {"pruner": "none", "params": {"n_estimators": {"low": 5, "high": 10}}}


def test_simulate_sends_held_out_rows_and_their_labels_to_a_deployment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    ws = open_workspace(root)
    try:
        add_sample(ws, "wine", "cultivar")
        run_worker(ws, sweeps.create_sweep(ws, dict(SWEEP)).sweep.id)
        [run] = [r for r in sweeps_repo.list_runs(ws.db) if r.artifact_sha]
        register_model(ws, run.id, "wine")
        record = deployments.deploy(ws, "wine", local=True, token="tok", name="wine-sim").record
    finally:
        ws.close()
    try:
        command = ["simulate", "wine-sim", "--scenario", "sudden", "--rate", "50", "--count"]
        command += ["12", "--labels-after", "0.2", "--workspace", str(root)]
        code = main(command)
        out = capsys.readouterr().out
        assert code == 0
        assert out.startswith("wine-sim: 12 requests in ")
        assert "(12 answered, 0 refused), 12 labels sent; scenario sudden, shifted (offset)" in out
        assert "rows from wine@D0 (wine:1)" in out
        logged = RecordFeed(record.url, "tok").pull()
        assert len(logged) == 12 and all(r["status"] == 200 for r in logged)
        wine = pd.read_csv(SAMPLES / "wine.csv")
        features = [c for c in wine.columns if c != "cultivar"]
        truth = {tuple(row[features]): row["cultivar"] for _, row in wine.iterrows()}
        for r in logged[:6]:  # before half-time the rows are the data's own
            [sent] = r["inputs"]
            assert r["label"] == truth[tuple(sent[c] for c in features)]
        assert all(r["label"] is not None for r in logged)

        assert main(["simulate", "nowhere", "--workspace", str(root)]) == 1
        err = capsys.readouterr().err
        assert (
            err.strip()
            == "workbench: error: no deployment named 'nowhere' (see `workbench deploy ls`)"
        )

        assert main(["simulate", "wine-sim", "--count", "3", "--rate", "50", "--no-labels",
                     "--json", "--workspace", str(root)]) == 0  # fmt: skip
        answer = json.loads(capsys.readouterr().out)
        assert (answer["sent"], answer["answered"], answer["labels_sent"]) == (3, 3, 0)
        assert answer["scenario"] == "none" and answer["ended"] == "count"

        for frozen in (root / "datasets").rglob("*.parquet"):
            frozen.unlink()
        assert main(["simulate", "wine-sim", "--count", "1", "--workspace", str(root)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "deployment wine-sim: no held-out data to send (wine@D0: frozen copy" in err
    finally:
        ws = open_workspace(root)
        try:
            deployments.stop_deployment(ws, "wine-sim")
        finally:
            ws.close()
    assert main(["simulate", "wine-sim", "--workspace", str(root)]) == 1
    assert capsys.readouterr().err == (
        "workbench: error: deployment wine-sim is stopped, not running: start it first "
        "(`workbench deploy start wine-sim`)\n"
    )
