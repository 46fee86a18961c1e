"""A sliding window over a deployment's logged requests: the last N rows and/or the last T
seconds, as frames a drift check, a performance score or a traffic panel can use.

A record is one /predict request (one or several rows). Records are added in id order from
a `RecordFeed`; a record already held is replaced when it is read again, which is how a
label arriving later for an old id reaches the window (`refresh` reads again from the
oldest answered row still waiting for its label). Rows are kept as the server logged them
and turned into pandas frames only when asked, so a poll costs a dict update."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipelines.monitoring.feed import MonitoringError, RecordFeed

if TYPE_CHECKING:
    import pandas as pd

RATE_HORIZON_S = 60.0
META_COLUMNS = ("request_id", "row", "at", "version", "prediction", "label", "labelled")


@dataclass(frozen=True)
class Entry:
    """One logged request, its label spread over its rows (None where none came yet)."""

    id: int
    at: datetime | None
    version: str
    status: int
    latency_ms: float
    rows: int
    inputs: list[dict[str, Any]] | None
    predictions: list[Any] | None
    probabilities: list[dict[str, float]] | None
    unseen: tuple[str, ...]
    error: str | None
    labels: list[Any] | None
    labelled_at: str | None

    @property
    def answered(self) -> bool:
        return self.status == 200 and self.inputs is not None and self.predictions is not None


@dataclass(frozen=True)
class Traffic:
    """Requests in the window: rate over the last minute, latency of answered requests,
    refusals and server errors, and which versions answered."""

    requests: int
    rows: int
    errors: int  # every request not answered 200 (refused 4xx and failed 5xx)
    server_errors: int  # 5xx: the model or the server failed
    error_rate: float  # errors / requests (0.0 for an empty window)
    rate_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[int, int]
    versions: dict[str, int]


@dataclass(frozen=True)
class Refresh:
    """What one `refresh` did."""

    new: int  # records read for the first time
    reread: int  # records read again for their labels
    behind: int  # records logged but not read yet (a burst is read over a few refreshes)
    error: str | None = None  # the deployment stopped answering; the window kept its rows


class MonitoringWindow:
    """The newest logged requests: at most `max_rows` rows and none older than `max_age_s`
    seconds (either may be None; both settable while it runs)."""

    def __init__(self, max_rows: int | None = 5000, max_age_s: float | None = None) -> None:
        if max_rows is not None and max_rows < 1:
            raise MonitoringError(f"a window holds at least one row, not {max_rows}")
        if max_age_s is not None and max_age_s <= 0:
            raise MonitoringError(f"a window's age must be above 0 seconds, not {max_age_s}")
        self.max_rows, self.max_age_s = max_rows, max_age_s
        self._entries: dict[int, Entry] = {}
        self._rows = 0
        self.last_id = 0
        self.revision = 0  # grows whenever what the window holds changes
        self._answered: list[Entry] = []
        self._answered_revision = -1

    def __len__(self) -> int:
        """Rows held (a request of several records counts each)."""
        return self._rows

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def extend(self, records: list[dict[str, Any]], now: datetime | None = None) -> int:
        """Add new records and replace ones held (read again, e.g. with a label since);
        returns how many were added or replaced. Records older than the window are dropped."""
        changed = 0
        for record in records:
            entry = _entry(record)
            held = self._entries.get(entry.id)
            if held is not None:
                self._rows += entry.rows - held.rows
                self._entries[entry.id] = entry
            elif entry.id > self.last_id:
                self._entries[entry.id] = entry
                self._rows += entry.rows
                self.last_id = entry.id
            else:
                continue  # evicted earlier: it stays out
            changed += 1
        self.trim(now)
        if changed:
            self.revision += 1
        return changed

    def trim(self, now: datetime | None = None) -> None:
        """Drop the oldest requests beyond `max_rows` rows or older than `max_age_s`."""
        dropped = False
        if self.max_age_s is not None:
            now = now or datetime.now(UTC)
            for entry in list(self._entries.values()):
                if entry.at is None or (now - entry.at).total_seconds() <= self.max_age_s:
                    break
                dropped |= self._drop(entry.id)
        if self.max_rows is not None:
            while self._rows > self.max_rows and len(self._entries) > 1:
                dropped |= self._drop(next(iter(self._entries)))
        if dropped:
            self.revision += 1

    def oldest_unlabelled_id(self, since: datetime | None = None) -> int | None:
        """The id of the oldest answered request still waiting for a label (logged at or
        after `since`, when given), if any."""
        for entry in self._entries.values():
            waiting = entry.answered and entry.labels is None
            if waiting and (since is None or entry.at is None or entry.at >= since):
                return entry.id
        return None

    def of_version(self, version: str) -> MonitoringWindow:
        """The requests one model version answered (a canary's two sides apart)."""
        part = MonitoringWindow(max_rows=None)
        part._entries = {i: e for i, e in self._entries.items() if e.version == version}
        part._rows = sum(e.rows for e in part._entries.values())
        part.last_id, part.revision = self.last_id, self.revision
        return part

    def answered(self) -> list[Entry]:
        """The answered requests, oldest first; kept until the window changes (a refresh
        asks several times over tens of thousands of entries)."""
        if self._answered_revision != self.revision:
            self._answered = [e for e in self._entries.values() if e.answered]
            self._answered_revision = self.revision
        return list(self._answered)

    def refused(self) -> list[Entry]:
        return [e for e in self._entries.values() if not e.answered]

    def features(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows the model answered, as sent: its features and any unseen column (one
        row per record, in id order; the index matches `predictions()`), or only
        `columns` (e.g. the schema's, for a drift check)."""
        rows = [row for e in self.answered() for row in e.inputs or []]
        frame = _frame(rows)
        return frame if columns is None else frame.reindex(columns=columns)

    def predictions(self) -> pd.DataFrame:
        """Per answered row: request id, row, time, version, prediction, label (None until
        it arrives) and whether it has one."""
        import pandas as pd

        table: dict[str, list[Any]] = {name: [] for name in META_COLUMNS}
        for e in self.answered():
            for row, prediction in enumerate(e.predictions or []):
                label = e.labels[row] if e.labels is not None and row < len(e.labels) else None
                values = (e.id, row, e.at, e.version, prediction, label, label is not None)
                for name, value in zip(META_COLUMNS, values, strict=True):
                    table[name].append(value)
        return pd.DataFrame(table)

    def probabilities(self) -> pd.DataFrame | None:
        """Per answered row, each class's probability (columns: classes as text); None when
        the model logs none (a regressor)."""
        rows = [p for e in self.answered() for p in e.probabilities or []]
        return _frame(rows) if rows else None

    def labelled(self) -> tuple[list[Any], list[Any], list[dict[str, float]] | None]:
        """(y_true, y_pred, probabilities) of the answered rows whose label has arrived;
        probabilities None when the model logs none."""
        y_true, y_pred, proba, has_proba = [], [], [], True
        for e in self.answered():
            if e.labels is None:
                continue
            chances = e.probabilities
            has_proba &= chances is not None
            for row, (label, prediction) in enumerate(
                zip(e.labels, e.predictions or [], strict=False)
            ):
                if label is None:
                    continue
                y_true.append(label)
                y_pred.append(prediction)
                if chances is not None and row < len(chances):
                    proba.append(chances[row])
        return y_true, y_pred, (proba if has_proba and proba else None)

    def unseen_counts(self) -> dict[str, int]:
        """Columns the model never saw -> rows that sent them (answered requests)."""
        counts: Counter[str] = Counter()
        for e in self.answered():
            if e.unseen:
                wanted = set(e.unseen)
                for row in e.inputs or []:
                    counts.update(str(k) for k in row if str(k) in wanted)
        return dict(counts.most_common())

    def traffic(self, now: datetime | None = None) -> Traffic:
        entries = list(self._entries.values())
        statuses = Counter(e.status for e in entries)
        errors = sum(n for status, n in statuses.items() if status != 200)
        latencies = sorted(e.latency_ms for e in entries if e.status == 200)
        return Traffic(
            requests=len(entries),
            rows=self._rows,
            errors=errors,
            server_errors=sum(n for status, n in statuses.items() if status >= 500),
            error_rate=errors / len(entries) if entries else 0.0,
            rate_per_s=_rate(entries, now or datetime.now(UTC)),
            p50_ms=_quantile(latencies, 0.5),
            p99_ms=_quantile(latencies, 0.99),
            statuses=dict(sorted(statuses.items())),
            versions=dict(Counter(e.version for e in entries).most_common()),
        )

    def _drop(self, entry_id: int) -> bool:
        entry = self._entries.pop(entry_id)
        self._rows -= entry.rows
        return True


def refresh(
    feed: RecordFeed,
    window: MonitoringWindow,
    *,
    relabel: bool = True,
    label_wait_s: float | None = None,
    limit: int | None = None,
) -> Refresh:
    """Read what is new into the window and, with `relabel`, read again the requests still
    waiting for a label (from the oldest such one up to what was held before), so labels
    that arrived meanwhile replace them; requests older than `label_wait_s` are no longer
    waited for (a re-read then costs the last `label_wait_s` of traffic, not the whole
    window). A deployment that stops answering leaves the window as it was and says so in
    `error` (one line)."""
    held_until = window.last_id
    try:
        new = feed.pull(limit)
        window.extend(new)
        reread = 0
        since = None
        if label_wait_s is not None:
            since = datetime.now(UTC) - timedelta(seconds=label_wait_s)
        oldest = window.oldest_unlabelled_id(since) if relabel else None
        if oldest is not None and oldest <= held_until:
            reread = window.extend(feed.reread(oldest - 1, held_until))
    except MonitoringError as exc:
        window.trim()
        return Refresh(0, 0, feed.behind, str(exc))
    return Refresh(len(new), reread, feed.behind)


def _entry(record: dict[str, Any]) -> Entry:
    rows = int(record.get("rows") or 0)
    inputs = record.get("inputs")
    inputs = [r for r in inputs if isinstance(r, dict)] if isinstance(inputs, list) else None
    label = record.get("label")
    labels = None if label is None else (label if isinstance(label, list) else [label])
    return Entry(
        id=int(record["id"]),
        at=_time(record.get("at")),
        version=str(record.get("version")),
        status=int(record.get("status") or 0),
        latency_ms=float(record.get("latency_ms") or 0.0),
        rows=max(rows, len(inputs or [])),
        inputs=inputs,
        predictions=record.get("predictions"),
        probabilities=record.get("probabilities"),
        unseen=tuple(str(c) for c in record.get("unseen") or ()),
        error=record.get("error"),
        labels=labels,
        labelled_at=record.get("labelled_at"),
    )


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Records as a frame, columns in first-seen order, a value absent from a record as
    missing (pandas' list-of-dicts constructor: about 0.2 s for 50,000 rows × 22)."""
    import pandas as pd

    return pd.DataFrame(rows)


def _time(text: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _rate(entries: list[Entry], now: datetime) -> float:
    """Requests per second over the last minute (or since the oldest one held, if later)."""
    times = [e.at for e in entries if e.at is not None]
    if not times:
        return 0.0
    horizon = min(RATE_HORIZON_S, max((now - min(times)).total_seconds(), 1.0))
    recent = sum(1 for t in times if (now - t).total_seconds() <= horizon)
    return recent / horizon


def _quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank quantile of sorted values."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
