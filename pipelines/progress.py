"""Progress reporting shared by the CLI (Rich bar) and the TUI (ProgressBar via messages)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float | None], None]
"""Called with a stage label and a fraction in [0, 1] (None when the stage has no measure)."""


def no_progress(_stage: str, _fraction: float | None) -> None:
    """The default: report nowhere."""
