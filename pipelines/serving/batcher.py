"""Requests that arrive together are scored together: one pass of the fitted pipeline costs
about the same for one row as for dozens (scikit-learn's per-call overhead is milliseconds,
the per-row work microseconds), so under concurrent load the server scores every checked
request waiting at that moment in one call, in a worker thread, and hands each request back
its own rows. An idle server scores a lone request at once; nothing waits for company.

Under load the batch waits a little for it (adaptive): when the last batch ended a moment
ago, the clients it answered are about to send their next requests, so the next batch waits
up to GATHER_S until as many requests wait as there were clients then (the last batch's
plus those already waiting when it ended), and starts as soon as they are there. Without
that, 8 connections split into two alternating batches of about 4, each paying the
pipeline's per-call overhead; with it, one batch of about 8 pays it once. A lone client
sending one request after another never waits (its batches hold one request).

Rows are scored independently of their neighbours (imputers and encoders apply fitted
statistics, trees walk one row at a time), which is also why batch scoring in chunks and
serving agree row for row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pipelines.serving.scoring import Scored

MAX_BATCH_ROWS = 2048
GATHER_S = 0.002  # the longest a batch under load waits for the last batch's company
RECENT_S = 0.05  # a batch that ended this recently means the server is under load


class Batcher:
    """Scores checked parts (anything with a length in rows) through `score_parts`, which
    scores a list of them as one frame; parts that wait together are scored together. A
    batch of at most `inline_rows` rows is scored on the event loop, larger ones in a
    worker thread."""

    def __init__(
        self,
        score_parts: Callable[[list[Any]], Scored],
        max_rows: int = MAX_BATCH_ROWS,
        inline_rows: int = 0,
    ) -> None:
        self.score_parts, self.max_rows, self.inline_rows = score_parts, max_rows, inline_rows
        self._waiting: list[tuple[Any, asyncio.Future[Scored]]] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._company = 0  # the clients seen when the last batch ended (its own and waiting)
        self._ended = 0.0
        self._gathered: asyncio.Event | None = None
        self.batches = self.frames = 0  # how much combining happened, for benchmarks

    async def score(self, part: Any) -> Scored:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Scored] = loop.create_future()
        self._waiting.append((part, future))
        if self._gathered is not None and len(self._waiting) >= self._company:
            self._gathered.set()
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        from fastapi.concurrency import run_in_threadpool

        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                if self._company > 1 and loop.time() - self._ended <= RECENT_S:
                    await self._gather()
                batch: list[tuple[Any, asyncio.Future[Scored]]] = [self._waiting.pop(0)]
                rows = len(batch[0][0])
                while self._waiting and rows + len(self._waiting[0][0]) <= self.max_rows:
                    batch.append(self._waiting.pop(0))
                    rows += len(batch[-1][0])
                self.batches += 1
                self.frames += len(batch)
                try:
                    waiting = [f for f, _ in batch]
                    if rows <= self.inline_rows:  # cheaper than the hop to a thread
                        parts = self._score_together(waiting)
                    else:
                        parts = await run_in_threadpool(self._score_together, waiting)
                except Exception as exc:  # each request answers with the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), part in zip(batch, parts, strict=True):
                    if not future.done():
                        future.set_result(part)
                # The clients just answered will send again; those waiting already did.
                self._company, self._ended = len(batch) + len(self._waiting), loop.time()
                await asyncio.sleep(0)  # the answered requests go out, what arrived is read
        finally:
            self._draining = False

    async def _gather(self) -> None:
        """Wait up to GATHER_S until as many requests wait as there were clients."""
        if len(self._waiting) >= self._company:
            return
        self._gathered = asyncio.Event()
        try:
            await asyncio.wait_for(self._gathered.wait(), GATHER_S)
        except TimeoutError:
            pass
        finally:
            self._gathered = None

    def _score_together(self, parts: list[Any]) -> list[Scored]:
        scored = self.score_parts(parts)
        if len(parts) == 1:
            return [scored]
        answers: list[Scored] = []
        start = 0
        for part in parts:
            end = start + len(part)
            proba = scored.probabilities
            rows = None if proba is None else proba[start:end]
            answers.append(Scored(scored.predictions[start:end], rows, scored.classes))
            start = end
        return answers
