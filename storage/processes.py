"""Which recorded processes are still alive, told by identity rather than by pid alone.

A process is known by its pid *and* its creation time and host, recorded when it started,
so a pid the kernel has since handed to another program is never mistaken for ours. This
small psutil-only part lives in storage because the liveness of sweep workers decides what
a sweep's status reads; `pipelines.supervisor` builds spawning and stopping on top of it."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

HOST = socket.gethostname()
START_TIME_TOLERANCE_S = 0.05
OURS, FOREIGN, GONE = "ours", "foreign", "gone"
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


def creation_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def this_process() -> Supervised:
    """The running process, as a supervised record (a worker registering itself)."""
    return Supervised(os.getpid(), creation_time(os.getpid()), HOST)


def same_start(recorded: float | None, other: float | None) -> bool:
    """Whether two creation times name the same process (None: not recorded, so unknown)."""
    if recorded is None or other is None:
        return True
    return abs(recorded - other) <= START_TIME_TOLERANCE_S


def adopt_child(process: subprocess.Popen[bytes]) -> None:
    """Remember a child started here, so that it is reaped once it has exited."""
    with _CHILDREN_LOCK:
        _CHILDREN[process.pid] = process


def state(process: Supervised) -> str:
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
    return OURS if same_start(process.started_at, started) else GONE


def is_alive(process: Supervised) -> bool:
    """Whether the process still runs. On another host this cannot be seen from here and
    is answered True: heartbeats decide there."""
    return not process.is_local or state(process) != GONE


def wait_gone(process: Supervised, timeout_s: float) -> bool:
    """Wait until the process has exited (and, if ours, is reaped); True when it has."""
    deadline = time.monotonic() + timeout_s
    while state(process) != GONE:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
