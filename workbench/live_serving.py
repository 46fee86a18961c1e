"""Live sources for the deployment half: deployments (their status checked over HTTP and
against the engine, and the watched one's traffic read from its request log) and image
builds (their records, and the watched build's log tail). Plugged into the App's live
layer beside the sweeps; like it, this module imports nothing heavy at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from screens.live_messages import DeploymentsListed, DeploymentTrafficRead, ImageBuildsListed
from workbench.live import Deliveries, LiveSource

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from pipelines.deploy.traffic import TrafficWindow
    from storage.handle import Workspace

LOG_TAIL = 30


class DeploymentSource(LiveSource):
    """Key None: the list only; a deployment's name: the list and that one's traffic."""

    name = "deployments"
    active_interval_s = 2.0
    idle_interval_s = 10.0

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.windows: dict[str, TrafficWindow] = {}  # per watched deployment, read once each

    def unsubscribed(self, target: MessagePump) -> None:
        watched = set(self.subscribers.values())
        for name in [n for n in self.windows if n not in watched]:
            del self.windows[name]

    def request(self) -> list[str]:
        return sorted({k for k in self.subscribers.values() if isinstance(k, str)})

    def poll(self, request: list[str]) -> tuple[list[Any], dict[str, Any]]:
        from pipelines.deploy.deployments import list_deployments
        from pipelines.deploy.health import NotAnswering
        from pipelines.deploy.traffic import TrafficWindow

        records = list_deployments(self.ws)
        traffic: dict[str, Any] = {}
        for record in records:
            if record.name not in request:
                continue
            window = self.windows.setdefault(record.name, TrafficWindow())
            try:
                traffic[record.name] = (
                    window.read(record.url, record.token) if record.status == "running" else None
                )
            except NotAnswering:
                traffic[record.name] = None
        return records, traffic

    def deliver(self, request: list[str], answer: tuple[list[Any], dict[str, Any]]) -> Deliveries:
        records, traffic = answer
        self.active = any(r.status in ("running", "starting", "stopping") for r in records)
        out: Deliveries = []
        for target, key in self.subscribers.items():
            out.append((target, DeploymentsListed(records)))
            if isinstance(key, str) and key in traffic:
                out.append((target, DeploymentTrafficRead(key, traffic[key])))
        return out


class BuildSource(LiveSource):
    """Key None: the builds; a build id: the builds and that one's log tail."""

    name = "images"
    active_interval_s = 1.0
    idle_interval_s = 10.0

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws

    def request(self) -> list[int]:
        return sorted({k for k in self.subscribers.values() if isinstance(k, int)})

    def poll(self, request: list[int]) -> tuple[list[Any], dict[int, list[str]]]:
        from pipelines.packaging.builds import list_builds, log_tail

        builds = list_builds(self.ws)
        tails = {
            b.id: log_tail(Path(b.log_path), LOG_TAIL)
            for b in builds
            if b.id in request and b.log_path
        }
        return builds, tails

    def deliver(
        self, request: list[int], answer: tuple[list[Any], dict[int, list[str]]]
    ) -> Deliveries:
        builds, tails = answer
        self.active = any(b.status == "building" for b in builds)
        return [(target, ImageBuildsListed(builds, tails)) for target in self.subscribers]


def serving_sources(ws: Workspace) -> list[LiveSource]:
    from workbench.live_drift import DriftSource

    return [DeploymentSource(ws), BuildSource(ws), DriftSource(ws)]
