"""What the screens' thread workers hand back: each worker posts one of these to its screen
(post_message is thread-safe) and returns; the screen's handler shows it on the UI thread.
A closed screen's messages are dropped, so no handler asks whether it is still attached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from pipelines.datasets.browse import RowSource, RowView
    from pipelines.runs.compare import Comparison
    from pipelines.runs.compare_views import SweepSlice
    from pipelines.runs.details import Curves
    from screens.dialogs import ConfirmScreen
    from storage.records import (
        DatasetSummary,
        DatasetVersionRecord,
        ModelVersionRecord,
        RegisteredModelRecord,
        RunRecord,
        SweepRecord,
    )


@dataclass
class DatasetsLoaded(Message, bubble=False):
    summaries: list[DatasetSummary]
    select: str | None  # the dataset to put the cursor on


@dataclass
class VersionsLoaded(Message, bubble=False):
    name: str
    versions: list[DatasetVersionRecord]


@dataclass
class RegisterProgressed(Message, bubble=False):
    stage: str
    fraction: float | None


@dataclass
class RegisterEnded(Message, bubble=False):
    """Adding (or removing) a dataset ended; `dataset` is the one to show, if any."""

    message: str
    error: bool
    dataset: str | None


@dataclass
class RemovalUsersFound(Message, bubble=False):
    """The sweeps a removal would orphan, for the question still open."""

    dialog: ConfirmScreen
    question: str
    used: str
    told: list[str]


@dataclass
class SnapshotReady(Message, bubble=False):
    serial: int
    source: RowSource
    path: Path
    total: int
    view: RowView
    error: str


@dataclass
class QueryDone(Message, bubble=False):
    """A query of the runs snapshot: its view, or the error that refused it."""

    serial: int
    view: RowView | None
    error: str


@dataclass
class RunLoaded(Message, bubble=False):
    run: RunRecord
    sweep: SweepRecord
    curves: Curves
    importances: dict[str, float]


@dataclass
class ComparisonLoaded(Message, bubble=False):
    comparison: Comparison


@dataclass
class CurvesLoaded(Message, bubble=False):
    curves: dict[int, dict[str, list[tuple[int, float]]]]


@dataclass
class SliceLoaded(Message, bubble=False):
    data: SweepSlice


@dataclass
class InsightLoaded(Message, bubble=False):
    insight: Any


@dataclass
class ImportancesLoaded(Message, bubble=False):
    """A sweep's parameter importances, computed on `complete` trials."""

    importances: dict[str, float]
    complete: int


# --- the sweep launch form -----------------------------------------------------------------


@dataclass
class ChoicesLoaded(Message, bubble=False):
    """The datasets (with a version), model families and metrics the form offers."""

    datasets: list[DatasetSummary]
    families: dict[str, Any]
    metrics: dict[str, Any]


@dataclass
class DefinitionLoaded(Message, bubble=False):
    """A sweep file read, for the fields."""

    raw: dict[str, Any]
    path: Path


@dataclass
class FormError(Message, bubble=False):
    """A load or save the form refused: its one error line."""

    message: str


@dataclass
class StartRefused(Message, bubble=False):
    """The start ended without a running sweep ("" when the failure router says why)."""

    message: str


@dataclass
class SweepStarted(Message, bubble=False):
    sweep_id: int


@dataclass
class DefinitionSaved(Message, bubble=False):
    path: Path


# --- the Models screen ---------------------------------------------------------------------


@dataclass
class ModelsLoaded(Message, bubble=False):
    models: list[RegisteredModelRecord]


@dataclass
class ModelVersionsLoaded(Message, bubble=False):
    name: str
    versions: list[ModelVersionRecord]


@dataclass
class AliasChanged(Message, bubble=False):
    """An alias moved or went (the App was told what); the models are read again."""
