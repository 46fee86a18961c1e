"""Messages that cross screens: past-tense names for things that happened, imperative ones
for navigation that a screen asks the App for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from storage.records import DatasetVersionRecord


@dataclass
class WorkerFailed(Message):
    """A worker of some screen or widget failed; the App's one error router shows it."""

    what: str
    error: BaseException


# --- navigation: screens ask, the App opens (so no screen imports another) ---------------


@dataclass
class OpenSweep(Message):
    """Show one sweep's own screen."""

    sweep_id: int


@dataclass
class OpenRuns(Message):
    """Show the runs screen, only the runs of one sweep when ``sweep_id`` is given."""

    sweep_id: int | None = None


@dataclass
class OpenRun(Message):
    """Show everything recorded about one run."""

    run_id: int


@dataclass
class CompareRuns(Message):
    """Show these runs side by side."""

    run_ids: list[int]


@dataclass
class OpenDataset(Message):
    """Show a dataset version's detail, on one of its tabs."""

    version: DatasetVersionRecord
    tab: str = "schema"


@dataclass
class BrowseRows(Message):
    """Page through a Parquet file's rows."""

    path: Path
    title: str


@dataclass
class OpenModels(Message):
    """Show the registered models, with ``name``'s versions when it is given."""

    name: str | None = None


@dataclass
class OpenDriftPanel(Message):
    """Watch a deployment's drift live."""

    deployment: str


# --- work that must outlive the screen that asked: the App does it ------------------------


@dataclass
class ChangeSweepState(Message):
    """Stop or resume a sweep (`verb` is "stop" or "resume"); the App tells what happened."""

    sweep_id: int
    verb: str


@dataclass
class InBackground(Message):
    """Work the App runs in a thread and tells the end of (``work`` returns what to say):
    writing a report or an export takes as long as it takes, whichever screen is shown."""

    what: str  # e.g. "writing report", the title of a failure
    work: Callable[[], str]
