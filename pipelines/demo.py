"""The demo workspace: bundled sample datasets registered on first use."""

from __future__ import annotations

from pipelines.datasets import Registration, register_dataset
from pipelines.progress import Progress, no_progress
from storage.handle import Workspace
from storage.meta import get_fact, set_fact

DEMO_FACT = "demo_filled"


def demo_is_filled(ws: Workspace) -> bool:
    return get_fact(ws.db, DEMO_FACT) is not None


def fill_demo(ws: Workspace, progress: Progress = no_progress) -> list[Registration]:
    """Register every bundled sample (a no-op for those already there)."""
    from pipelines.samples import sample_datasets

    samples = sample_datasets()
    done = []
    for number, sample in enumerate(samples):
        progress(f"registering {sample.name}", number / len(samples))
        done.append(register_dataset(ws, sample.path, name=sample.name, target=sample.target))
    set_fact(ws.db, DEMO_FACT, "1")
    progress("demo ready", 1.0)
    return done
