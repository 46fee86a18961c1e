"""Scratch files in the workspace (half-written Parquet copies) and who owns them.

A scratch file's name carries its owner, ``<pid>@<host>``, so a later command can tell a
file left by a killed process from one a concurrent command is still writing: only files
whose owner is gone are removed. SIGTERM and SIGHUP (an SSH session dropping) are turned
into a clean exit so the `finally` blocks that remove scratch files run; SIGKILL leaves
them for that next-start cleanup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType

UNKNOWN_OWNER_AGE_S = 24 * 3600  # files of another host or of an older Workbench
_OWNER = re.compile(r"(\d+)@([0-9a-f]{8})")


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def owner_tag() -> str:
    """This process as it appears in its scratch file names."""
    return f"{os.getpid()}@{_host_tag()}"


def scratch_name(prefix: str, suffix: str) -> str:
    """A hidden, unique name owned by this process, e.g. `.incoming-123@ab12cd34-9f….parquet`."""
    return f".{prefix}-{owner_tag()}-{secrets.token_hex(6)}{suffix}"


def is_scratch(name: str) -> bool:
    """Hidden half-written files: `.incoming-*`, `.*.tmp` and their `.tmp.utf8` helpers."""
    return name.startswith(".") and (
        name.startswith(".incoming-") or name.endswith(".tmp") or name.endswith(".tmp.utf8")
    )


def remove_stale_scratch(folders: Iterable[Path]) -> list[Path]:
    """Delete scratch files whose owning process is gone; return what was removed."""
    removed: list[Path] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not is_scratch(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            path = Path(entry.path)
            if _owner_is_gone(entry.name, path):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def _owner_is_gone(name: str, path: Path) -> bool:
    try:
        modified = path.stat().st_mtime
    except OSError:
        return False
    found = _OWNER.search(name)
    if found is None or found.group(2) != _host_tag():
        return time.time() - modified > UNKNOWN_OWNER_AGE_S
    pid = int(found.group(1))
    if pid == os.getpid():
        return False
    return not _process_alive(pid) or _started_after(pid, modified)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _started_after(pid: int, modified: float) -> bool:
    """Whether `pid` is a newer process that reused the number (Linux: /proc start time);
    a file's owner always started before its last write."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    return started > modified + 2.0  # btime has a one-second resolution


def exit_cleanly_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit (so `finally` blocks remove scratch files).
    A signal someone chose to ignore (`nohup`) stays ignored; a second one kills as usual."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        for number in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            signal.signal(number, signal.SIG_DFL)
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may install handlers
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is signal.SIG_DFL:
            signal.signal(number, handler)


@contextlib.contextmanager
def exclusive_lock(folder: Path) -> Iterator[None]:
    """An advisory lock across processes on `folder` itself (flock on the directory), so
    no lock file lies among the data; held for the block."""
    try:
        import fcntl
    except ImportError:  # no flock: the database's unique constraints still hold
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
