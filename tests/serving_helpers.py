"""A real model bundle from a real small sweep, and a real serving process on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.datasets.versions import register_dataset
from pipelines.runs.models import load_run_bundle
from pipelines.serving.bundle import write_bundle
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.artifacts import ArtifactStore
from storage.handle import open_workspace
from tests.sweep_helpers import SAMPLES

ROOT = Path(__file__).resolve().parent.parent
CHURN = SAMPLES / "churn_v1.csv"
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "payment_method"]
FEATURES += ["support_tickets", "region"]
CLEAN_STOP = -signal.SIGTERM


def churn_sweep(root: Path) -> int:
    """A finished LightGBM sweep on the churn sample keeping one model; returns its run id."""
    ws = open_workspace(root)
    try:
        register_dataset(ws, CHURN, name="churn", target="churned")
        spec = {"dataset": "churn", "model": "lightgbm", "trials": 1, "folds": 2}
        created = sweeps.create_sweep(ws, {**spec, "keep_top": 1, "pruner": "none"})
        run_worker(ws, created.sweep.id)
        [kept] = [r for r in repo.list_runs(ws.db, sweep_id=created.sweep.id) if r.artifact_sha]
        return kept.id
    finally:
        ws.close()


def export_bundle(root: Path, run_id: int, folder: Path) -> Path:
    """The run's stored model and manifest as a bundle folder, as an image carries it."""
    ws = open_workspace(root)
    try:
        manifest, _ = load_run_bundle(ws, run_id)
        assert manifest is not None
        run = repo.get_run(ws.db, run_id)
        data = ArtifactStore(ws.paths.artifacts).get_bytes(run.artifact_sha or "")
        return write_bundle(folder, data, manifest)
    finally:
        ws.close()


def two_versions(root: Path) -> tuple[Path, Path]:
    """One real churn model as two bundles, versions "1" and "2" of churn (a canary's pair)."""
    import shutil

    from pipelines.serving.served import write_metadata

    run_id = churn_sweep(root / "ws")
    primary = export_bundle(root / "ws", run_id, root / "v1")
    challenger = Path(shutil.copytree(primary, root / "v2"))
    write_metadata(primary, {"name": "churn", "version": "1"})
    write_metadata(challenger, {"name": "churn", "version": "2"})
    return primary, challenger


def churn_rows(count: int) -> list[dict[str, Any]]:
    """The first rows of the sample as JSON records (numbers parsed exactly, gaps as null)."""
    import pandas as pd

    frame = pd.read_csv(CHURN, float_precision="round_trip", nrows=count)[FEATURES]
    frame = frame.astype(object).where(frame.notna(), None)
    return [dict(zip(FEATURES, row, strict=True)) for row in frame.itertuples(index=False)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m pipelines.serving` in its own process, answering on a free loopback port."""

    def __init__(
        self,
        bundle: Path,
        log_dir: Path,
        *,
        token: str | None = None,
        max_body: int = 0,
        extra: tuple[str, ...] = (),
        cwd: Path = ROOT,
    ) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
        if token:
            env["WORKBENCH_SERVE_TOKEN"] = token
        command = [sys.executable, "-m", "pipelines.serving", "--bundle", str(bundle)]
        command += ["--log-dir", str(log_dir), "--port", str(self.port)]
        command += ["--max-body", str(max_body)] if max_body else []
        command += list(extra)
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.wait_healthy()

    def wait_healthy(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if self.call("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not become healthy")

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, parsed JSON answer, headers); `body` is sent as JSON unless it is bytes."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
            connection.request(
                method, path, data, {"Content-Type": "application/json"} | (headers or {})
            )
            response = connection.getresponse()
            raw = response.read()
            answer = json.loads(raw) if raw else None
            return response.status, answer, {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()

    def raw(self, data: bytes) -> bytes:
        """Send raw bytes on one connection and return what comes back."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(data)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"}" in chunk:
                    break
            return b"".join(chunks)

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM (a clean stop) and wait; returns the exit code, which is CLEAN_STOP when
        the server shut down (uvicorn re-raises the signal after shutting down)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream:
                    stream.close()
