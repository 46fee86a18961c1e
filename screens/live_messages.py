"""What the App's live layer (workbench/live.py) tells the screens that subscribed to it:
past-tense messages carrying what changed, so screens own no timers and no polling state.
Deployments, image builds and drift panels have theirs below."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from textual.message import Message

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from pipelines.deploy.traffic import Traffic
    from pipelines.watch.watcher import WatchView
    from storage.records import DeploymentRecord, ImageBuildRecord, RunSummary, SweepRecord


class LiveService(Protocol):
    """What screens use of the App's live layer (workbench/live.py)."""

    def subscribe(self, target: MessagePump, source: str, key: Hashable = None) -> None: ...
    def unsubscribe(self, target: MessagePump) -> None: ...
    def refresh(self, target: MessagePump) -> None: ...


def live_layer(node: MessagePump) -> LiveService:
    return cast("LiveService", node.app.live)  # type: ignore[attr-defined]


class WatchesLive:
    """Mix into a Screen that shows something live: subscribed while it is shown (behind a
    modal too); a screen covered by another gets everything again when it is back, and
    nothing after it is gone. Naming-convention handlers: it works as a plain mixin."""

    live_source = "sweeps"

    def live_key(self) -> Hashable:
        """What this screen watches of its source (None: everything)."""
        return None

    def on_screen_resume(self) -> None:
        live_layer(self).subscribe(self, self.live_source, self.live_key())  # type: ignore[arg-type]

    def on_screen_suspend(self) -> None:
        from textual.screen import ModalScreen

        if isinstance(self.app.screen, ModalScreen):  # type: ignore[attr-defined]
            return  # still seen, dimmed, behind a dialog or the palette: stay current
        live_layer(self).unsubscribe(self)  # type: ignore[arg-type]

    def on_unmount(self) -> None:
        live_layer(self).unsubscribe(self)  # type: ignore[arg-type]

    def refresh_live(self) -> None:
        """Everything again, now (a refresh key)."""
        live_layer(self).refresh(self)  # type: ignore[arg-type]


@dataclass
class SweepProgressed(Message, bubble=False):
    """A sweep as it is now (status, counts, best, heartbeat): sent when it changed, and
    every poll while it is active (its elapsed time moves)."""

    sweep: SweepRecord
    remaining_s: float | None  # estimated seconds left, while it runs


@dataclass
class SweepsListed(Message, bubble=False):
    """After each poll's SweepProgressed messages, to a screen watching every sweep: the ids
    of all sweeps now, newest first (the batch is over; a sweep not listed is gone)."""

    sweep_ids: list[int]


@dataclass
class TrialsUpdated(Message, bubble=False):
    """Runs of a sweep that are new or changed since the last poll, in id order; `complete`
    when they are all its runs (the first message after subscribing, or a refresh)."""

    sweep_id: int
    runs: list[RunSummary]
    complete: bool


@dataclass
class SweepFinished(Message, bubble=False):
    """A sweep left the active states (finished, stopped, failed, stalled)."""

    sweep: SweepRecord


@dataclass
class DeploymentsListed(Message, bubble=False):
    """Every deployment as it is now, checked (a container killed from outside is down)."""

    deployments: list[DeploymentRecord]


@dataclass
class DeploymentTrafficRead(Message, bubble=False):
    """The watched deployment's traffic per answering version, from its request log."""

    name: str
    traffic: Traffic | None  # None: the deployment does not answer (see its status)


@dataclass
class ImageBuildsListed(Message, bubble=False):
    """Every image build, and the log tail of the watched one (a failed build's reason)."""

    builds: list[ImageBuildRecord]
    log_tail: dict[int, list[str]]


@dataclass
class DriftRefreshed(Message, bubble=False):
    """A watched deployment's drift panel, refreshed off the UI thread; `error` says why
    there is no view (the watch could not start: no reference data, no deployment)."""

    deployment: str
    view: WatchView | None
    error: str | None = None
