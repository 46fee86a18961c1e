"""Small real workspaces for sweep tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pipelines import supervisor
from pipelines.datasets.versions import register_dataset
from pipelines.sweeps.lifecycle import worker_processes
from storage.handle import Workspace

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "sample_data"


def add_sample(ws: Workspace, name: str, target: str) -> None:
    register_dataset(ws, SAMPLES / f"{name}.csv", name=name, target=target)


def write_sweep(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 60) -> None:
    """Poll a real background process's effect (not a Textual worker) until it shows."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def kill_workers(ws: Workspace, sweep_id: int, timeout_s: float = 10.0) -> int:
    """SIGKILL the sweep's live local workers through the supervisor (a crash, or cleaning
    up after a test) and wait until they are gone; returns how many there were."""
    killed = [p for p in worker_processes(ws, sweep_id) if supervisor.kill(p)]
    for process in killed:
        assert supervisor.wait_gone(process, timeout_s), f"worker {process.pid} survived SIGKILL"
    return len(killed)
