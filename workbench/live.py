"""The live layer: one App-owned service that polls what is live, off the UI thread, and
posts past-tense messages (screens/live_messages.py) to the screens that subscribed.

Each *source* (sweeps from the database now; deployments over HTTP and image builds next)
says what to ask (`request`, on the UI thread), asks it (`poll`: a plain function run in a
thread, or a coroutine for an async client), and turns the answer into messages for its
subscribers (`deliver`, on the UI thread, where all its state lives). One App timer ticks
while anyone is subscribed and is paused otherwise; a source polls again after its own
interval (short while something is active, long when idle), one poll in flight at a time.
This module imports nothing heavy: SQLAlchemy and pipelines load inside the polls."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.message_pump import MessagePump

from screens.live_messages import SweepFinished, SweepProgressed, SweepsListed, TrialsUpdated
from screens.messages import WorkerFailed

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

    from pipelines.sweeps.live import LiveSweep
    from storage.handle import Workspace
    from storage.records import SweepRecord
    from storage.sweep_progress import RunCursor

    SweepRequest = tuple[list[int] | None, dict[int, RunCursor | None]]

TICK_S = 0.25  # how often the App's one timer looks for a source that is due
ACTIVE_SWEEP_STATES = ("running", "stopping", "finalizing")  # as storage.records says

Deliveries = list[tuple[MessagePump, Message]]


class LiveSource:
    """What one kind of live thing needs: subclasses fill in request, poll and deliver.
    `subscribers` maps each subscribed screen to its key (what it watches; None: all)."""

    name = "source"
    active_interval_s = 1.0
    idle_interval_s = 15.0

    def __init__(self) -> None:
        self.subscribers: dict[MessagePump, Hashable] = {}
        self.active = True  # until a poll says otherwise: poll often

    @property
    def interval_s(self) -> float:
        return self.active_interval_s if self.active else self.idle_interval_s

    def subscribed(self, target: MessagePump, key: Hashable) -> None:
        """A screen subscribed (or asked for a refresh): it needs everything, not changes."""

    def unsubscribed(self, target: MessagePump) -> None:
        """A screen left: forget what was sent to it."""

    def request(self) -> Any:
        """What to ask, read from the subscribers (UI thread)."""
        return None

    def poll(self, request: Any) -> Any:
        """Ask it (a worker thread, or the event loop when this is a coroutine function)."""
        raise NotImplementedError

    def deliver(self, request: Any, answer: Any) -> Deliveries:
        """The messages for each subscriber (UI thread); sets `active`."""
        raise NotImplementedError


class LiveLayer:
    """Owned by the App: started when the workspace opens, stopped on exit."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.sources: dict[str, LiveSource] = {}
        self.polls = 0  # polls finished, for tests and the curious
        self._timer: Timer | None = None
        self._due: dict[str, float] = {}
        self._in_flight: set[str] = set()
        self._again: set[str] = set()  # asked for while a poll was in flight
        self._errors: dict[str, str] = {}  # the last error told, per source (told once)

    def start(self, sources: list[LiveSource]) -> None:
        self.sources = {source.name: source for source in sources}
        self._timer = self.app.set_interval(TICK_S, self._tick, name="live-layer", pause=True)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        for source in self.sources.values():
            source.subscribers.clear()

    @property
    def polling(self) -> bool:
        """True while the timer ticks: someone is subscribed."""
        return self._timer is not None and any(s.subscribers for s in self.sources.values())

    def subscribe(self, target: MessagePump, source: str, key: Hashable = None) -> None:
        """Send `target` the messages of `source` about `key` (None: everything it polls);
        the first ones, at once, carry everything."""
        live = self.sources[source]
        live.subscribers[target] = key
        live.subscribed(target, key)
        self.poll_now(source)

    def unsubscribe(self, target: MessagePump) -> None:
        for live in self.sources.values():
            if target in live.subscribers:
                del live.subscribers[target]
                live.unsubscribed(target)
        if not self.polling and self._timer is not None:
            self._timer.pause()

    def refresh(self, target: MessagePump) -> None:
        """Send `target` everything again, now (a refresh key)."""
        for name, live in self.sources.items():
            if target in live.subscribers:
                live.subscribed(target, live.subscribers[target])
                self.poll_now(name)

    def poll_now(self, source: str) -> None:
        """Poll `source` at once (or as soon as the poll in flight ends)."""
        self._due[source] = 0.0
        if source in self._in_flight:
            self._again.add(source)
        if self._timer is not None:
            self._timer.resume()
        self._tick()

    # --- the one timer ---------------------------------------------------------------------

    def _tick(self) -> None:
        if not self.polling:
            if self._timer is not None:
                self._timer.pause()
            return
        now = time.monotonic()
        for name, source in self.sources.items():
            if not source.subscribers or name in self._in_flight:
                continue
            if now < self._due.get(name, 0.0):
                continue
            self._in_flight.add(name)
            self.app.run_worker(
                self._poll(source),
                group=f"live-{name}",
                exit_on_error=False,
                description=f"polling {name}",
            )

    async def _poll(self, source: LiveSource) -> None:
        """Ask off the UI thread, then deliver on it; a failing poll is told once and tried
        again after the idle interval."""
        name = source.name
        try:
            request = source.request()
            if inspect.iscoroutinefunction(source.poll):
                answer = await source.poll(request)
            else:
                answer = await asyncio.to_thread(source.poll, request)
            deliveries = source.deliver(request, answer)
        except Exception as exc:
            self._failed(source, exc)
        else:
            self._errors.pop(name, None)
            self._due[name] = time.monotonic() + source.interval_s
            for target, message in deliveries:
                target.post_message(message)
        finally:
            self.polls += 1
            self._in_flight.discard(name)
        if name in self._again:
            self._again.discard(name)
            self.poll_now(name)

    def _failed(self, source: LiveSource, exc: Exception) -> None:
        self._due[source.name] = time.monotonic() + source.idle_interval_s
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._errors.get(source.name) != text:
            self._errors[source.name] = text
            self.app.post_message(WorkerFailed(f"polling {source.name}", exc))


