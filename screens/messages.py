"""Events that cross screens: past-tense names for things that happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from storage.handle import Workspace


@dataclass
class WorkspaceOpened(Message):
    """The workspace's database is open and at the right schema."""

    workspace: Workspace


@dataclass
class WorkspaceFailed(Message):
    """The workspace could not be opened; `reason` is one readable line."""

    reason: str


@dataclass
class DatasetsChanged(Message):
    """A dataset version was added or removed."""

    ref: str


@dataclass
class WorkerFailed(Message):
    """A worker of some screen or widget failed; the App's one error router shows it."""

    what: str
    error: BaseException
