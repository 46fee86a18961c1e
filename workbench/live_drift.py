"""The live source of drift panels: one `DeploymentWatch` per watched deployment, opened
on the first poll (its reference is read and prepared then, off the UI thread) and
refreshed every few seconds; it stores snapshots, raises alerts and starts retraining as
the deployment's rules and policy say. A panel's key is (deployment, max rows, max age):
re-subscribing with another key resizes the window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screens.live_messages import DriftRefreshed
from workbench.live import Deliveries, LiveSource

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from pipelines.watch.watcher import DeploymentWatch
    from storage.handle import Workspace

DriftKey = tuple[str, int | None, float | None]


class DriftSource(LiveSource):
    name = "drift"
    active_interval_s = 3.0
    idle_interval_s = 10.0

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.watches: dict[str, DeploymentWatch] = {}  # touched only by polls (one at a time)

    def request(self) -> list[DriftKey]:
        return sorted({k for k in self.subscribers.values() if isinstance(k, tuple)}, key=str)

    def poll(self, request: list[DriftKey]) -> dict[str, tuple[Any, str | None]]:
        from pipelines.watch.watcher import DeploymentWatch, WatchSettings
        from storage.errors import WorkbenchError

        answers: dict[str, tuple[Any, str | None]] = {}
        for name in [n for n in self.watches if n not in {k[0] for k in request}]:
            del self.watches[name]  # nobody watches it any more
        for name, max_rows, max_age_s in request:
            try:
                watch = self.watches.get(name)
                if watch is None:
                    settings = WatchSettings(max_rows=max_rows, max_age_s=max_age_s)
                    watch = self.watches[name] = DeploymentWatch.open(self.ws, name, settings)
                elif (watch.window.max_rows, watch.window.max_age_s) != (max_rows, max_age_s):
                    watch.resize(max_rows, max_age_s)
                answers[name] = (watch.refresh(self.ws), None)
            except WorkbenchError as exc:
                answers[name] = (None, str(exc))
        return answers

    def deliver(
        self, request: list[DriftKey], answer: dict[str, tuple[Any, str | None]]
    ) -> Deliveries:
        self.active = bool(answer)
        out: Deliveries = []
        for target, key in self.subscribers.items():
            if isinstance(key, tuple) and key[0] in answer:
                view, error = answer[key[0]]
                out.append((target, DriftRefreshed(key[0], view, error)))
        return out

    def unsubscribed(self, target: MessagePump) -> None:
        """With no panel left, drop the watches (and their reference frames); one left
        watching others has them dropped by its next poll."""
        if not self.subscribers:
            self.watches = {}  # a poll in flight keeps the watch it holds
