"""A rule's user command: run for an alert in its own session, with the alert in its
environment (WORKBENCH_ALERT_*) and as JSON on stdin, cut off after a time limit, and its
outcome (ok, failed, timeout, error; exit status; the tail of its output) recorded on the
alert.

Commands run in background threads, so the window evaluation that raised the alert
returns at once: a slow or hanging command never holds up the monitoring loop. A command
is killed with its whole process group when its time is up (a shell that started a
`sleep` leaves nothing behind). `wait_for_commands` joins them (a CLI that must not exit
before its commands end, and tests). A process that exits (the TUI closing) with commands
still running cuts them off the same way and records them as cut off, rather than leaving
them running unwatched and their alerts saying "running" for ever."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from pipelines import supervisor
from storage import monitoring as repo
from storage.database import Database
from storage.records import AlertRecord

DEFAULT_TIMEOUT_S = 30.0
OUTPUT_CHARS = 2000
EXIT_NOTE = "[cut off: the Workbench process that ran it exited]"
_running: list[threading.Thread] = []
_processes: dict[int, subprocess.Popen[bytes]] = {}  # by alert id, while they run
_exiting = threading.Event()
_lock = threading.Lock()


def alert_payload(alert: AlertRecord) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "deployment": alert.deployment,
        "kind": alert.kind,
        "message": alert.message,
        "value": alert.value,
        "window_end": alert.window_end.isoformat(),
        "raised_at": alert.raised_at.isoformat(),
    }


def alert_environment(alert: AlertRecord) -> dict[str, str]:
    """The environment a command gets: ours, less the database URL (it may hold a
    password), plus WORKBENCH_ALERT_* naming the alert."""
    environment = {k: v for k, v in os.environ.items() if k != supervisor.DATABASE_URL_ENV}
    for key, value in alert_payload(alert).items():
        environment[f"WORKBENCH_ALERT_{key.upper()}"] = "" if value is None else str(value)
    return environment


def run_command(
    command: str,
    alert: AlertRecord,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> tuple[str, int | None, str]:
    """Run `command` with /bin/sh for `alert`: (status, exit status, output tail)."""
    stdin = json.dumps(alert_payload(alert)).encode()
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=alert_environment(alert),
        )
    except OSError as exc:
        return "error", None, f"cannot start the command ({exc.strerror or exc})"
    if on_start is not None:
        on_start(process)
    try:
        output, _ = process.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        output, _ = process.communicate()
        tail = output.decode("utf-8", "replace")[-OUTPUT_CHARS:]
        return "timeout", None, f"{tail}\n[cut off after {timeout_s:g} s]".lstrip()
    tail = output.decode("utf-8", "replace")[-OUTPUT_CHARS:]
    return ("ok" if process.returncode == 0 else "failed"), process.returncode, tail


def start_command(
    db: Database, command: str, alert: AlertRecord, timeout_s: float = DEFAULT_TIMEOUT_S
) -> threading.Thread:
    """Run the command in a background thread and record its outcome on the alert."""

    def started(process: subprocess.Popen[bytes]) -> None:
        with _lock:
            _processes[alert.id] = process

    def work() -> None:
        try:
            status, code, output = run_command(command, alert, timeout_s, started)
        finally:
            with _lock:
                _processes.pop(alert.id, None)
        if _exiting.is_set() and status != "ok":
            status, code, output = "timeout", None, f"{output}\n{EXIT_NOTE}".lstrip()
        repo.update_alert(
            db, alert.id, command_status=status, command_exit=code, command_output=output
        )

    thread = threading.Thread(target=work, name=f"alert-{alert.id}-command", daemon=True)
    with _lock:
        _running[:] = [t for t in _running if t.is_alive()]
        _running.append(thread)
    thread.start()
    return thread


def wait_for_commands(timeout_s: float | None = None) -> bool:
    """Join the commands still running; False when some are still running at the end."""
    with _lock:
        threads = list(_running)
    for thread in threads:
        thread.join(timeout_s)
    return not any(t.is_alive() for t in threads)


@atexit.register
def _cut_off_at_exit() -> None:
    """Kill the commands still running and give their threads a moment to record it."""
    _exiting.set()
    with _lock:
        processes = list(_processes.values())
    for process in processes:
        _kill_group(process.pid)
    wait_for_commands(5.0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def describe_outcome(status: str | None, code: int | None) -> str:
    """'ok', 'exit 3', 'timed out', 'running' or '' (no command), for listings."""
    if status is None:
        return ""
    if status == "failed":
        return f"exit {code}"
    return {"timeout": "timed out", "running": "running"}.get(status, status)