class SweepSource(LiveSource):
    """Sweeps from the database. Key None: every sweep (the sweeps list); a sweep id: that
    sweep and its trials (a sweep's own screen), read incrementally through run cursors."""

    name = "sweeps"

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.cursors: dict[int, RunCursor] = {}  # per watched sweep: the runs already read
        self.sent: dict[MessagePump, dict[int, SweepRecord]] = {}  # what each was last told
        self.fresh: set[MessagePump] = set()  # subscribers still owed all their trials

    def subscribed(self, target: MessagePump, key: Hashable) -> None:
        self.sent.pop(target, None)
        self.fresh.add(target)
        if isinstance(key, int):
            self.cursors.pop(key, None)  # read all its runs again, for everyone watching

    def unsubscribed(self, target: MessagePump) -> None:
        self.sent.pop(target, None)
        self.fresh.discard(target)
        watched = {key for key in self.subscribers.values() if isinstance(key, int)}
        for sweep_id in [s for s in self.cursors if s not in watched]:
            del self.cursors[sweep_id]

    def request(self) -> SweepRequest:
        """Which sweeps (None: all) and, per watched sweep, its cursor (None: read all)."""
        keys = set(self.subscribers.values())
        watched = sorted(k for k in keys if isinstance(k, int))
        return (None if None in keys else watched), {i: self.cursors.get(i) for i in watched}

    def poll(self, request: SweepRequest) -> list[LiveSweep]:
        from pipelines.sweeps.live import poll_sweeps
        from storage.sweep_progress import RunCursor

        ids, cursors = request
        return poll_sweeps(self.ws, ids, {i: c or RunCursor() for i, c in cursors.items()})

    def deliver(self, request: SweepRequest, answer: list[LiveSweep]) -> Deliveries:
        _, asked = request
        found = {live.progress.sweep.id: live for live in answer}
        stale: set[int] = set()  # read all again while this poll was out: its runs are partial
        for sweep_id, used in asked.items():
            if self.cursors.get(sweep_id) is not used:
                stale.add(sweep_id)
            elif (live := found.get(sweep_id)) is not None and live.progress.cursor is not None:
                self.cursors[sweep_id] = live.progress.cursor
        self.active = any(live.progress.sweep.status in ACTIVE_SWEEP_STATES for live in answer)
        out: Deliveries = []
        for target, key in list(self.subscribers.items()):
            sent = self.sent.setdefault(target, {})
            for live in answer if key is None else [found[key]] if key in found else []:
                out += self._progress(target, sent, live)
            if isinstance(key, int) and key in found and key in asked and key not in stale:
                out += self._trials(target, found[key], complete=asked[key] is None)
            elif key is None:
                self.fresh.discard(target)
                out.append((target, SweepsListed([live.progress.sweep.id for live in answer])))
        return out

    def _progress(
        self, target: MessagePump, sent: dict[int, SweepRecord], live: LiveSweep
    ) -> Deliveries:
        """The sweep when it changed (and every poll while active: its clock moves)."""
        sweep, before = live.progress.sweep, sent.get(live.progress.sweep.id)
        sent[sweep.id] = sweep
        out: Deliveries = []
        if before != sweep or sweep.status in ACTIVE_SWEEP_STATES:
            out.append((target, SweepProgressed(sweep, live.remaining_s)))
        was_active = before is not None and before.status in ACTIVE_SWEEP_STATES
        if was_active and sweep.status not in ACTIVE_SWEEP_STATES:
            out.append((target, SweepFinished(sweep)))
        return out

    def _trials(self, target: MessagePump, live: LiveSweep, *, complete: bool) -> Deliveries:
        """A fresh subscriber gets all the sweep's runs once; then only the changed ones."""
        runs = live.progress.runs
        if target in self.fresh:
            if not complete:  # the read of all its runs is the next poll
                return []
            self.fresh.discard(target)
        elif not runs:
            return []
        return [(target, TrialsUpdated(live.progress.sweep.id, runs, complete))]


def sweep_sources(ws: Workspace) -> list[LiveSource]:
    """What is live in a workspace today (deployments and image builds join here)."""
    return [SweepSource(ws)]
