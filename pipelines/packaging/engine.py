"""The Docker engine, through the `docker` SDK (Engine API), with every failure said in one
line: no engine, an engine that stops mid-build, a failing build step.

Builds and containers use the host's network: the engines this project is tested on run
without a bridge (see `.ci/docker-engine.sh`), and pip inside a build reaches the same
package index as the host."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError

if TYPE_CHECKING:
    from docker import DockerClient

LABEL_PREFIX = "org.workbench."
MODEL_LABEL = LABEL_PREFIX + "model"


class EngineError(WorkbenchError):
    """The Docker engine cannot do what was asked; the message is one line."""


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: list[str]
    size_bytes: int
    created: str
    labels: dict[str, str]


def connect(timeout_s: float = 10) -> DockerClient:
    """A client for the engine DOCKER_HOST names (or the local socket), checked with a ping."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency
        raise EngineError("the docker SDK is not installed (pip install docker)") from None
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except DockerException as exc:
        reason = _reason(exc)
        message = f"no Docker engine answers ({reason}); start one or use --local"
        raise EngineError(message) from None
    return client


def build(
    client: DockerClient,
    folder: str,
    tag: str,
    *,
    buildargs: Mapping[str, str],
    labels: Mapping[str, str],
    on_line: Callable[[str], None],
) -> str:
    """Build the context in `folder` as `tag`, streaming each log line to `on_line`;
    returns the image id. A failing step or a lost engine raises EngineError."""
    from docker.errors import DockerException
    from urllib3.exceptions import HTTPError as StreamBroken  # the SDK streams through urllib3

    image_id = ""
    try:
        for chunk in _stream(client, folder, tag, buildargs, labels):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise EngineError(f"build of {tag} failed: {_one_line(detail)}")
            text = chunk.get("stream")
            if text:
                for line in text.splitlines():
                    if line.strip():
                        on_line(line.rstrip())
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
    except DockerException as exc:
        raise EngineError(f"build of {tag} stopped: {_reason(exc)}") from None
    except (OSError, StreamBroken) as exc:  # the engine went away mid-stream
        first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        reason = _one_line(first)
        raise EngineError(
            f"build of {tag} stopped: the engine connection broke ({reason})"
        ) from None
    if not image_id:
        try:
            image_id = client.images.get(tag).id
        except DockerException as exc:
            raise EngineError(f"build of {tag} ended without an image ({_reason(exc)})") from None
    return image_id


def ensure_image(client: DockerClient, ref: str) -> None:
    """Pull `ref` unless the engine has it; a base that is neither there nor reachable is
    said as such, not as the registry's DNS error halfway through a build."""
    from docker.errors import DockerException

    if image_info(client, ref) is not None:
        return
    try:
        client.images.pull(ref)
    except DockerException as exc:
        raise EngineError(
            f"base image {ref} is not in the engine and cannot be pulled ({_reason(exc)}); "
            "build or load it first, or choose another (--base, or base_image in settings.toml)"
        ) from None


def image_info(client: DockerClient, ref: str) -> ImageInfo | None:
    from docker.errors import DockerException, ImageNotFound

    try:
        image = client.images.get(ref)
    except ImageNotFound:
        return None
    except DockerException as exc:
        raise EngineError(f"cannot inspect image {ref}: {_reason(exc)}") from None
    return _info(image)


def list_images(client: DockerClient) -> list[ImageInfo]:
    """Every image this project built (they carry the model label)."""
    from docker.errors import DockerException

    try:
        images = client.images.list(filters={"label": MODEL_LABEL})
    except DockerException as exc:
        raise EngineError(f"cannot list images: {_reason(exc)}") from None
    return [_info(image) for image in images]


def remove_image(client: DockerClient, ref: str) -> None:
    from docker.errors import DockerException, ImageNotFound

    try:
        client.images.remove(ref)
    except ImageNotFound:
        raise EngineError(f"no image {ref} in the engine") from None
    except DockerException as exc:
        raise EngineError(f"cannot remove image {ref}: {_reason(exc)}") from None


def layer_sizes(client: DockerClient, ref: str) -> list[tuple[str, int]]:
    """(instruction, bytes) per layer, newest last: where an image's size comes from."""
    from docker.errors import DockerException

    try:
        history = client.api.history(ref)
    except DockerException as exc:
        raise EngineError(f"cannot read the layers of {ref}: {_reason(exc)}") from None
    rows = [(_one_line(h.get("CreatedBy", ""))[:120], int(h.get("Size") or 0)) for h in history]
    return list(reversed(rows))


def _stream(
    client: DockerClient,
    folder: str,
    tag: str,
    buildargs: Mapping[str, str],
    labels: Mapping[str, str],
) -> Iterator[dict[str, Any]]:
    yield from client.api.build(
        path=folder,
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        network_mode="host",
        buildargs=dict(buildargs),
        labels=dict(labels),
    )


def _info(image: Any) -> ImageInfo:
    attrs = image.attrs
    return ImageInfo(
        id=image.id,
        tags=list(image.tags),
        size_bytes=int(attrs.get("Size") or 0),
        created=str(attrs.get("Created") or ""),
        labels=dict(attrs.get("Config", {}).get("Labels") or {}),
    )


def _reason(exc: BaseException) -> str:
    """The useful end of a docker-py message (it nests urllib3 and requests errors)."""
    text = _one_line(str(getattr(exc, "explanation", None) or exc))
    for marker in ("Connection refused", "No such file or directory", "Permission denied"):
        if marker in text:
            return marker.lower()
    return text[:200]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
