"""The engine going away in the middle of a build, as the build process sees it.

A real unix-socket relay stands between the build process and the real engine (DOCKER_HOST
points at it). It passes everything through until the engine has answered the first lines of
the build stream, then drops every connection and stops listening: to the client the engine
is gone mid-build, deterministically, while the real engine (which cancels a build whose
client left) stays up for the other tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.packaging import builds
from pipelines.packaging.engine import image_info
from pipelines.registry.versions import register_model
from storage.handle import open_workspace
from tests.docker_helpers import BASE_IMAGE, REQUIRE, TrainedModel, docker_client, trained_wine
from tests.sweep_helpers import wait_until

__all__ = ["docker_client", "trained_wine"]  # fixtures
pytestmark = pytest.mark.docker

TAG = "workbench-test/engine-loss:v1"


class Relay:
    """Forwards unix-socket connections to the engine until the build stream has started."""

    def __init__(self, listen: Path, engine: str) -> None:
        self.engine = engine
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(listen))
        self.server.listen(16)
        self.cut = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.cut.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine)
            with self._lock:
                self._sockets += [client, upstream]
            is_build = threading.Event()
            threading.Thread(target=self._pump, args=(client, upstream, is_build, True)).start()
            threading.Thread(target=self._pump, args=(upstream, client, is_build, False)).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, is_build: threading.Event, up: bool
    ) -> None:
        try:
            while data := src.recv(65536):
                if up and b"/build?" in data.split(b"\r\n", 1)[0]:
                    is_build.set()
                dst.sendall(data)
                if not up and is_build.is_set() and b"Step" in data:
                    self.drop()
                    return
        except OSError:
            return

    def drop(self) -> None:
        self.cut.set()
        with self._lock:
            for sock in [self.server, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture
def relay(tmp_path: Path, docker_client: Any) -> Iterator[Relay]:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        message = f"the relay needs a unix-socket engine, not {host}"
        pytest.fail(message) if REQUIRE else pytest.skip(message)
    relay = Relay(tmp_path / "engine.sock", host.removeprefix("unix://"))
    docker_client.images.remove(TAG, force=True) if image_info(docker_client, TAG) else None
    yield relay
    relay.drop()
    docker_client.images.remove(TAG, force=True) if image_info(docker_client, TAG) else None


def test_an_engine_lost_mid_build_fails_the_build_in_one_line(
    docker_client: Any, trained_wine: TrainedModel, relay: Relay, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(trained_wine.root, root)
    ws = open_workspace(root)
    try:
        register_model(ws, trained_wine.run_id, "wine")
    finally:
        ws.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env |= {
        "WORKBENCH_WORKSPACE": str(root),
        "WORKBENCH_BASE_IMAGE": BASE_IMAGE,
        "DOCKER_HOST": f"unix://{tmp_path / 'engine.sock'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "image", "build", "wine:1", "--tag", TAG],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert relay.cut.is_set(), result.stderr[-3000:]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    said = result.stderr.strip().splitlines()[-1]  # after the streamed log, the verdict
    assert said.startswith("workbench: error: build 1 failed: build of " + TAG + " stopped")
    assert "engine connection broke" in said, said

    ws = open_workspace(root)
    try:
        wait_until(lambda: builds.list_builds(ws)[0].status != "building", "the build ended", 30)
        (build,) = builds.list_builds(ws)
        assert build.status == "failed" and "\n" not in (build.error or "")
        assert "stopped" in (build.error or ""), build.error
    finally:
        ws.close()
    assert image_info(docker_client, TAG) is None  # the engine cancelled it: nothing tagged
