"""Events that cross screens: past-tense names for things that happened."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class WorkerFailed(Message):
    """A worker of some screen or widget failed; the App's one error router shows it."""

    what: str
    error: BaseException
