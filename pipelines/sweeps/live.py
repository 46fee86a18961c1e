"""What the App's live layer asks about sweeps each poll: everything that changed since the
last one, in a fixed number of queries (storage/sweep_progress.py), with the time left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.runs.tables import SweepTiming, remaining_s
from storage import sweeps as repo
from storage.handle import Workspace
from storage.sweep_progress import RunCursor, SweepProgress, sweep_progress

__all__ = ["LiveSweep", "RunCursor", "poll_sweeps"]


@dataclass(frozen=True)
class LiveSweep:
    """One sweep's progress and the estimated seconds left (None when not running)."""

    progress: SweepProgress
    remaining_s: float | None


def poll_sweeps(
    ws: Workspace, sweep_ids: Sequence[int] | None, cursors: Mapping[int, RunCursor]
) -> list[LiveSweep]:
    """Sweeps `sweep_ids` (all when None, newest first) and the runs after each cursor given:
    eight queries, however many sweeps (five for the sweeps, three for their progress)."""
    records = repo.list_sweeps(ws.db) if sweep_ids is None else repo.get_sweeps(ws.db, sweep_ids)
    found = sweep_progress(ws.db, records, cursors) if records else []
    return [
        LiveSweep(p, remaining_s(p.sweep, SweepTiming(p.mean_trial_s, p.live_workers)))
        for p in found
    ]
