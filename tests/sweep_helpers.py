"""Small real workspaces for sweep tests."""

from __future__ import annotations

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
