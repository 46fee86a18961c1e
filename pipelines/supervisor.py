"""One supervisor for every process that outlives the command that started it: sweep
workers now, image builds and local deployments next.

A process is known by its pid *and* its creation time and host, recorded at spawn, so a
pid the kernel has since handed to another program is never mistaken for ours, let alone
signalled (that identity and liveness part is `storage.processes`, which sweep status
needs too). Each process leads its own session (it survives the TUI closing and the SSH
session dropping) and is stopped as a whole group: SIGTERM, then SIGKILL after a grace
period. Secrets (a database password) reach it through the environment, never argv, which
every local user can read in `ps`. Output goes to a log file under the workspace."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from storage.processes import (
    HOST,
    OURS,
    Supervised,
    adopt_child,
    creation_time,
    is_alive,
    state,
    this_process,
    wait_gone,
)

DATABASE_URL_ENV = "WORKBENCH_DATABASE_URL"  # what settings read; keeps a password off argv

__all__ = [
    "DATABASE_URL_ENV",
    "HOST",
    "Supervised",
    "creation_time",
    "is_alive",
    "kill",
    "read_new_lines",
    "spawn",
    "spawn_with_input",
    "stop",
    "this_process",
    "wait_gone",
]


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
    process = _start(argv, log_path, cwd, {**os.environ, **(secrets or {})}, subprocess.DEVNULL)
    return Supervised(process.pid, creation_time(process.pid), HOST, str(log_path))


def spawn_with_input(
    argv: Sequence[str], *, log_path: Path, cwd: Path | None = None
) -> tuple[Supervised, IO[bytes]]:
    """`spawn`, with a pipe to the process's stdin for what it must learn after it started
    (a standby worker's sweep and database URL: secrets travel there, not in argv)."""
    process = _start(argv, log_path, cwd, None, subprocess.PIPE)
    assert process.stdin is not None
    return Supervised(process.pid, creation_time(process.pid), HOST, str(log_path)), process.stdin


def _start(
    argv: Sequence[str],
    log_path: Path,
    cwd: Path | None,
    environment: Mapping[str, str] | None,
    stdin: int,
) -> subprocess.Popen[bytes]:
    """The one way a supervised process starts: its own session, output appended to its log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=environment,
        )
    adopt_child(process)
    return process


def stop(process: Supervised, grace_s: float = 5.0) -> bool:
    """SIGTERM the process's group, then SIGKILL it if it is still there after `grace_s`.
    False when the process was already gone (or is not ours to stop)."""
    if not process.is_local or state(process) != OURS:
        return False
    _signal_group(process, signal.SIGTERM)
    if not wait_gone(process, grace_s) and state(process) == OURS:
        _signal_group(process, signal.SIGKILL)
    return True


def kill(process: Supervised) -> bool:
    """SIGKILL the group at once (emergencies and tests); False when it was already gone."""
    if not process.is_local or state(process) != OURS:
        return False
    _signal_group(process, signal.SIGKILL)
    return True


def _signal_group(process: Supervised, signum: int) -> None:
    """Signal the process's whole group when it leads one (spawned here), else the process."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def read_new_lines(path: Path, offset: int, on_line: Callable[[str], None]) -> int:
    """Hand `on_line` each whole line a process's log gained since `offset`; returns the
    new offset (a half-written last line waits for the next read)."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            data = log.read()
    except OSError:
        return offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", "replace").splitlines():
        on_line(line)
    return offset + end
