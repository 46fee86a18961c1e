"""Simulated traffic for demos and tests: real HTTP requests to a deployment on loopback,
one row each, at a steady rate, with a controlled shift, and each row's true label sent to
`/feedback` a fixed delay after its prediction, as labels arrive in production.

Scenarios: `none` sends the rows as they are; `gradual` shifts a few numeric columns,
growing from nothing to full over the run; `sudden` applies the full shift from half-time
on; `new-column` adds a column the model never saw from half-time on. The run is bounded
in count and in time, and only ever sends to 127.0.0.1 / localhost.

Two ways to shift (`shift`): `offset` adds up to `strength` standard deviations to each
shifted column's values; each row keeps its own label, so the inputs move but their labels
do not follow, which is covariate and concept shift at once (the real score falls, and an
estimate that assumes no concept shift may not see it). `select` leaves every row as it
is and instead draws rows more and more often from those ranking highest on the shifted
columns (the top `SELECTED_SHARE`): the columns' distributions move while the relation
between inputs and labels stays the data's own, a pure covariate shift."""

from __future__ import annotations

import heapq
import random
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.monitoring.feed import MonitoringError, request_json

SCENARIOS = ("none", "gradual", "sudden", "new-column")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_COUNT = 500
MAX_COUNT = 100_000
MAX_DURATION_S = 3600.0
MAX_RATE = 500.0
NEW_COLUMN = "promo_code"  # the column the model never saw (new-column)
SHIFT_MODES = ("offset", "select")
SELECTED_SHARE = 0.3  # select: the share of rows, highest on the shifted columns, drawn from
SHIFTED_COLUMNS = 3
STRENGTH = 2.0  # the full shift, in standard deviations of each shifted column
GIVE_UP_AFTER = 3  # requests in a row that get no answer
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class ShiftPlan:
    """Which columns shift and by how much (each column's standard deviation × strength)."""

    scenario: str
    columns: tuple[str, ...] = ()
    scales: dict[str, float] = field(default_factory=dict)
    strength: float = STRENGTH
    mode: str = "offset"  # offset | select
    pool: tuple[int, ...] = ()  # select: the rows drawn from as the shift grows

    def level(self, fraction: float) -> float:
        """How far into its shift the run is at `fraction` of it (0 none, 1 full)."""
        if self.scenario == "gradual":
            return min(1.0, max(0.0, fraction))
        if self.scenario in ("sudden", "new-column"):
            return 1.0 if fraction >= 0.5 else 0.0
        return 0.0

    def pick(self, position: int, fraction: float, rng: random.Random) -> int:
        """The row to send next: `position` (the seeded order), or with `select` a row of
        the pool, as often as the shift's level says."""
        if self.mode == "select" and self.pool and rng.random() < self.level(fraction):
            return rng.choice(self.pool)
        return position

    def apply(self, row: Mapping[str, Any], fraction: float, rng: random.Random) -> dict[str, Any]:
        shifted = dict(row)
        level = self.level(fraction) if self.mode == "offset" else 0.0
        if self.scenario == "new-column":
            if level:
                shifted[NEW_COLUMN] = rng.choice(("SPRING", "WELCOME", "VIP"))
            return shifted
        for column in self.columns if level else ():
            value = shifted.get(column)
            if isinstance(value, int | float) and not isinstance(value, bool):
                shifted[column] = value + level * self.strength * self.scales[column]
        return shifted


@dataclass(frozen=True)
class Progress:
    sent: int
    answered: int
    refused: int
    labels_sent: int
    labels_waiting: int
    elapsed_s: float
    level: float  # the shift's level now (0 none, 1 full)

    def line(self, count: int | None = None) -> str:
        of = f"/{count}" if count else ""
        return (
            f"{self.sent}{of} requests ({self.answered} answered, {self.refused} refused), "
            f"{self.labels_sent} labels sent, {self.labels_waiting} waiting, "
            f"shift {self.level:.0%}, {self.elapsed_s:.1f} s"
        )


@dataclass(frozen=True)
class SimulationSummary:
    scenario: str
    sent: int
    answered: int
    refused: int  # answered with an error status (4xx/5xx)
    labels_sent: int
    labels_refused: int
    duration_s: float
    shifted_columns: tuple[str, ...]
    request_ids: tuple[int, ...]  # of the answered requests, in order
    ended: str  # count | duration | stopped
    shift: str = "offset"  # offset | select


