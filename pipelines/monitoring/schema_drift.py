"""Schema drift: what production sends against the schema the model was registered with
(`/metadata`'s `schema`). Columns the model never saw arriving, columns it needs missing,
values of the wrong kind (text in a numeric column), and categories it never saw.

The server answers a request with an unseen column (and logs the column), but refuses one
with a missing or mistyped feature (422, logged with the records as sent and the reason),
so the refused requests in the window are where missing columns and type changes show;
both kinds of request are read here, row by row, in plain Python."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.inert import inert

NUMERIC, TIME, CATEGORICAL = "numeric", "time", "categorical"  # pipelines.serving.schema kinds
SHOWN = 5


@dataclass(frozen=True)
class TypeChange:
    column: str
    expected: str  # the schema's kind: numeric | time | categorical
    seen: str  # what came instead: text, boolean, list, object, non-finite number
    rows: int
    example: str  # one offending value, shown safely

    def sentence(self) -> str:
        return (
            f"{inert(self.column)} expects {self.expected} values but {self.rows} rows sent "
            f"{self.seen} (e.g. {self.example})"
        )


@dataclass(frozen=True)
class SchemaDrift:
    """Counts are rows of the window; `rows` is how many rows were examined."""

    rows: int
    refused_rows: int  # rows in requests the server refused (4xx)
    unseen: dict[str, int] = field(default_factory=dict)  # column -> rows that sent it
    missing: dict[str, int] = field(default_factory=dict)  # required column -> rows without it
    type_changes: tuple[TypeChange, ...] = ()
    new_categories: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # column -> value -> rows

    @property
    def drifted(self) -> bool:
        """Whether the inputs no longer fit the schema (new categories alone do not count)."""
        return bool(self.unseen or self.missing or self.type_changes)

    def sentences(self) -> list[str]:
        """Plain sentences for a panel, most serious first; one saying all is well if so."""
        if not self.rows:
            return ["no requests in the window yet"]
        said = []
        for column, rows in self.missing.items():
            said.append(f"required column {inert(column)} is missing from {rows} rows")
        said += [change.sentence() for change in self.type_changes]
        for column, rows in self.unseen.items():
            said.append(f"column {inert(column)}, which the model never saw, is in {rows} rows")
        for column, values in self.new_categories.items():
            shown = ", ".join(inert(v) for v in list(values)[:SHOWN])
            more = f" and {len(values) - SHOWN} more" if len(values) > SHOWN else ""
            total = sum(values.values())
            where = f"{inert(column)} has {total} rows with categories never seen in training"
            said.append(f"{where}: {shown}{more}")
        return said or [f"all {self.rows} rows fit the model's schema"]


def schema_drift(window: Any, schema: Mapping[str, Any]) -> SchemaDrift:
    """Schema drift of a MonitoringWindow's requests (answered and refused) against a schema
    as `/metadata` gives it ({"columns": [{name, kind, categories, ...}]})."""
    return rows_schema_drift(
        ((entry.status, row) for entry in window.entries for row in entry.inputs or []), schema
    )


def rows_schema_drift(rows: Any, schema: Mapping[str, Any]) -> SchemaDrift:
    """Schema drift of (status, record) pairs. A record answered 200 passed the server's
    own schema check, so only its extra columns and categories are looked at; a refused
    one is checked column by column."""
    columns = [c for c in schema.get("columns") or [] if isinstance(c, Mapping)]
    known = {str(c["name"]) for c in columns}
    categories = {
        str(c["name"]): {str(v) for v in c["categories"]}
        for c in columns
        if c.get("kind") == CATEGORICAL and c.get("categories") is not None
    }
    total = refused = 0
    unseen: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    wrong: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}
    novel: dict[str, Counter[str]] = {}
    categorical = [c for c in columns if str(c["name"]) in categories]
    for status, row in rows:
        if not isinstance(row, Mapping):
            continue
        total += 1
        refused += 400 <= status < 500
        answered = status == 200
        if not answered or len(row) > len(known):
            unseen.update(str(k) for k in row if str(k) not in known)
        for column in categorical if answered else columns:
            name, kind = str(column["name"]), str(column.get("kind"))
            if name not in row:
                missing[name] += 1
                continue
            value = row[name]
            seen = _wrong_kind(kind, value)
            if seen is not None:
                key = (name, kind, seen)
                wrong[key] += 1
                examples.setdefault(key, _shown(value))
            elif name in categories and value is not None and str(value) not in categories[name]:
                novel.setdefault(name, Counter())[str(value)] += 1
    changes = tuple(
        TypeChange(name, kind, seen, count, examples[(name, kind, seen)])
        for (name, kind, seen), count in wrong.most_common()
    )
    return SchemaDrift(
        rows=total,
        refused_rows=refused,
        unseen=dict(unseen.most_common()),
        missing=dict(missing.most_common()),
        type_changes=changes,
        new_categories={k: dict(v.most_common()) for k, v in novel.items()},
    )


def frame_schema_drift(
    frame: Any, refused: Any, schema: Mapping[str, Any], skip: tuple[str, ...] = ()
) -> SchemaDrift:
    """`rows_schema_drift` with the answered rows held as a pandas frame (columns `skip`
    aside), counted column-wise: they passed the server's check, so only their extra
    columns and unseen categories can differ. `refused` are (status, record) pairs of the
    refused requests, checked one by one as before. Tens of thousands of answered rows cost
    milliseconds here, where the row-by-row check costs most of a second."""
    base = rows_schema_drift(refused, schema)
    columns = [c for c in schema.get("columns") or [] if isinstance(c, Mapping)]
    known = {str(c["name"]) for c in columns}
    unseen = Counter(base.unseen)
    for name in frame.columns:
        if name not in known and name not in skip:
            present = int(frame[name].notna().sum())
            if present:
                unseen[str(name)] += present
    novel = {k: Counter(v) for k, v in base.new_categories.items()}
    for column in columns:
        name, allowed = str(column["name"]), column.get("categories")
        if column.get("kind") != CATEGORICAL or allowed is None or name not in frame.columns:
            continue
        values = frame[name].dropna().astype(str)
        counts = values[~values.isin({str(v) for v in allowed})].value_counts()
        for value, count in counts.items():
            novel.setdefault(name, Counter())[str(value)] += int(count)
    return SchemaDrift(
        rows=base.rows + len(frame),
        refused_rows=base.refused_rows,
        unseen=dict(unseen.most_common()),
        missing=base.missing,
        type_changes=base.type_changes,
        new_categories={k: dict(v.most_common()) for k, v in novel.items()},
    )


def _wrong_kind(kind: str, value: Any) -> str | None:
    """What a value is instead of the kind its column expects, or None if it fits (a null
    is a missing value, which fits any column)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return "objects"
    if isinstance(value, list):
        return "lists"
    if kind == NUMERIC:
        if isinstance(value, bool):
            return "booleans"
        if isinstance(value, str):
            return "text"
        if isinstance(value, float) and not math.isfinite(value):
            return "non-finite numbers"
        return None
    if kind == TIME and isinstance(value, bool):
        return "booleans"
    return None


def _shown(value: Any, limit: int = 30) -> str:
    text = repr(value)
    return inert(text if len(text) <= limit else text[: limit - 1] + "…")
