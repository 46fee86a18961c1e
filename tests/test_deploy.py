"""Images and deployments end to end on a real Docker engine: a model a real sweep trained,
registered, built by `workbench image build` (a supervised process), run as a container on
127.0.0.1, killed from outside, started, stopped, removed; and the failures each said in
one line with the record marked failed or down."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.deploy import deployments
from pipelines.deploy.health import free_port
from pipelines.packaging import builds
from pipelines.registry.versions import register_model
from pipelines.runs.details import list_runs
from storage.errors import WorkbenchError
from storage.handle import Workspace, open_workspace
from tests.docker_helpers import BASE_IMAGE, TrainedModel, docker_client, trained_wine
from tests.sweep_helpers import SAMPLES, wait_until

__all__ = ["docker_client", "trained_wine"]  # fixtures
pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Built:
    root: Path
    tag: str


def workbench(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env |= {"WORKBENCH_WORKSPACE": str(root), "WORKBENCH_BASE_IMAGE": BASE_IMAGE}
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def built(
    docker_client: Any, trained_wine: TrainedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """wine:1 registered and built into an image by the real command."""
    root = tmp_path_factory.mktemp("deploy") / "ws"
    shutil.copytree(trained_wine.root, root)
    ws = open_workspace(root)
    try:
        register_model(ws, trained_wine.run_id, "wine", alias="production")
        other = next(r.id for r in list_runs(ws) if r.artifact_sha and r.id != trained_wine.run_id)
        register_model(ws, other, "wine")  # wine:2, the canary's challenger
    finally:
        ws.close()
    result = workbench(root, "image", "build", "wine@production", "--tag", "workbench-test/wine:v1")
    assert "built workbench-test/wine:v1" in result.stderr
    yield Built(root, "workbench-test/wine:v1")
    docker_client.images.remove("workbench-test/wine:v1", force=True)


@pytest.fixture
def ws(built: Built) -> Iterator[Workspace]:
    workspace = open_workspace(built.root)
    yield workspace
    for record in deployments.list_deployments(workspace, check=False):
        deployments.remove_deployment(workspace, record.name)
    workspace.close()


def wine_records(count: int) -> list[dict[str, float]]:
    with (SAMPLES / "wine.csv").open() as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [{k: float(v) for k, v in row.items() if k != "cultivar"} for row in rows]


def post(url: str, body: Any, token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_the_build_is_recorded_with_its_image_and_log(built: Built, docker_client: Any) -> None:
    listed = json.loads(workbench(built.root, "image", "ls", "--json").stdout)
    build = next(b for b in listed if b["tag"] == built.tag)
    assert build["status"] == "built" and build["model_ref"] == "wine:1"
    assert build["size_bytes"] > 100e6 and build["image_id"].startswith("sha256:")
    assert "Successfully built" in Path(build["log_path"]).read_text()
    labels = docker_client.images.get(built.tag).attrs["Config"]["Labels"]
    assert labels["org.workbench.model"] == "wine" and labels["org.workbench.version"] == "1"


def test_a_container_serves_is_seen_down_when_killed_and_starts_again(
    ws: Workspace, docker_client: Any
) -> None:
    deployed = deployments.deploy(ws, "wine@production", port=free_port(), token="s3cret")
    record = deployed.record
    assert (record.kind, record.status, record.model_ref) == ("container", "running", "wine:1")
    answer = post(f"{record.url}/predict", wine_records(3), token="s3cret")
    assert len(answer["predictions"]) == 3 and str(answer["version"]) == "1"
    container = docker_client.containers.get(record.container_id)
    assert container.attrs["Config"]["User"] == "serve"
    assert "s3cret" not in json.dumps(container.attrs["Config"]["Cmd"])  # the token is env only

    container.kill()
    wait_until(lambda: deployments.get_deployment(ws, "wine").status == "down", "marked down", 15)
    down = deployments.get_deployment(ws, "wine")
    assert "exited with code 137" in (down.error or "")

    again = deployments.start_deployment(ws, "wine")
    assert again.status == "running"
    assert post(f"{again.url}/predict", wine_records(1), token="s3cret")["predictions"]
    stopped = deployments.stop_deployment(ws, "wine")
    assert stopped.status == "stopped"
    container_id = again.container_id
    deployments.remove_deployment(ws, "wine")
    assert not [c for c in docker_client.containers.list(all=True) if c.id == container_id]
    with pytest.raises(WorkbenchError, match="no deployment named 'wine'"):
        deployments.get_deployment(ws, "wine")


def test_a_port_in_use_is_refused_before_anything_is_recorded(ws: Workspace) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WorkbenchError, match=f"port {port} is already in use"):
            deployments.deploy(ws, "wine:1", port=port)
    assert deployments.list_deployments(ws) == []


def test_without_an_engine_it_runs_locally_says_so_and_a_killed_server_is_down(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    deployed = deployments.deploy(ws, "wine:1", port=free_port(), name="wine-local")
    assert deployed.notice and deployed.notice.startswith("no Docker engine answers")
    assert deployed.record.kind == "local" and deployed.record.status == "running"
    assert post(f"{deployed.record.url}/predict", wine_records(2))["predictions"]
    os.killpg(deployed.record.pid or 0, signal.SIGKILL)
    wait_until(lambda: deployments.get_deployment(ws, "wine-local").status == "down", "down", 15)
    with pytest.raises(WorkbenchError, match="no Docker engine answers"):
        builds.start_build(ws, "wine:1")
    assert [b.tag for b in builds.list_builds(ws)] == ["workbench-test/wine:v1"]  # none added


def test_a_failing_build_is_recorded_failed_and_the_command_says_why(built: Built) -> None:
    result = workbench(
        built.root,
        "image",
        "build",
        "wine:1",
        "--base",
        "workbench-test/no-such-base:0",
        "--tag",
        "workbench-test/broken:v1",
        check=False,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("workbench: error: build ")
        and "no-such-base:0 is not in the engine" in last
    )
    listed = json.loads(workbench(built.root, "image", "ls", "--json").stdout)
    broken = next(b for b in listed if b["tag"] == "workbench-test/broken:v1")
    assert broken["status"] == "failed" and "no-such-base" in broken["error"]


def test_a_killed_build_process_is_marked_failed(ws: Workspace) -> None:
    build = builds.start_build(ws, "wine:1", tag="workbench-test/killed:v1", base=BASE_IMAGE)
    assert build.pid is not None
    os.killpg(build.pid, signal.SIGKILL)
    wait_until(lambda: builds.get_build(ws, build.id).status == "failed", "marked failed", 15)
    assert "ended without finishing" in (builds.get_build(ws, build.id).error or "")


def test_a_tampered_bundle_is_refused_and_the_deployment_marked_failed(
    ws: Workspace, built: Built
) -> None:
    from pipelines.registry.versions import resolve

    record = resolve(ws, "wine:1")
    path = ws.artifacts.path_for(record.bundle_sha256)
    original = path.read_bytes()
    path.chmod(0o600)
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        with pytest.raises(WorkbenchError) as caught:
            deployments.deploy(ws, "wine:1", local=True, port=free_port(), name="tampered")
    finally:
        path.write_bytes(original)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "refusing to load it" in message
    assert deployments.get_deployment(ws, "tampered").status == "failed"


def test_a_canary_answers_its_share_and_promote_and_rollback_switch_versions(
    ws: Workspace, docker_client: Any
) -> None:
    from pipelines.deploy import canary

    record = deployments.deploy(ws, "wine:1", port=free_port(), name="wine-canary").record
    rows = wine_records(1) * 40

    def versions() -> list[str]:
        return [str(post(f"{record.url}/predict", row)["version"]) for row in rows]

    running = canary.start_canary(ws, "wine-canary", "wine:2", 0.25)
    assert (running.challenger_ref, running.canary_share, running.status) == (
        "wine:2",
        0.25,
        "running",
    )
    answered = versions()
    assert answered.count("2") == 10 and answered.count("1") == 30
    assert set(versions()) == {"1", "2"}

    back = canary.rollback(ws, "wine-canary")
    assert back.challenger_ref is None and set(versions()) == {"1"}

    canary.start_canary(ws, "wine-canary", "wine:2", 0.5)
    with pytest.raises(WorkbenchError, match="no image is built for wine:2"):
        canary.promote(ws, "wine-canary")
    assert deployments.get_deployment(ws, "wine-canary").challenger_ref == "wine:2"  # unchanged
    build = builds.start_build(ws, "wine:2", tag="workbench-test/wine:v2", base=BASE_IMAGE)
    assert builds.follow_build(ws, build.id, lambda line: None).status == "built"
    try:
        promoted = canary.promote(ws, "wine-canary")
        assert promoted.model_ref == "wine:2" and promoted.image_tag == "workbench-test/wine:v2"
        assert set(versions()) == {"2"}
        with pytest.raises(WorkbenchError, match="runs no canary"):
            canary.rollback(ws, "wine-canary")
    finally:
        deployments.remove_deployment(ws, "wine-canary")
        docker_client.images.remove("workbench-test/wine:v2", force=True)


def test_a_server_that_stops_answering_is_down_and_up_again_when_it_answers(
    ws: Workspace,
) -> None:
    record = deployments.deploy(ws, "wine:1", local=True, port=free_port(), name="frozen").record
    assert record.pid is not None
    os.kill(record.pid, signal.SIGSTOP)  # alive, but answering nothing
    try:
        down = deployments.get_deployment(ws, "frozen")
        assert down.status == "down" and "does not answer" in (down.error or "")
    finally:
        os.kill(record.pid, signal.SIGCONT)
    wait_until(lambda: deployments.get_deployment(ws, "frozen").status == "running", "up", 15)


def test_an_offline_build_installs_from_a_wheelhouse_only(
    ws: Workspace, docker_client: Any, tmp_path: Path
) -> None:
    from pipelines.packaging.context import pinned_requirements
    from pipelines.registry.versions import load_model_version

    manifest = load_model_version(ws, "wine:1").manifest
    requirements = tmp_path / "requirements.txt"
    pins = pinned_requirements(manifest)
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
    wheelhouse = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary=:all:",
            "-d",
            str(wheelhouse),
            "-r",
            str(requirements),
        ],
        check=True,
        timeout=600,
    )
    build = builds.start_build(
        ws, "wine:1", tag="workbench-test/offline:v1", base=BASE_IMAGE, wheelhouse=wheelhouse
    )
    done = builds.follow_build(ws, build.id, lambda line: None)
    try:
        assert done.status == "built", done.error
        history = docker_client.api.history("workbench-test/offline:v1")
        install = next(h["CreatedBy"] for h in history if "pip install" in h["CreatedBy"])
        assert "PIP_FLAGS=--no-index --find-links /tmp/wheels" in install  # no index asked
    finally:
        docker_client.images.remove("workbench-test/offline:v1", force=True)
