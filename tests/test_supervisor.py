"""The process supervisor on real processes: identity by pid and creation time, stopping a
whole group, secrets kept off the command line, output in the log."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import psutil
import pytest

from pipelines import supervisor
from pipelines.supervisor import Supervised

SLEEPER = "import time, sys; print('started', flush=True); time.sleep(60)"
PARENT_OF_TWO = (
    "import subprocess, sys, time; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print(child.pid, flush=True); time.sleep(60)"
)
IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def wait_for_text(path: Path, text: str, timeout_s: float = 10) -> str:
    deadline = time.monotonic() + timeout_s
    while text not in (content := path.read_text(encoding="utf-8") if path.exists() else ""):
        assert time.monotonic() < deadline, f"{path} never showed {text!r}: {content!r}"
        time.sleep(0.05)
    return content


def test_spawn_records_identity_and_stop_ends_it(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sleeper.log"
    process = supervisor.spawn([sys.executable, "-c", SLEEPER], log_path=log)
    assert process.is_local and process.started_at is not None
    wait_for_text(log, "started")
    assert supervisor.is_alive(process)
    assert psutil.Process(process.pid).create_time() == pytest.approx(process.started_at)
    assert supervisor.stop(process, grace_s=5)
    assert not supervisor.is_alive(process)
    assert not supervisor.stop(process)  # already gone: nothing to do


def test_a_reused_pid_is_never_taken_for_ours(tmp_path: Path) -> None:
    """A record whose pid now belongs to another program (its creation time differs) is
    gone, and stopping it signals nothing."""
    process = supervisor.spawn([sys.executable, "-c", SLEEPER], log_path=tmp_path / "a.log")
    wait_for_text(tmp_path / "a.log", "started")
    stale = dataclasses.replace(process, started_at=process.started_at - 3600)
    assert not supervisor.is_alive(stale)
    assert not supervisor.stop(stale)
    assert not supervisor.kill(stale)
    time.sleep(0.2)
    assert supervisor.is_alive(process)  # the real one was not touched
    supervisor.kill(process)
    assert supervisor.wait_gone(process, 5)


def test_stop_ends_the_whole_group_and_escalates_to_sigkill(tmp_path: Path) -> None:
    log = tmp_path / "parent.log"
    parent = supervisor.spawn([sys.executable, "-c", PARENT_OF_TWO], log_path=log)
    child_pid = int(wait_for_text(log, "\n").split()[0])
    child = psutil.Process(child_pid)
    assert supervisor.stop(parent, grace_s=5)
    assert not supervisor.is_alive(parent)
    psutil.wait_procs([child], timeout=5)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE

    stubborn = supervisor.spawn([sys.executable, "-c", IGNORES_TERM], log_path=tmp_path / "s.log")
    wait_for_text(tmp_path / "s.log", "ready")
    began = time.monotonic()
    assert supervisor.stop(stubborn, grace_s=0.5)
    assert supervisor.wait_gone(stubborn, 5)
    assert time.monotonic() - began >= 0.5  # it took the grace period, then SIGKILL


def test_secrets_travel_in_the_environment_not_argv(tmp_path: Path) -> None:
    secret = "postgresql+psycopg://wb:hunter2@db/wb"
    code = (
        "import os, time; print(os.environ['WORKBENCH_DATABASE_URL'], flush=True); time.sleep(60)"
    )
    log = tmp_path / "env.log"
    process = supervisor.spawn(
        [sys.executable, "-c", code], log_path=log, secrets={"WORKBENCH_DATABASE_URL": secret}
    )
    wait_for_text(log, secret)
    assert all("hunter2" not in arg for arg in psutil.Process(process.pid).cmdline())
    supervisor.kill(process)
    with pytest.raises(ValueError, match="environment, not on the command line"):
        supervisor.spawn(
            [sys.executable, "-c", "pass", secret],
            log_path=log,
            secrets={"WORKBENCH_DATABASE_URL": secret},
        )


def test_a_process_on_another_host_is_left_to_heartbeats() -> None:
    remote = Supervised(pid=1, started_at=0.0, host="elsewhere.example")
    assert supervisor.is_alive(remote)
    assert not supervisor.stop(remote)
    assert not supervisor.kill(remote)