def check_loopback(url: str) -> str:
    """The URL without a trailing slash, if it points at this machine; MonitoringError if not."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or host not in LOOPBACK:
        raise MonitoringError(
            f"simulated traffic goes only to 127.0.0.1 or localhost, not {host or url!r}"
        )
    return url.rstrip("/")


def plan_shift(
    rows: Sequence[Mapping[str, Any]],
    scenario: str,
    *,
    columns: int = SHIFTED_COLUMNS,
    strength: float = STRENGTH,
    seed: int = 0,
    mode: str = "offset",
) -> ShiftPlan:
    """The shift for a scenario: `columns` numeric columns (chosen with the seed among those
    with more than five values), each moved by `strength` of its standard deviation
    (`offset`) or drawn from their highest-ranking rows (`select`)."""
    if scenario not in SCENARIOS:
        raise MonitoringError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    if mode not in SHIFT_MODES:
        raise MonitoringError(f"unknown shift {mode!r} (known: {', '.join(SHIFT_MODES)})")
    if scenario not in ("gradual", "sudden"):
        return ShiftPlan(scenario, strength=strength)
    scales = {}
    for name in dict.fromkeys(k for row in rows[:1000] for k in row):
        values = [row.get(name) for row in rows[:1000]]
        numbers = [float(v) for v in values if isinstance(v, int | float) and _is_number(v)]
        if len(numbers) == sum(v is not None for v in values) and len(set(numbers)) > 5:
            scales[name] = statistics.pstdev(numbers) or 1.0
    if not scales:
        raise MonitoringError(f"scenario {scenario}: the rows have no numeric column to shift")
    chosen = sorted(random.Random(seed).sample(sorted(scales), min(columns, len(scales))))
    kept = {c: scales[c] for c in chosen}
    pool = _top_rows(rows, kept) if mode == "select" else ()
    return ShiftPlan(scenario, tuple(chosen), kept, strength, mode, pool)


def _top_rows(rows: Sequence[Mapping[str, Any]], scales: dict[str, float]) -> tuple[int, ...]:
    """The positions of the SELECTED_SHARE of rows with the highest summed z-scores over
    the columns (a missing value counts as the mean)."""
    means = {c: statistics.fmean(float(r[c]) for r in rows if _is_number(r.get(c))) for c in scales}
    scores = [
        sum((float(r[c]) - means[c]) / scales[c] for c in scales if _is_number(r.get(c)))
        for r in rows
    ]
    ranked = sorted(range(len(rows)), key=lambda i: scores[i], reverse=True)
    return tuple(sorted(ranked[: max(1, round(len(rows) * SELECTED_SHARE))]))


def simulate(
    url: str,
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[Any] | None,
    *,
    scenario: str = "none",
    rate: float = 10.0,
    labels_after_s: float | None = 5.0,
    count: int | None = None,
    duration_s: float | None = None,
    token: str | None = None,
    seed: int = 0,
    strength: float = STRENGTH,
    shift: str = "offset",
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> SimulationSummary:
    """Send `count` requests (or for `duration_s`, whichever ends first; DEFAULT_COUNT if
    neither is given) at `rate` per second, rows drawn in a seeded order (again from the
    start when they run out), then wait for the last labels. `labels_after_s` None sends
    no labels. MonitoringError (one line) for bad arguments or a deployment that stops
    answering."""
    url = check_loopback(url)
    count = _checked(rows, labels, rate, labels_after_s, count, duration_s)
    plan = plan_shift(rows, scenario, strength=strength, seed=seed, mode=shift)
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    waiting: list[tuple[float, int, Any]] = []  # (due, request id, label)
    sent = answered = refused = labels_sent = labels_refused = silent = 0
    ids: list[int] = []
    started = time.monotonic()
    shown = started
    ended = "count"

    def progress(now: float) -> Progress:
        level = plan.level(_fraction(sent, count, now - started, duration_s))
        return Progress(sent, answered, refused, labels_sent, len(waiting), now - started, level)

    while True:
        now = time.monotonic()
        while waiting and waiting[0][0] <= now:
            _, request_id, label = heapq.heappop(waiting)
            try:
                status, _ = _post(url, "/feedback", {"request_id": request_id, "label": label},
                                  token)  # fmt: skip
            except MonitoringError:
                status = 0  # the server went away: counted, the run goes on as far as it can
            labels_sent += status == 200
            labels_refused += status != 200
        finished = sent >= count or (duration_s is not None and now - started >= duration_s)
        if stop is not None and stop.is_set():
            finished, ended, waiting = True, "stopped", []
        elif finished and sent < count:
            ended = "duration"
        if finished and not waiting:
            break
        due = started + sent / rate
        if not finished and now >= due:
            fraction = _fraction(sent, count, now - started, duration_s)
            source = plan.pick(order[sent % len(rows)], fraction, rng)
            row = plan.apply(rows[source], fraction, rng)
            try:
                status, answer = _post(url, "/predict", row, token)
            except MonitoringError as exc:
                silent += 1
                if silent >= GIVE_UP_AFTER:
                    raise MonitoringError(
                        f"{exc}; stopped after {sent} requests ({answered} answered)"
                    ) from None
                sent += 1
                continue
            silent = 0
            if status in (401, 403, 404):
                detail = answer.get("detail") if isinstance(answer, dict) else None
                raise MonitoringError(f"{url}/predict answered {status}: {detail or 'refused'}")
            if status == 200 and isinstance(answer, dict):
                answered += 1
                request_id = int(answer["request_id"])
                ids.append(request_id)
                if labels is not None and labels_after_s is not None:
                    label = labels[source]
                    heapq.heappush(waiting, (time.monotonic() + labels_after_s, request_id, label))
            else:
                refused += 1
            sent += 1
        else:
            times = ([waiting[0][0]] if waiting else []) + ([] if finished else [due])
            wake = min(times)
            time.sleep(min(max(0.0, wake - time.monotonic()), PROGRESS_EVERY_S))
        if on_progress is not None and time.monotonic() - shown >= PROGRESS_EVERY_S:
            shown = time.monotonic()
            on_progress(progress(shown))
    if on_progress is not None:
        on_progress(progress(time.monotonic()))
    return SimulationSummary(
        scenario=scenario,
        sent=sent,
        answered=answered,
        refused=refused,
        labels_sent=labels_sent,
        labels_refused=labels_refused,
        duration_s=time.monotonic() - started,
        shifted_columns=plan.columns or ((NEW_COLUMN,) if scenario == "new-column" else ()),
        request_ids=tuple(ids),
        ended=ended,
        shift=plan.mode,
    )


def _checked(
    rows: Sequence[Any],
    labels: Sequence[Any] | None,
    rate: float,
    labels_after_s: float | None,
    count: int | None,
    duration_s: float | None,
) -> int:
    """The count to send (MAX_COUNT when only a duration bounds the run)."""
    if not rows:
        raise MonitoringError("no rows to send")
    if labels is not None and len(labels) != len(rows):
        raise MonitoringError(f"{len(labels)} labels for {len(rows)} rows")
    if not 0 < rate <= MAX_RATE:
        raise MonitoringError(f"--rate must be above 0 and at most {MAX_RATE:g} per second")
    if labels_after_s is not None and not 0 <= labels_after_s <= MAX_DURATION_S:
        raise MonitoringError(f"--labels-after must be 0 to {MAX_DURATION_S:g} seconds")
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise MonitoringError(f"--count must be 1 to {MAX_COUNT}")
    if duration_s is not None and not 0 < duration_s <= MAX_DURATION_S:
        raise MonitoringError(f"--duration must be above 0 and at most {MAX_DURATION_S:g} s")
    if count is None:
        return MAX_COUNT if duration_s is not None else DEFAULT_COUNT
    return count


def _fraction(sent: int, count: int, elapsed_s: float, duration_s: float | None) -> float:
    """How far through the run: by count, or by time when a duration ends it sooner."""
    by_count = sent / count
    return max(by_count, elapsed_s / duration_s) if duration_s else by_count


def _post(url: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
    return request_json("POST", url + path, body, token=token)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
