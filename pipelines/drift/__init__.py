"""The drift engine, free of any UI: per-column drift with Evidently's default tests and
thresholds, computed from a reference prepared once so a live refresh stays cheap.

The options and result records load nothing heavy; `PreparedReference` and `detect_drift`
bring numpy, pandas and scipy in on first use (PEP 562), so importing this package at CLI
start-up costs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.drift.errors import DriftError
from pipelines.drift.options import METHODS, ColumnRule, DriftOptions, Method
from pipelines.drift.results import ColumnDrift, DatasetDrift, Histogram

if TYPE_CHECKING:
    from pipelines.drift.engine import PreparedReference, detect_drift

__all__ = [
    "METHODS",
    "ColumnDrift",
    "ColumnRule",
    "DatasetDrift",
    "DriftError",
    "DriftOptions",
    "Histogram",
    "Method",
    "PreparedReference",
    "detect_drift",
]


def __getattr__(name: str) -> Any:
    if name in ("PreparedReference", "detect_drift"):
        from pipelines.drift import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'pipelines.drift' has no attribute {name!r}")
