"""Where a deployment runs: a container from its serving image (host network, a named
volume for the request log), or `python -m pipelines.serving` as a supervised local
process when asked (`--local`) or when no engine exists.

Both serve the same app on 127.0.0.1:PORT; the token travels in the environment, never in
argv or a label, because both are readable by every local user."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines import supervisor
from pipelines.packaging.engine import EngineError

if TYPE_CHECKING:
    from docker import DockerClient

TOKEN_VARIABLE = "WORKBENCH_SERVE_TOKEN"
CONTAINER_PREFIX = "workbench-"


@dataclass(frozen=True)
class ContainerState:
    status: str  # running | exited | missing
    detail: str = ""  # why it exited (exit code, OOM), for a down deployment


def container_name(deployment: str) -> str:
    return f"{CONTAINER_PREFIX}{deployment}"


def start_container(
    client: DockerClient,
    image: str,
    deployment: str,
    *,
    port: int,
    host: str = "127.0.0.1",
    token: str | None = None,
    challenger: Path | None = None,
    share: float | None = None,
) -> str:
    """Run `image` for `deployment`, replacing a stopped container of the same name;
    returns the container id. The request log lives in the volume `workbench-NAME-log`; a
    canary's challenger bundle is mounted read-only at /challenger."""
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound

    name = container_name(deployment)
    try:
        with contextlib.suppress(NotFound):
            client.containers.get(name).remove(force=True)
        environment = {"WORKBENCH_PORT": str(port)}
        if token:
            environment[TOKEN_VARIABLE] = token
        command = ["--host", host, "--port", str(port)]
        volumes = {f"{name}-log": {"bind": "/data", "mode": "rw"}}
        if challenger is not None:
            command += ["--challenger", "/challenger", "--share", str(share)]
            volumes[str(challenger)] = {"bind": "/challenger", "mode": "ro"}
        container = client.containers.run(
            image,
            command=command,
            name=name,
            detach=True,
            network_mode="host",
            environment=environment,
            volumes=volumes,
            labels={"org.workbench.deployment": deployment},
        )
    except ImageNotFound:
        raise EngineError(
            f"no image {image} in the engine (build it with workbench image build)"
        ) from None
    except (APIError, DockerException) as exc:
        raise EngineError(f"cannot start {name}: {_short(exc)}") from None
    return str(container.id)


def container_state(client: DockerClient, container_id: str) -> ContainerState:
    from docker.errors import DockerException, NotFound

    try:
        container = client.containers.get(container_id)
    except NotFound:
        return ContainerState("missing", "the container was removed")
    except DockerException as exc:
        raise EngineError(f"cannot inspect container {container_id[:12]}: {_short(exc)}") from None
    state = container.attrs.get("State", {})
    if state.get("Running"):
        return ContainerState("running")
    detail = f"exited with code {state.get('ExitCode')}"
    if state.get("OOMKilled"):
        detail += " (out of memory)"
    return ContainerState("exited", detail)


def stop_container(client: DockerClient, container_id: str, grace_s: int = 10) -> None:
    from docker.errors import DockerException, NotFound

    try:
        client.containers.get(container_id).stop(timeout=grace_s)
    except NotFound:
        return
    except DockerException as exc:
        raise EngineError(f"cannot stop container {container_id[:12]}: {_short(exc)}") from None


def remove_container(client: DockerClient, container_id: str, *, volume: bool = False) -> None:
    from docker.errors import DockerException, NotFound

    try:
        container = client.containers.get(container_id)
        name = container.name
        container.remove(force=True)
        if volume:
            client.volumes.get(f"{name}-log").remove(force=True)
    except NotFound:
        return
    except DockerException as exc:
        raise EngineError(f"cannot remove container {container_id[:12]}: {_short(exc)}") from None


def container_logs(client: DockerClient, container_id: str, tail: int = 200) -> str:
    from docker.errors import DockerException, NotFound

    try:
        data = client.containers.get(container_id).logs(tail=tail)
    except NotFound:
        return ""
    except DockerException as exc:
        raise EngineError(f"cannot read the logs of {container_id[:12]}: {_short(exc)}") from None
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def start_local(
    bundle: Path,
    log_dir: Path,
    log_path: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    token: str | None = None,
    challenger: Path | None = None,
    share: float | None = None,
) -> supervisor.Supervised:
    """The same app as a supervised process of this machine's Python."""
    argv = [sys.executable, "-m", "pipelines.serving", "--bundle", str(bundle)]
    argv += ["--log-dir", str(log_dir), "--host", host, "--port", str(port)]
    if challenger is not None:
        argv += ["--challenger", str(challenger), "--share", str(share)]
    secrets = {TOKEN_VARIABLE: token} if token else None
    return supervisor.spawn(argv, log_path=log_path, secrets=secrets)


def _short(exc: Any) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return " ".join(text.split())[:200]
