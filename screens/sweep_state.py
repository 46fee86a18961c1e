"""A sweep's state as the sweeps list and a sweep's own screen both show and change it:
progress, elapsed time, and stopping or resuming. Here rather than in either screen, so
neither screen imports the other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.records import ACTIVE_SWEEP_STATES

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import SweepRecord

ACTIVE = ACTIVE_SWEEP_STATES
BAR_WIDTH = 10


def utcnow() -> datetime:
    """Naive UTC, as the records store it."""
    return datetime.now(UTC).replace(tzinfo=None)


def finished_trials(sweep: SweepRecord) -> int:
    return sum(sweep.counts.get(s, 0) for s in ("complete", "pruned", "failed"))


def progress_text(sweep: SweepRecord, width: int = BAR_WIDTH) -> str:
    """A text bar, e.g. ``██████░░░░ 12/20``; a count alone when only a timeout bounds it."""
    done = finished_trials(sweep)
    total = sweep.trials_requested
    if not total:
        return f"{done} trials"
    filled = min(width, round(width * done / total))
    return "█" * filled + "░" * (width - filled) + f" {done}/{total}"


def elapsed_s(sweep: SweepRecord) -> float | None:
    if sweep.started_at is None:
        return None
    end = sweep.finished_at if sweep.status not in ACTIVE and sweep.finished_at else utcnow()
    return (end - sweep.started_at).total_seconds()


def change_sweep_state(ws: Workspace, sweep_id: int, verb: str) -> str:
    """Stop or resume (runs in a worker thread of the calling screen); says what happened."""
    from pipelines.sweeps.lifecycle import resume_sweep, stop_sweep

    if verb == "stop":
        sweep = stop_sweep(ws, sweep_id)
        if sweep.status == "stopping":
            return "stopping: running trials finish first"
        return f"{sweep.status} (no live worker)"
    failed, pids = resume_sweep(ws, sweep_id)
    gone = f"; {failed} trials of dead workers marked failed" if failed else ""
    return f"resumed with {len(pids)} worker{'s' if len(pids) != 1 else ''}{gone}"
