"""What a deployment's own request log says about its traffic, per version answering:
request rate, p50/p99 latency, errors, the predictions' distribution, accuracy once labels
arrive, and the columns production sends that the model never saw.

Records come from the deployment's `/monitoring/records?after=ID` a page at a time, so a
watcher reads each record once; labels arrive later than the requests they label, so the
window is read again from its start now and then (`relabel_every` polls) to pick them up."""

from __future__ import annotations

import statistics
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.deploy.health import get_json

PAGE = 1000
MAX_PAGES = 20  # per poll: a burst of 20,000 requests is read over a few polls


@dataclass(frozen=True)
class VersionTraffic:
    version: str
    requests: int
    errors: int
    rate_per_s: float  # over the minute before the read
    p50_ms: float | None
    p99_ms: float | None
    predictions: dict[str, int]  # class (or regression bin) -> count, most common first
    labelled: int
    accuracy: float | None  # classification, over labelled requests


@dataclass(frozen=True)
class Traffic:
    versions: list[VersionTraffic]
    unseen: dict[str, int]  # column -> requests that sent it
    last_id: int
    window: int  # records held


@dataclass
class TrafficWindow:
    """The last `size` logged requests of one deployment, read incrementally."""

    size: int = 5000
    relabel_every: int = 10
    records: deque[dict[str, Any]] = field(default_factory=deque)
    last_id: int = 0
    polls: int = 0

    def read(self, url: str, token: str | None = None) -> Traffic:
        """Fetch what is new (and, now and then, the whole window again for late labels)."""
        self.polls += 1
        if self.records and self.polls % self.relabel_every == 0:
            first = self.records[0]["id"] - 1
            refreshed = _fetch(url, token, first, self.last_id)
            by_id = {r["id"]: r for r in refreshed}
            self.records = deque((by_id.get(r["id"], r) for r in self.records), maxlen=self.size)
        self.add(_fetch(url, token, self.last_id, None))
        return self.summary(datetime.now(UTC))

    def add(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.records.append(dict(record))
            self.last_id = max(self.last_id, int(record["id"]))
        while len(self.records) > self.size:
            self.records.popleft()

    def summary(self, now: datetime | None = None) -> Traffic:
        groups: dict[str, list[dict[str, Any]]] = {}
        unseen: Counter[str] = Counter()
        for record in self.records:
            groups.setdefault(str(record.get("version")), []).append(record)
            unseen.update(record.get("unseen") or [])
        newest = now or _newest(self.records)
        versions = [_version(v, rs, newest) for v, rs in sorted(groups.items())]
        return Traffic(versions, dict(unseen.most_common()), self.last_id, len(self.records))


def _fetch(url: str, token: str | None, after: int, until: int | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = get_json(f"{url}/monitoring/records?after={after}&limit={PAGE}", token=token)
        records = page.get("records") or []
        found += records
        if len(records) < PAGE or (until is not None and after >= until):
            break
        after = int(page.get("next_after") or records[-1]["id"])
    return found if until is None else [r for r in found if r["id"] <= until]


def _newest(records: Iterable[Mapping[str, Any]]) -> datetime | None:
    times = [_time(r.get("at")) for r in records]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _version(
    version: str, records: list[dict[str, Any]], newest: datetime | None
) -> VersionTraffic:
    answered = [r for r in records if r.get("status") == 200]
    latencies = sorted(float(r["latency_ms"]) for r in answered if r.get("latency_ms") is not None)
    recent = 0
    if newest is not None:
        for record in records:
            at = _time(record.get("at"))
            if at is not None and (newest - at).total_seconds() <= 60:
                recent += 1
    predictions: Counter[str] = Counter()
    labelled = correct = 0
    for record in answered:
        predicted = record.get("predictions") or []
        predictions.update(_bucket(p) for p in predicted)
        label = record.get("label")
        if label is None:
            continue
        labels = label if isinstance(label, list) else [label]
        for p, y in zip(predicted, labels, strict=False):
            labelled += 1
            correct += str(p) == str(y)
    classification = any(r.get("probabilities") for r in answered)  # classifiers send them
    return VersionTraffic(
        version=version,
        requests=len(records),
        errors=len(records) - len(answered),
        rate_per_s=recent / 60,
        p50_ms=statistics.median(latencies) if latencies else None,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else None,
        predictions=dict(predictions.most_common(8)),
        labelled=labelled,
        accuracy=correct / labelled if labelled and classification else None,
    )


def _bucket(prediction: Any) -> str:
    """A class as itself; a regression value to two significant digits (a coarse histogram)."""
    if isinstance(prediction, float):
        return f"{prediction:.2g}"
    return str(prediction)
