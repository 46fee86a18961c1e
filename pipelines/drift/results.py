"""What a drift check found, per column and for the dataset, as frozen records with plain
dictionaries for JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict; `score` is None (and `note` says why) when no test could run."""

    column: str
    kind: str  # "num" | "cat"
    method: str
    method_label: str
    score: float | None
    threshold: float
    drifted: bool
    note: str | None = None

    @property
    def tested(self) -> bool:
        return self.score is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "method_label": self.method_label,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "note": self.note,
        }


@dataclass(frozen=True)
class DatasetDrift:
    """The dataset verdict: it drifts when the share of drifted columns among those tested
    reaches `threshold` (Evidently's drift_share)."""

    columns: tuple[ColumnDrift, ...]
    drifted_count: int
    share: float
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int

    @property
    def tested_count(self) -> int:
        return sum(1 for c in self.columns if c.tested)

    def column(self, name: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "drifted_count": self.drifted_count,
            "tested_count": self.tested_count,
            "share": self.share,
            "threshold": self.threshold,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": [c.to_dict() for c in self.columns],
        }


@dataclass(frozen=True)
class Histogram:
    """Reference and current shares of one column, for drawing: numeric columns have
    `edges` (len(shares) + 1 bin edges), categorical ones `categories` (one per share)."""

    column: str
    kind: str
    edges: tuple[float, ...] | None
    categories: tuple[str, ...] | None
    reference: tuple[float, ...]
    current: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "edges": None if self.edges is None else list(self.edges),
            "categories": None if self.categories is None else list(self.categories),
            "reference": list(self.reference),
            "current": list(self.current),
        }
