"""Rows already in memory, shaped like a ``RowView`` so a LazyTable can draw them.

A LazyTable asks its view for pages; a view over a list answers at once, so rows a worker
has just built (the first runs, a comparison) paint without Parquet or DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipelines.datasets.browse import Page


@dataclass(frozen=True)
class MemorySource:
    """What a LazyTable reads of a source: column names and (DuckDB-style) types."""

    columns: list[str]
    column_types: list[str]


@dataclass(frozen=True)
class MemoryView:
    """Every row of a table held in a list, no filter and no order of its own."""

    names: Sequence[str]
    types: Sequence[str]
    rows: Sequence[tuple[object, ...]]
    where: str = ""
    order_by: str = ""
    source: MemorySource = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", MemorySource(list(self.names), list(self.types)))

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def is_plain(self) -> bool:
        return True

    def page(self, offset: int, limit: int) -> Page:
        offset = max(0, min(offset, len(self.rows)))
        return Page(offset, list(self.rows[offset : offset + max(0, limit)]))
