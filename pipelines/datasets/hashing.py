"""The sha256 a dataset version records, and the file identity that ties it to the rows read.

The file is hashed through one open handle, and its identity (device, inode, size, mtime,
ctime) must be the same after the conversion, or the add is refused. `background_hash` runs
the hash on a thread beside the conversion: hashlib and file reads release the GIL, so on
two cores the hash costs next to nothing in wall time, and the bytes come from the page
cache the conversion fills.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.progress import Progress, no_progress
from storage.errors import DatasetInputError

HASH_CHUNK = 4 * 1024 * 1024

FileIdentity = tuple[int, int, int, int, int]


def identity(info: os.stat_result) -> FileIdentity:
    """What changes when a file is replaced (inode), rewritten (size, mtime) or touched in
    any way that could restore the others (ctime, which nobody can set back)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def changed(path: Path) -> DatasetInputError:
    return DatasetInputError(
        f"{path}: changed while it was being added (replaced or written to); nothing was "
        "added, add it again once it is complete"
    )


class _Stopped(Exception):
    """Internal: the hash was no longer wanted."""


def hash_file(
    path: Path, progress: Progress = no_progress, stop: threading.Event | None = None
) -> tuple[str, FileIdentity]:
    """sha256 of the bytes read through one handle, and the identity they belong to."""
    from pipelines.datasets.ingest import check_file

    check_file(path)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            before = identity(os.fstat(handle.fileno()))
            total, done = max(before[2], 1), 0
            while chunk := handle.read(HASH_CHUNK):
                if stop is not None and stop.is_set():
                    raise _Stopped
                digest.update(chunk)
                done += len(chunk)
                progress("hashing", min(done / total, 1.0))
            if identity(os.fstat(handle.fileno())) != before:
                raise changed(path)
    except OSError as exc:
        raise DatasetInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest(), before


class BackgroundHash:
    """A hash running on its own thread; `result()` waits for it and raises what it raised."""

    def __init__(self, path: Path, known: tuple[str, FileIdentity] | None = None) -> None:
        self._path = path
        self._stop = threading.Event()
        self._value = known
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dataset-hash", daemon=True)
        if known is None:
            self._thread.start()

    def _run(self) -> None:
        try:
            self._value = hash_file(self._path, stop=self._stop)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc

    def result(self) -> tuple[str, FileIdentity]:
        if self._thread.is_alive():
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


@contextmanager
def background_hash(
    path: Path, known: tuple[str, FileIdentity] | None = None
) -> Iterator[BackgroundHash]:
    """Hash `path` while the body runs (unless its hash is `known` already); stopped, not
    waited for to the end, if the body fails."""
    running = BackgroundHash(path, known)
    try:
        yield running
    finally:
        running.stop()
