"""One supervisor for every process that outlives the command that started it: sweep
workers now, image builds and local deployments next.

A process is known by its pid *and* its creation time and host, recorded at spawn, so a
pid the kernel has since handed to another program is never mistaken for ours, let alone
signalled. Each process leads its own session (it survives the TUI closing and the SSH
session dropping) and is stopped as a whole group: SIGTERM, then SIGKILL after a grace
period. Secrets (a database password) reach it through the environment, never argv, which
every local user can read in `ps`. Output goes to a log file under the workspace."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = socket.gethostname()
START_TIME_TOLERANCE_S = 0.05
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_CHILDREN_LOCK = threading.Lock()


@dataclass(frozen=True)
class Supervised:
    """What identifies a supervised process across commands (stored with what it runs)."""

    pid: int
    started_at: float | None  # creation time, seconds since the epoch; None: not recorded
    host: str
    log_path: str | None = None

    @property
    def is_local(self) -> bool:
        return self.host == HOST


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    secrets: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Supervised:
    """Start `argv` in a new session with output appended to `log_path`; `secrets` are
    added to its environment (and must not appear in argv)."""
    for value in (secrets or {}).values():
        if value and any(value in arg for arg in argv):
            raise ValueError("a secret must travel in the environment, not on the command line")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **(secrets or {})}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=environment,
        )
    with _CHILDREN_LOCK:
        _CHILDREN[process.pid] = process
    return Supervised(process.pid, creation_time(process.pid), HOST, str(log_path))


def this_process() -> Supervised:
    """The running process, as a supervised record (a worker registering itself)."""
    return Supervised(os.getpid(), creation_time(os.getpid()), HOST)


def creation_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(process: Supervised) -> bool:
    """Whether the process still runs. On another host this cannot be seen from here and
    is answered True: heartbeats decide there."""
    return not process.is_local or _state(process) != GONE


def stop(process: Supervised, grace_s: float = 5.0) -> bool:
    """SIGTERM the process's group, then SIGKILL it if it is still there after `grace_s`.
    False when the process was already gone (or is not ours to stop)."""
    if not process.is_local or _state(process) != OURS:
        return False
    _signal_group(process, signal.SIGTERM)
    if not wait_gone(process, grace_s) and _state(process) == OURS:
        _signal_group(process, signal.SIGKILL)
    return True


def kill(process: Supervised) -> bool:
    """SIGKILL the group at once (emergencies and tests); False when it was already gone."""
    if not process.is_local or _state(process) != OURS:
        return False
    _signal_group(process, signal.SIGKILL)
    return True


def wait_gone(process: Supervised, timeout_s: float) -> bool:
    """Wait until the process has exited (and, if ours, is reaped); True when it has."""
    deadline = time.monotonic() + timeout_s
    while _state(process) != GONE:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


OURS, FOREIGN, GONE = "ours", "foreign", "gone"


def _state(process: Supervised) -> str:
    """OURS: the live process *is* this record (same pid and creation time); FOREIGN: a
    live process with that pid that we may not inspect; GONE: exited, a zombie, or the pid
    now belongs to another program. Exited children of this process are reaped here."""
    import psutil

    with _CHILDREN_LOCK:
        child = _CHILDREN.get(process.pid)
        if child is not None and child.poll() is not None:
            del _CHILDREN[process.pid]
    try:
        found = psutil.Process(process.pid)
        if found.status() == psutil.STATUS_ZOMBIE:
            return GONE
        started = found.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return GONE
    except psutil.AccessDenied:
        return FOREIGN
    if process.started_at is None:
        return OURS  # recorded before creation times were: the pid is all we have
    reused = abs(started - process.started_at) > START_TIME_TOLERANCE_S
    return GONE if reused else OURS


def _signal_group(process: Supervised, signum: int) -> None:
    """Signal the process's whole group when it leads one (spawned here), else the process."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
