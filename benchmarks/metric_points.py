"""Metric points written per second, in batches the size a finished trial writes (tens to
hundreds of points per run), beside MLflow's `log_batch` on SQLite in the same run.

- workbench: `storage.sweeps.finish_run` of 100 runs, one transaction per run holding its
  final state and all its points (what a sweep worker does), in a fresh SQLite workspace;
- mlflow: `MlflowClient.log_batch` of the same points for 100 runs into a fresh
  `sqlite:///` tracking store, in the side venv benchmarks/serving.py makes (skipped with a
  note where it cannot be made, or with --no-mlflow). Only log_batch is timed: MLflow's
  run end is another call, while workbench's figure includes the run's final state.

Batch sizes and the two tools are interleaved over --rounds; prints the median and range of
points/s per batch size and the ratio. Target: workbench >= 10x MLflow.

    python benchmarks/metric_points.py [--rounds 3] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 100
BATCHES = (30, 100, 300)  # e.g. 10 boosting rounds x 3 metrics ... 100 rounds x 3 metrics
TARGET = 10.0
KEYS = ("valid_l2", "valid_auc", "train_l2")

MLFLOW_SCRIPT = """
import json, sys, tempfile, time
from pathlib import Path
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

runs, keys = int(sys.argv[1]), sys.argv[3].split(",")
out = {}
for size in map(int, sys.argv[2].split(",")):
    with tempfile.TemporaryDirectory() as folder:
        client = MlflowClient(tracking_uri=f"sqlite:///{Path(folder) / 'mlflow.db'}")
        experiment = client.create_experiment("bench", artifact_location=folder)
        ids = [client.create_run(experiment).info.run_id for _ in range(runs)]
        now = int(time.time() * 1000)
        steps = size // len(keys)
        batch = [Metric(k, s * 0.5, now, s) for s in range(steps) for k in keys]
        start = time.perf_counter()
        for run_id in ids:
            client.log_batch(run_id, metrics=batch)
        out[size] = time.perf_counter() - start
print(json.dumps(out))
"""


def workbench_seconds(size: int) -> float:
    """Seconds for RUNS finish_run calls of `size` points each, in a fresh workspace."""
    from storage import sweeps as repo
    from storage.handle import open_workspace

    with tempfile.TemporaryDirectory() as folder:
        ws = open_workspace(Path(folder) / "ws")
        sweep = repo.create_sweep(
            ws.db,
            name="bench",
            dataset_version_id=None,
            dataset_ref="x@D0",
            dataset_sha="0" * 64,
            target="y",
            task="regression",
            model="linear",
            metric="rmse",
            direction="minimize",
            spec={},
            study_name="bench",
            optuna_storage="journal:x",
            trials_requested=None,
        )
        runs = [
            repo.start_run(
                ws.db,
                sweep_id=sweep.id,
                trial_number=i,
                params={},
                seed=0,
                dataset_sha="0" * 64,
                environment={},
                worker="bench",
            )
            for i in range(RUNS)
        ]
        steps = size // len(KEYS)
        points = [(key, step, step * 0.5) for step in range(steps) for key in KEYS]
        start = time.perf_counter()
        for run_id in runs:  # one batch per run, as a finished trial writes them
            repo.finish_run(ws.db, run_id, status="complete", value=1.0, points=points)
        elapsed = time.perf_counter() - start
        ws.close()
    return elapsed


def mlflow_python(skip: bool) -> Path | None:
    """This interpreter if it has MLflow, else the side venv's (made once), else None."""
    if skip:
        return None
    probe = subprocess.run([sys.executable, "-c", "import mlflow"], capture_output=True)
    if probe.returncode == 0:
        return Path(sys.executable)
    from benchmarks.serving import side_venv

    return side_venv()


def mlflow_seconds(python: Path) -> dict[int, float]:
    done = subprocess.run(
        [
            str(python),
            "-c",
            MLFLOW_SCRIPT,
            str(RUNS),
            ",".join(map(str, BATCHES)),
            ",".join(KEYS),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "MLFLOW_TRACKING_URI": ""},
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-400:])
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    python = mlflow_python(args.no_mlflow)
    note = None if python else "mlflow: skipped (--no-mlflow, or no MLflow side venv)"
    print(f"load: {_load()}", flush=True)
    ours: dict[int, list[float]] = {size: [] for size in BATCHES}
    theirs: dict[int, list[float]] = {size: [] for size in BATCHES}
    for _ in range(args.rounds):
        for size in BATCHES:
            points = RUNS * (size // len(KEYS)) * len(KEYS)
            ours[size].append(points / workbench_seconds(size))
        if python is not None:
            try:
                for size, seconds in mlflow_seconds(python).items():
                    theirs[size].append(RUNS * (size // len(KEYS)) * len(KEYS) / seconds)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                note, python = f"mlflow: skipped, log_batch failed ({exc})", None
    for size in BATCHES:
        line = f"batches of {size:>3} points x {RUNS} runs: workbench {_rate(ours[size])}"
        if theirs[size]:
            ratio = statistics.median(ours[size]) / statistics.median(theirs[size])
            verdict = "met" if ratio >= TARGET else "NOT met"
            line += f"; mlflow log_batch {_rate(theirs[size])}; {ratio:.1f}x ({verdict})"
        print(line)
    print(f"target: workbench >= {TARGET:.0f}x MLflow log_batch (SQLite WAL; load {_load()})")
    if note:
        print(note)


def _rate(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):,.0f} points/s "
        f"(range {min(values):,.0f}-{max(values):,.0f})"
    )


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
