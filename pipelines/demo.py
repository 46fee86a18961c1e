"""The demo workspace: bundled sample datasets registered, and one finished sweep, on first use."""

from __future__ import annotations

from pipelines.datasets.versions import Registration, register_dataset
from pipelines.progress import Progress, no_progress
from storage.handle import Workspace
from storage.meta import get_fact, set_fact

DEMO_FACT = "demo_filled"
DEMO_SWEEP = {
    "name": "churn · lightgbm · roc_auc (demo)",
    "dataset": "churn",
    "model": "lightgbm",
    "metric": "roc_auc",
    "trials": 20,
    "folds": 3,
    "seed": 1,
    "keep_top": 3,
}


def demo_is_filled(ws: Workspace) -> bool:
    return get_fact(ws.db, DEMO_FACT) is not None


def fill_demo(
    ws: Workspace, progress: Progress = no_progress, sweep: bool = True
) -> list[Registration]:
    """Register every bundled sample (a no-op for those already there), then run a small
    sweep in this process so a new user sees runs at once."""
    from pipelines.datasets.samples import sample_datasets

    samples = sample_datasets()
    done = []
    for number, sample in enumerate(samples):
        progress(f"registering {sample.name}", number / (len(samples) + 1))
        done.append(register_dataset(ws, sample.path, name=sample.name, target=sample.target))
    if sweep:
        from pipelines.sweeps.lifecycle import create_sweep
        from pipelines.sweeps.worker import run_worker

        progress("running a demo sweep (20 LightGBM trials)", len(samples) / (len(samples) + 1))
        run_worker(ws, create_sweep(ws, dict(DEMO_SWEEP)).sweep.id)
    set_fact(ws.db, DEMO_FACT, "1")
    progress("demo ready", 1.0)
    return done
