"""`workbench image build` as a supervised process: the build is recorded, runs in its own
session with its log under the workspace (so it survives the TUI closing), and whoever
started it follows the log until the record says it ended.

A build whose process died without finishing (killed, machine rebooted) is marked failed
the next time anyone looks, with the last lines of its log, so no record says "building"
forever."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipelines import supervisor
from pipelines.packaging import engine
from pipelines.packaging.images import (
    BuiltImage,
    ImageSource,
    build_serving_image,
    default_tag,
)
from pipelines.registry.versions import load_model_version, resolve
from storage import deployments as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import ImageBuildRecord


def image_source(ws: Workspace, ref: str) -> ImageSource:
    """The version `ref` names, its bytes verified against the registry's sha256."""
    loaded = load_model_version(ws, ref)
    record = loaded.record
    model_bytes = ws.artifacts.get_bytes(record.bundle_sha256)
    metadata = {
        "metrics": record.metrics,
        "lineage": record.lineage,
        "params": record.params,
        "description": record.description,
        "registered_at": record.created_at.isoformat(timespec="seconds"),
    }
    return ImageSource(record.model_name, record.version, model_bytes, loaded.manifest, metadata)


def start_build(
    ws: Workspace,
    ref: str,
    *,
    tag: str | None = None,
    base: str | None = None,
    wheelhouse: Path | None = None,
) -> ImageBuildRecord:
    """Record a build of `ref` and start its process; no engine is refused here, at once."""
    record = resolve(ws, ref)
    source_tag = tag or default_tag(record.model_name, record.version)
    engine.connect().close()
    if wheelhouse is not None and not wheelhouse.is_dir():
        raise WorkbenchError(f"{wheelhouse}: no such folder (make it with `pip download`)")
    context = ws.paths.builds / f"{record.model_name}-v{record.version}"
    build_id = repo.add_build(
        ws.db,
        model_version_id=record.id,
        tag=source_tag,
        base=base or ws.settings.base_image,
        context_path=str(context),
        log_path="",
    )
    log = ws.paths.logs / f"image-build-{build_id}.log"
    command = [sys.executable, "-m", "workbench", "--workspace", str(ws.root), "image"]
    command += ["build-worker", str(build_id)]
    if wheelhouse is not None:
        command += ["--offline", str(wheelhouse.resolve())]
    secrets = {supervisor.DATABASE_URL_ENV: ws.settings.database_url}
    repo.update_build(ws.db, build_id, log_path=str(log))
    try:
        process = supervisor.spawn(command, log_path=log, secrets=secrets, cwd=Path.cwd())
    except OSError as exc:
        repo.finish_build(ws.db, build_id, "failed", error=f"cannot start the build ({exc})")
        raise WorkbenchError(f"cannot start the build process ({exc})") from None
    repo.update_build(
        ws.db,
        build_id,
        pid=process.pid,
        process_started_at=process.started_at,
        host=process.host,
    )
    return repo.get_build(ws.db, build_id)


def run_build(ws: Workspace, build_id: int, wheelhouse: Path | None = None) -> BuiltImage | None:
    """The build process's work: build, print the log to stdout (the log file), record."""
    build = repo.get_build(ws.db, build_id)
    try:
        source = image_source(ws, build.model_ref)
        built = build_serving_image(
            Path(build.context_path).parent,
            source,
            tag=build.tag,
            base=build.base,
            wheelhouse=wheelhouse,
            on_line=lambda line: print(line, flush=True),
        )
    except (WorkbenchError, ValueError, RuntimeError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", flush=True)
        repo.finish_build(ws.db, build_id, "failed", error=message)
        return None
    repo.finish_build(
        ws.db, build_id, "built", image_id=built.image_id, size_bytes=built.size_bytes
    )
    return built


def refresh_build(ws: Workspace, build: ImageBuildRecord) -> ImageBuildRecord:
    """Mark a `building` record whose process is gone as failed, with its log's last line."""
    if build.status != "building" or build.pid is None:
        return build
    process = supervisor.Supervised(
        build.pid, build.process_started_at, build.host or "", build.log_path
    )
    if supervisor.is_alive(process):
        return build
    last = last_log_line(Path(build.log_path)) or "no output"
    repo.finish_build(
        ws.db, build.id, "failed", error=f"the build process ended without finishing ({last})"
    )
    return repo.get_build(ws.db, build.id)


def list_builds(ws: Workspace) -> list[ImageBuildRecord]:
    return [refresh_build(ws, build) for build in repo.list_builds(ws.db)]


def get_build(ws: Workspace, build_id: int) -> ImageBuildRecord:
    return refresh_build(ws, repo.get_build(ws.db, build_id))


def follow_build(
    ws: Workspace,
    build_id: int,
    on_line: Callable[[str], None],
    *,
    poll_s: float = 0.2,
    timeout_s: float | None = None,
) -> ImageBuildRecord:
    """Stream the build's log to `on_line` until its record says it ended."""
    build = repo.get_build(ws.db, build_id)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    offset = 0
    while True:
        offset = supervisor.read_new_lines(Path(build.log_path), offset, on_line)
        build = refresh_build(ws, repo.get_build(ws.db, build_id))
        if build.status != "building":
            supervisor.read_new_lines(Path(build.log_path), offset, on_line)
            return build
        if deadline is not None and time.monotonic() > deadline:
            return build
        time.sleep(poll_s)


def log_tail(path: Path, lines: int, scan_bytes: int = 64 * 1024) -> list[str]:
    """The last non-empty lines of a log (a missing or unreadable one has none)."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, path.stat().st_size - scan_bytes))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def last_log_line(path: Path) -> str:
    last = log_tail(path, 1, scan_bytes=4096)
    return " ".join(last[0].split())[:200] if last else ""


def remove_image(ws: Workspace, tag: str) -> None:
    """Remove an image from the engine and its build records; refused while a deployment
    that is not stopped runs it."""
    users = [
        d.name
        for d in repo.list_deployments(ws.db)
        if d.image_tag == tag and d.status not in ("stopped", "failed")
    ]
    if users:
        raise WorkbenchError(f"image {tag} is used by deployment {', '.join(users)}; stop it first")
    known = [b for b in repo.list_builds(ws.db) if b.tag == tag]
    client = engine.connect()
    try:
        if engine.image_info(client, tag) is not None:
            engine.remove_image(client, tag)
        elif not known:
            raise WorkbenchError(f"no image {tag} (see `workbench image ls`)")
    finally:
        client.close()
    repo.delete_builds(ws.db, tag)
