"""`workbench deploy`: run a model version as a container (or a supervised local process),
wait until it answers, and keep its record honest: a container killed from outside or a
server that stops answering is marked down the next time anyone looks.

Every state change is one conditional update (storage.deployments.move_deployment), so two
terminals stopping the same deployment do not both act on it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import supervisor
from pipelines.deploy import runtime
from pipelines.deploy.health import NotAnswering, free_port, get_json, port_is_free
from pipelines.deploy.launch import (
    HOST,
    bring_up,
    exited,
    process_of,
    take_down,
)
from pipelines.packaging import engine
from pipelines.registry.versions import resolve
from storage import deployments as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import DeploymentRecord

if TYPE_CHECKING:
    from docker import DockerClient

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Deployed:
    record: DeploymentRecord
    notice: str | None = None  # e.g. "no Docker engine: running as a local process"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise WorkbenchError(
            f"{name!r} is not a valid deployment name: lower-case letters, digits, '_', '-' "
            "or '.', starting with a letter or digit (it names a container)"
        )
    return name


def deploy(
    ws: Workspace,
    ref: str,
    *,
    image: str | None = None,
    local: bool = False,
    port: int | None = None,
    token: str | None = None,
    name: str | None = None,
    wait_s: float = 60.0,
) -> Deployed:
    """Start serving `ref` and wait until it is healthy; on any failure the record says
    failed with the reason, the process or container is gone, and WorkbenchError says why."""
    version = resolve(ws, ref)
    name = check_name(name or re.sub(r"[^a-z0-9_.-]+", "-", version.model_name.lower()))
    port = port or free_port(HOST)
    if not port_is_free(port, HOST):
        raise WorkbenchError(f"port {port} is already in use on {HOST}; choose another --port")
    notice = None
    client = None
    if not local:
        try:
            client = engine.connect()
        except engine.EngineError as exc:
            if image:
                raise WorkbenchError(str(exc)) from None
            notice = f"{exc}: running {version.ref} as a local process instead"
            local = True
    if not local and image is None:
        build = repo.latest_build_of_version(ws.db, version.id)
        if build is None:
            raise WorkbenchError(
                f"no image is built for {version.ref}: run `workbench image build {version.ref}` "
                "or deploy with --local"
            )
        image = build.tag
    url = f"http://{HOST}:{port}"
    record = repo.add_deployment(
        ws.db,
        name,
        kind="local" if local else "container",
        model_version_id=version.id,
        image_tag=None if local else image,
        port=port,
        url=url,
        token=token,
    )
    if client is not None:
        client.close()
    return Deployed(bring_up(ws, record.name, wait_s), notice)


def refresh(ws: Workspace, record: DeploymentRecord) -> DeploymentRecord:
    """Check a running deployment: gone or not answering -> down, with the reason."""
    return _checked(ws, [record])[0]


def list_deployments(ws: Workspace, *, check: bool = True) -> list[DeploymentRecord]:
    records = repo.list_deployments(ws.db)
    return _checked(ws, records) if check else records


def _checked(ws: Workspace, records: list[DeploymentRecord]) -> list[DeploymentRecord]:
    """Each running (or down) deployment checked, with one engine client for them all."""
    watched = [r for r in records if r.status in ("running", "down")]
    client, no_engine = None, ""
    if any(r.kind == "container" for r in watched):
        try:
            client = engine.connect(timeout_s=3)
        except engine.EngineError as exc:
            no_engine = str(exc)
    try:
        return [_check(ws, r, client, no_engine) if r in watched else r for r in records]
    finally:
        if client is not None:
            client.close()


def _check(
    ws: Workspace, record: DeploymentRecord, client: DockerClient | None, no_engine: str
) -> DeploymentRecord:
    if record.kind == "container" and no_engine:
        reason = no_engine
    else:
        reason = exited(ws, record, client) or ""
    if not reason:
        try:
            get_json(f"{record.url}/health", token=record.token, timeout_s=2)
        except NotAnswering as exc:
            reason = str(exc)
    if reason and record.status == "running":
        repo.move_deployment(ws.db, record.name, ("running",), status="down", error=reason)
    elif not reason and record.status == "down":
        repo.move_deployment(ws.db, record.name, ("down",), status="running", error=None)
    else:
        return record
    return repo.get_deployment(ws.db, record.name)


def get_deployment(ws: Workspace, name: str) -> DeploymentRecord:
    return refresh(ws, repo.get_deployment(ws.db, name))


def stop_deployment(ws: Workspace, name: str) -> DeploymentRecord:
    record = repo.get_deployment(ws.db, name)
    if not repo.move_deployment(ws.db, name, ("running", "down", "starting"), status="stopping"):
        raise WorkbenchError(f"deployment {name} is {record.status}, not running")
    take_down(ws, record)
    repo.move_deployment(ws.db, name, ("stopping",), status="stopped", error=None)
    return repo.get_deployment(ws.db, name)


def start_deployment(ws: Workspace, name: str, wait_s: float = 60.0) -> DeploymentRecord:
    """Start a stopped (or failed, or down) deployment again on its port and version."""
    record = repo.get_deployment(ws.db, name)
    if record.status in ("running", "starting", "stopping"):
        raise WorkbenchError(f"deployment {name} is {record.status}; stop it first")
    if not port_is_free(record.port, HOST):
        raise WorkbenchError(f"port {record.port} is already in use on {HOST}")
    if not repo.move_deployment(ws.db, name, (record.status,), status="starting", error=None):
        raise WorkbenchError(f"deployment {name} changed meanwhile; try again")
    return bring_up(ws, name, wait_s)


def remove_deployment(ws: Workspace, name: str) -> None:
    """Stop it if needed, remove the container and its log volume, forget the record."""
    record = repo.get_deployment(ws.db, name)
    client = None
    try:
        if record.kind == "container":
            client = engine.connect()
            if record.container_id:
                runtime.remove_container(client, record.container_id, volume=True)
        else:
            process = process_of(record)
            if process is not None:
                supervisor.stop(process, grace_s=10)
    finally:
        if client is not None:
            client.close()
    repo.delete_deployment(ws.db, name)


def deployment_logs(ws: Workspace, name: str, tail: int = 200) -> str:
    record = repo.get_deployment(ws.db, name)
    if record.kind == "container" and record.container_id:
        client = engine.connect()
        try:
            return runtime.container_logs(client, record.container_id, tail=tail)
        finally:
            client.close()
    if record.log_path and Path(record.log_path).exists():
        lines = Path(record.log_path).read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])
    return ""
