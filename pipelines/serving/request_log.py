"""The request log: every prediction request and every label that arrives for one later, in
an append-only SQLite file (WAL) in a folder that outlives the server (a mounted volume in a
container), read back in id order by monitoring.

A request is handed to `add_request`, which gives it the next id and queues it; a background
thread writes what is queued in one transaction per batch, so a request pays for a lock and
an append, not for a disk write. Ids are given and queued under one lock, so the file grows
in id order and `records(after=ID)` never skips a request that is written later. `close`
(the app's shutdown, on SIGTERM) writes everything queued before it returns: nothing the
server answered is lost on a clean stop. One server writes a log folder at a time (an
exclusive lock on a file beside it), since ids are given in memory."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_FILE, LOCK_FILE = "requests.db", "requests.lock"
MAX_LIMIT = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    inputs TEXT,
    predictions TEXT,
    probabilities TEXT,
    unseen TEXT NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id, id);
"""


class RequestLogError(RuntimeError):
    """A log folder that cannot be used (another server holds it, or it cannot be written)."""


@dataclass(frozen=True)
class LoggedRequest:
    """What `add_request` queues: one answered (or refused) /predict request."""

    model: str
    version: str
    status: int
    latency_ms: float
    rows: int
    inputs: Any = None  # the records as sent (a list), None when the body was unreadable
    predictions: list[Any] | None = None
    probabilities: list[Any] | None = None
    unseen: tuple[str, ...] = ()
    error: str | None = None


class RequestLog:
    """The log of one server; `open` it before use and `close` it on shutdown."""

    def __init__(self, folder: Path, *, flush_interval_s: float = 0.05) -> None:
        self.folder = Path(folder)
        self.flush_interval_s = flush_interval_s
        self._lock = threading.Condition()
        self._queue: list[tuple[str, tuple[Any, ...]]] = []
        self._next_request = self._next_feedback = 1
        self._queued = self._written = 0
        self._stopping = False
        self._failure: str | None = None
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOG_FILE

    def open(self) -> RequestLog:
        import fcntl

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RequestLogError(f"{self.folder}: cannot be written ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RequestLogError(
                f"{self.folder}: another server is writing this request log"
            ) from None
        self._lock_fd = fd
        try:
            connection = self._connect()
            connection.executescript(_SCHEMA)
            top_request = connection.execute("SELECT max(id) FROM requests").fetchone()[0]
            top_feedback = connection.execute("SELECT max(id) FROM feedback").fetchone()[0]
        except sqlite3.Error as exc:
            self._unlock()
            raise RequestLogError(f"{self.path}: cannot be used ({exc})") from None
        self._next_request = (top_request or 0) + 1
        self._next_feedback = (top_feedback or 0) + 1
        self._thread = threading.Thread(
            target=self._write_loop, args=(connection,), name="request-log", daemon=True
        )
        self._thread.start()
        return self

    def add_request(self, request: LoggedRequest) -> int:
        """Queue a request; returns its id (ids grow by one, in the order requests arrive)."""
        at = _now()
        with self._lock:
            request_id = self._next_request
            self._next_request += 1
            self._queue.append(("request", (request_id, at, request)))
            self._queued += 1
        return request_id

    def add_feedback(self, request_id: int, label: Any) -> int:
        """Queue a true label for an earlier request; returns the feedback's id."""
        at = _now()
        with self._lock:
            feedback_id = self._next_feedback
            self._next_feedback += 1
            self._queue.append(("feedback", (feedback_id, request_id, at, label)))
            self._queued += 1
        return feedback_id

    @property
    def last_request_id(self) -> int:
        with self._lock:
            return self._next_request - 1

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far is written."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            target = self._queued
            self._lock.notify_all()
            while self._written < target and self._failure is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    break
                self._lock.wait(left)
            if self._failure is not None:
                raise RequestLogError(self._failure)

    def close(self) -> None:
        """Write what is queued, stop the writer and let another server open the folder."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._unlock()

    def request_rows(self, request_id: int) -> int | None:
        """How many records the logged request held; None if there is no such request."""
        with self._read() as connection:
            row = connection.execute(
                "SELECT rows FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
        return None if row is None else int(row[0])

    def records(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Logged requests with ids above `after`, in id order, each with its newest label."""
        limit = max(1, min(int(limit), MAX_LIMIT))
        with self._read() as connection:
            rows = connection.execute(
                "SELECT r.id, r.at, r.model, r.version, r.status, r.latency_ms, r.rows, "
                "r.inputs, r.predictions, r.probabilities, r.unseen, r.error, f.label, f.at "
                "FROM requests r LEFT JOIN feedback f ON f.id = ("
                "  SELECT max(g.id) FROM feedback g WHERE g.request_id = r.id) "
                "WHERE r.id > ? ORDER BY r.id LIMIT ?",
                (int(after), limit),
            ).fetchall()
        return [_record(row) for row in rows]

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _read(self) -> _Reader:
        return _Reader(self.path)

    def _write_loop(self, connection: sqlite3.Connection) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue and not self._stopping:
                        self._lock.wait(self.flush_interval_s)
                    batch, self._queue = self._queue, []
                    stopping = self._stopping
                if batch:
                    self._write(connection, batch)
                    with self._lock:
                        self._written += len(batch)
                        self._lock.notify_all()
                elif stopping:
                    return
                if not stopping:
                    time.sleep(self.flush_interval_s / 5)  # let a batch gather
        except sqlite3.Error as exc:
            with self._lock:
                self._failure = f"{self.path}: the request log cannot be written ({exc})"
                self._lock.notify_all()
        finally:
            connection.close()

    @staticmethod
    def _write(connection: sqlite3.Connection, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        requests, feedback = [], []
        for kind, item in batch:
            if kind == "request":
                request_id, at, r = item
                facts = (r.model, r.version, r.status, r.latency_ms, r.rows)
                values = (_dump(r.inputs), _dump(r.predictions), _dump(r.probabilities))
                unseen = json.dumps(list(r.unseen))
                requests.append((request_id, at, *facts, *values, unseen, r.error))
            else:
                feedback_id, request_id, at, label = item
                feedback.append((feedback_id, request_id, at, json.dumps(label)))
        with connection:
            connection.executemany(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", requests
            )
            connection.executemany("INSERT INTO feedback VALUES (?, ?, ?, ?)", feedback)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


class _Reader:
    """A short-lived read connection (readers never wait on the writer in WAL mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        self.connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        self.connection.close()


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    (request_id, at, model, version, status, latency_ms, rows, inputs, predictions,
     probabilities, unseen, error, label, label_at) = row  # fmt: skip
    return {
        "id": request_id,
        "at": at,
        "model": model,
        "version": version,
        "status": status,
        "latency_ms": latency_ms,
        "rows": rows,
        "inputs": _load(inputs),
        "predictions": _load(predictions),
        "probabilities": _load(probabilities),
        "unseen": json.loads(unseen),
        "error": error,
        "label": _load(label),
        "labelled_at": label_at,
    }


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
