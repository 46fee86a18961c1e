"""Reading, scoring and writing a batch-scoring file at once: the next chunk is parsed in one
thread and the last one written in another while this one is scored. pandas' parser,
pyarrow and LightGBM release the GIL for most of their work, so on two cores the command
costs about the scoring alone instead of reading + scoring + writing one after another.
Chunks keep their order; a failure in either thread is raised in the scoring one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_DONE = object()


def ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """`items`, produced in a thread up to `depth` ahead: the next chunk is parsed while
    this one is scored (the parsers and LightGBM release the GIL, so both cores work).
    The producer's exceptions are raised here, in order; closing stops the producer."""
    import queue
    import threading

    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            offer((_DONE, exc))
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()

    thread = threading.Thread(target=produce, name="predict-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, failure = ready.get()
            if failure is not None:
                raise failure
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()


class Behind:
    """Writes scored chunks in a thread, one chunk behind the scoring, in order; a write's
    failure is raised at the next `write` or on leaving the block."""

    def __init__(self, writer: Any) -> None:
        import queue

        self.writer = writer
        self.abandoned = False
        self.pending: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.thread: Any = None

    def __enter__(self) -> Behind:
        import threading

        self.thread = threading.Thread(target=self._drain, name="predict-writer", daemon=True)
        self.thread.start()
        return self

    def write(self, frame: Any) -> None:
        if self.failure is not None:
            raise self.failure
        self.pending.put(frame)

    def __exit__(self, kind: object, *_rest: object) -> None:
        self.abandoned = kind is not None  # the output is thrown away: stop writing it
        self.pending.put(_DONE)
        self.thread.join()
        if kind is None and self.failure is not None:
            raise self.failure

    def _drain(self) -> None:
        while True:
            frame = self.pending.get()
            if frame is _DONE:
                return
            if self.failure is None and not self.abandoned:
                try:
                    self.writer.write(frame)
                except BaseException as exc:  # raised in the scoring thread
                    self.failure = exc
