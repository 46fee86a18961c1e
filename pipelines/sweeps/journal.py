"""Optuna's journal file, made safe against torn records.

Every study of a SQLite workspace lives in one append-only journal. Optuna's file backend
leaves a record cut off when a write fails (a full disk), and the next record is then
glued to it, so every later read fails with a JSONDecodeError, for every study of the
workspace. Here a failed append is cut back off the file before the error is raised, a
cut-off tail left by a killed process is cut before the next append, and a journal damaged
by an older Workbench is repaired (under the journal's lock) the first time it fails to read:
the cut-off part of a glued line is dropped and the whole record after it is kept.

Appends are not fsynced (nor are Optuna's own): a killed process loses nothing written,
and a power cut can lose the last records but never tears the file, the durability the
workspace's SQLite has in WAL mode with synchronous=NORMAL. An fsync per record cost
5-30 ms here, several per trial."""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file

from storage.errors import WorkbenchError

RECORD_START = b'{"op_code":'  # every record Optuna writes begins so (its first key)
CHUNK = 64 * 1024


class JournalError(WorkbenchError):
    """The Optuna journal cannot be written or read; the message names the file and why."""


def os_reason(exc: BaseException) -> str:
    """The operating system's words for the first OSError in an exception's chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror[:1].lower() + seen.strerror[1:]
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


class SafeJournalFileBackend(JournalFileBackend):
    """JournalFileBackend whose failed writes never poison later reads."""

    def __init__(self, file_path: str) -> None:
        try:
            super().__init__(file_path)
        except OSError as exc:
            reason = os_reason(exc)
            raise JournalError(f"{file_path}: cannot create the Optuna journal ({reason})") from exc

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode()
        try:
            with get_lock_file(self._lock):
                self._append(data)
        except (OSError, RuntimeError) as exc:  # RuntimeError: the lock could not be taken
            raise JournalError(
                f"{self._file_path}: cannot write the Optuna journal ({os_reason(exc)})"
            ) from exc

    def _append(self, data: bytes) -> None:
        """Write whole records after the last whole one; on failure leave the file as it was."""
        fd = os.open(self._file_path, os.O_RDWR)
        try:
            end = complete_length(fd)
            if end != os.fstat(fd).st_size:
                os.ftruncate(fd, end)  # a tail cut off by a process killed mid-write
            try:
                written = 0
                while written < len(data):
                    written += os.pwrite(fd, data[written:], end + written)
            except OSError:
                os.ftruncate(fd, end)
                raise
        finally:
            os.close(fd)

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        read = 0
        try:
            for log in super().read_logs(log_number_from):
                read += 1
                yield log
            return
        except ValueError:  # json.JSONDecodeError, or Optuna's "Invalid log format."
            pass
        try:
            with get_lock_file(self._lock):
                repair_journal(Path(self._file_path))
        except (OSError, RuntimeError) as exc:
            raise JournalError(
                f"{self._file_path}: the Optuna journal is damaged and cannot be repaired "
                f"({os_reason(exc)})"
            ) from exc
        self._log_number_offset = {0: 0}  # byte offsets after the repaired line have moved
        try:
            yield from super().read_logs(log_number_from + read)
        except ValueError as exc:
            raise JournalError(
                f"{self._file_path}: the Optuna journal is damaged and cannot be repaired ({exc})"
            ) from exc


def complete_length(fd: int) -> int:
    """The length of the file up to and including its last newline."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - CHUNK)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


def repair_journal(path: Path) -> int:
    """Rewrite a damaged journal with only whole records; returns how many lines changed.
    A line that does not parse keeps its longest ending that is one whole record (the
    record written after a cut-off one), or goes; a cut-off last line goes."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or a cut-off record
    kept, changed = [], int(bool(tail))
    for line in lines:
        if _parses(line):
            kept.append(line)
            continue
        changed += 1
        salvaged = _whole_record_at_end(line)
        if salvaged is not None:
            kept.append(salvaged)
    if not changed:
        return 0
    temporary = path.with_name(path.name + ".repair")
    with temporary.open("wb") as out:
        out.write(b"".join(line + b"\n" for line in kept))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return changed


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _whole_record_at_end(line: bytes) -> bytes | None:
    start = line.find(RECORD_START, 1)
    while start > 0:
        if _parses(line[start:]):
            return line[start:]
        start = line.find(RECORD_START, start + 1)
    return None
