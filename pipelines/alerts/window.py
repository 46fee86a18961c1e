"""What the alert rules read about one monitoring window. Only the standard library is
imported here, so the live layer and the screens can build one without loading the
database layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class WindowSummary:
    """One monitoring window, as the rules see it."""

    deployment: str
    window_end: datetime
    rows: int
    dataset_drifted: bool
    drift_share: float
    drifted_columns: tuple[str, ...] = ()
    real_metrics: dict[str, float] = field(default_factory=dict)
    estimated_metrics: dict[str, float] = field(default_factory=dict)
    error_rate: float | None = None  # share of requests that failed; None: unknown
    unseen_columns: tuple[str, ...] = ()
