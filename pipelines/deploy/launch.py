"""Bringing a deployment's server up as its record says (the version, local or container,
and during a canary the challenger and its share), waiting until it answers, and what to
do when it does not: everything started is stopped and the record says failed, why.

`deploy`, `deploy start` and the canary's start, promote and rollback all come here, so a
restart is always the record's current truth, never a second code path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import supervisor
from pipelines.deploy import runtime
from pipelines.deploy.health import NotAnswering, wait_healthy
from pipelines.packaging import engine
from pipelines.packaging.builds import image_source, last_log_line
from pipelines.serving.bundle import write_bundle
from storage import deployments as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import DeploymentRecord

if TYPE_CHECKING:
    from docker import DockerClient

    from pipelines.packaging.images import ImageSource

HOST = "127.0.0.1"


def deployment_folder(ws: Workspace, name: str) -> Path:
    return ws.paths.deployments / name


def bring_up(ws: Workspace, name: str, wait_s: float = 60.0) -> DeploymentRecord:
    """Start the server of a deployment in state `starting` and wait for it; running, or
    failed with everything stopped and WorkbenchError raised."""
    record = repo.get_deployment(ws.db, name)
    client = None
    try:
        challenger = _challenger_bundle(ws, record)
        if record.kind == "local":
            _start_local(ws, record, challenger)
        else:
            client = engine.connect()
            _start_container(ws, record, client, challenger)
        fresh = repo.get_deployment(ws.db, name)
        wait_healthy(
            record.url, timeout_s=wait_s, token=record.token, gone=lambda: exited(ws, fresh, client)
        )
    except (WorkbenchError, NotAnswering, OSError) as exc:
        message = " ".join(str(exc).split())
        halt(ws, repo.get_deployment(ws.db, name), client)
        repo.move_deployment(ws.db, name, None, status="failed", error=message)
        raise WorkbenchError(f"deployment {name} failed: {message}") from None
    finally:
        if client is not None:
            client.close()
    repo.move_deployment(ws.db, name, ("starting",), status="running", error=None)
    return repo.get_deployment(ws.db, name)


def _write_bundle(folder: Path, source: ImageSource) -> Path:
    bundle = write_bundle(folder, source.model_bytes, source.manifest)
    metadata = {"name": source.name, "version": source.version, **dict(source.metadata)}
    (bundle / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
    return bundle


def _challenger_bundle(ws: Workspace, record: DeploymentRecord) -> Path | None:
    """The canary's challenger as a bundle folder the server (or container) can read."""
    if record.challenger_ref is None:
        return None
    folder = _write_bundle(
        deployment_folder(ws, record.name) / "challenger", image_source(ws, record.challenger_ref)
    )
    if record.kind == "container":  # read by the image's non-root user through a bind mount
        folder.chmod(0o755)
        for path in folder.iterdir():
            path.chmod(0o644)
    return folder


def _start_local(ws: Workspace, record: DeploymentRecord, challenger: Path | None) -> None:
    folder = deployment_folder(ws, record.name)
    bundle = _write_bundle(folder / "model", image_source(ws, record.model_ref))
    log = folder / "server.log"
    process = runtime.start_local(
        bundle,
        folder / "requests",
        log,
        port=record.port,
        host=HOST,
        token=record.token,
        challenger=challenger,
        share=record.canary_share,
    )
    repo.move_deployment(
        ws.db,
        record.name,
        None,
        pid=process.pid,
        process_started_at=process.started_at,
        host=process.host,
        log_path=str(log),
    )


def _start_container(
    ws: Workspace, record: DeploymentRecord, client: DockerClient, challenger: Path | None
) -> None:
    container_id = runtime.start_container(
        client,
        record.image_tag or "",
        record.name,
        port=record.port,
        host=HOST,
        token=record.token,
        challenger=challenger,
        share=record.canary_share,
    )
    repo.move_deployment(ws.db, record.name, None, container_id=container_id)


def process_of(record: DeploymentRecord) -> supervisor.Supervised | None:
    if record.pid is None:
        return None
    return supervisor.Supervised(record.pid, record.process_started_at, record.host or "")


def exited(ws: Workspace, record: DeploymentRecord, client: DockerClient | None) -> str | None:
    """Why the deployment's process or container is gone, or None while it runs."""
    record = repo.get_deployment(ws.db, record.name)
    if record.kind == "local":
        process = process_of(record)
        if process is not None and not supervisor.is_alive(process):
            last = last_log_line(Path(record.log_path)) if record.log_path else "no log"
            return f"the server process exited ({last})"
        return None
    if client is None or record.container_id is None:
        return None
    state = runtime.container_state(client, record.container_id)
    if state.status != "running":
        logs = runtime.container_logs(client, record.container_id, tail=5)
        last = " ".join((logs.strip().splitlines() or ["no output"])[-1].split())[:200]
        return f"the container {state.detail} ({last})"
    return None


def halt(ws: Workspace, record: DeploymentRecord, client: DockerClient | None) -> None:
    """Stop whatever runs for `record` (a failed start leaves nothing behind)."""
    process = process_of(record)
    if process is not None:
        supervisor.stop(process, grace_s=5)
    if record.container_id and client is not None:
        runtime.remove_container(client, record.container_id)


def take_down(ws: Workspace, record: DeploymentRecord) -> None:
    """Stop the server cleanly (SIGTERM: the request log is written to the end)."""
    client = engine.connect() if record.kind == "container" else None
    try:
        if record.kind == "container" and record.container_id and client is not None:
            runtime.stop_container(client, record.container_id)
        else:
            process = process_of(record)
            if process is not None:
                supervisor.stop(process, grace_s=10)
    finally:
        if client is not None:
            client.close()
