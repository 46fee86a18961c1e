"""Helpers for driving the TUI in tests: a demo workspace built once, and waiting for workers."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from textual.pilot import Pilot

from pipelines.datasets.samples import sample_datasets
from pipelines.datasets.versions import register_dataset
from storage.handle import open_workspace
from storage.models import DatasetRow, DatasetVersionRow

FIXED_TIME = datetime(2026, 1, 2, 3, 4)


def build_demo_workspace(root: Path, data_dir: Path) -> Path:
    """The demo datasets, registered from copies in `data_dir` (stable paths for snapshots),
    with fixed timestamps so screens render the same every day."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ws = open_workspace(root)
    try:
        for sample in sample_datasets():
            copy = data_dir / sample.path.name
            shutil.copyfile(sample.path, copy)
            register_dataset(ws, copy, name=sample.name, target=sample.target)
        with ws.db.session_scope() as session:
            session.execute(update(DatasetRow).values(created_at=FIXED_TIME))
            session.execute(update(DatasetVersionRow).values(created_at=FIXED_TIME))
    finally:
        ws.close()
    return root


async def settle(pilot: Pilot[object]) -> None:
    """Wait until no worker is running, including workers started by other workers."""
    app = pilot.app
    for _ in range(200):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            # One more frame so layout changes made by the last results are painted
            # (a modal pushed next freezes the screen behind it as last drawn).
            await pilot.wait_for_scheduled_animations()
            await pilot.pause(0.05)
            return
    raise AssertionError("workers did not settle")


def screen_text(pilot: Pilot[object]) -> str:
    """The plain text on screen, as a person would read it (modal screens included)."""
    import io

    from rich.console import Console

    app = pilot.app
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system=None,
        legacy_windows=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


async def text_showing(pilot: Pilot[object], *firsts: str, timeout_s: float = 10) -> str:
    """The screen's text once a line starts with each of `firsts` (a table's label column
    can be painted a frame after the workers that filled it ended), or as it is when the
    time is up."""
    import time

    deadline = time.monotonic() + timeout_s
    text = screen_text(pilot)
    while not set(firsts) <= set(first_words(text)) and time.monotonic() < deadline:
        await pilot.pause(0.05)
        text = screen_text(pilot)
    return text


def first_words(text: str) -> dict[str, str]:
    """Each line of the screen by its first word, borders and cursor marks stripped."""
    import re

    lines: dict[str, str] = {}
    for line in text.splitlines():
        words = re.sub(r"^[^\w]+", "", line).split()
        if words:
            lines.setdefault(words[0], line)
    return lines
