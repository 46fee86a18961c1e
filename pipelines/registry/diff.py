"""Two model versions side by side: the parameters that differ, every metric with its
delta, the input schema's added, removed and changed columns, and where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storage.handle import Workspace
from storage.records import ModelVersionRecord

LINEAGE_KEYS = ("dataset_version", "dataset_sha256", "run", "sweep", "family", "git_commit")


@dataclass(frozen=True)
class DiffRow:
    key: str
    a: Any
    b: Any
    delta: float | None = None  # b - a, for numbers
    note: str = ""


@dataclass(frozen=True)
class ModelDiff:
    a: str  # refs, e.g. churn:1
    b: str
    params: list[DiffRow] = field(default_factory=list)  # only those that differ
    metrics: list[DiffRow] = field(default_factory=list)  # every metric either has
    schema: list[DiffRow] = field(default_factory=list)  # only columns that differ
    lineage: list[DiffRow] = field(default_factory=list)  # only what differs

    @property
    def identical(self) -> bool:
        return not (self.params or self.schema or self.lineage) and all(
            r.a == r.b for r in self.metrics
        )


def diff(ws: Workspace, a: str, b: str) -> ModelDiff:
    """Resolve two references (`NAME:VERSION`, `NAME@ALIAS`, `NAME`) and compare them."""
    from pipelines.registry.versions import resolve

    return diff_records(resolve(ws, a), resolve(ws, b))


def diff_records(a: ModelVersionRecord, b: ModelVersionRecord) -> ModelDiff:
    params = [
        DiffRow(key, a.params.get(key), b.params.get(key))
        for key in _keys(a.params, b.params)
        if a.params.get(key) != b.params.get(key)
    ]
    metrics = [
        DiffRow(key, a.metrics.get(key), b.metrics.get(key), _delta(a.metrics, b.metrics, key))
        for key in _keys(a.metrics, b.metrics)
    ]
    lineage = [
        DiffRow(key, a.lineage.get(key), b.lineage.get(key))
        for key in LINEAGE_KEYS
        if a.lineage.get(key) != b.lineage.get(key)
    ]
    return ModelDiff(a.ref, b.ref, params, metrics, _schema_rows(a, b), lineage)


def _keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(set(a) | set(b))


def _delta(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    x, y = a.get(key), b.get(key)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
    return float(y) - float(x) if numbers else None  # type: ignore[arg-type]


def _columns(record: ModelVersionRecord) -> dict[str, dict[str, Any]]:
    return {str(c["name"]): c for c in record.input_schema.get("columns", [])}


def _describe(column: dict[str, Any]) -> str:
    return f"{column['kind']} {column['dtype']}"


def _schema_rows(a: ModelVersionRecord, b: ModelVersionRecord) -> list[DiffRow]:
    """Per column: added, removed, or each property that changed (categories summarised)."""
    left, right = _columns(a), _columns(b)
    rows: list[DiffRow] = []
    for name in list(left) + [n for n in right if n not in left]:
        if name not in right:
            rows.append(DiffRow(name, _describe(left[name]), None, note="removed"))
            continue
        if name not in left:
            rows.append(DiffRow(name, None, _describe(right[name]), note="added"))
            continue
        x, y = left[name], right[name]
        for prop in ("kind", "dtype", "nullable"):
            if x.get(prop) != y.get(prop):
                rows.append(DiffRow(f"{name}.{prop}", x.get(prop), y.get(prop), note="changed"))
        seen_a, seen_b = x.get("categories"), y.get("categories")
        if seen_a != seen_b:
            note = "changed"
            if seen_a is not None and seen_b is not None:
                added, gone = set(seen_b) - set(seen_a), set(seen_a) - set(seen_b)
                note = f"+{len(added)} −{len(gone)} categories"
            rows.append(DiffRow(f"{name}.categories", _count(seen_a), _count(seen_b), note=note))
    return rows


def _count(categories: list[str] | None) -> str:
    return "too many to record" if categories is None else f"{len(categories)} values"
