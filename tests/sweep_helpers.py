"""Small real workspaces for sweep tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pipelines.datasets import register_dataset
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
