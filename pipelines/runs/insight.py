"""Model insight per run: held-out predictions (confusion matrix or residuals), the model's
own feature importances, and permutation importance on held-out rows.

Held-out predictions are recorded at training time, so a summary costs one file read
(pipelines.runs.held_out). Permutation importance needs a refit and many predictions: it is
computed on demand and cached, never during a sweep (pipelines.runs.permutation).
`gather_insight` is the one function both the compare screen's Insight tab and
`workbench runs insight` call; each only renders what it returns. UI-free; heavy libraries
are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.runs.details import recorded_importances
from pipelines.runs.held_out import (
    ConfusionSummary,
    HeldOutSummary,
    InsightError,
    LargeResidual,
    ResidualSummary,
    decode_held_out,
    encode_held_out,
    held_out_predictions,
    held_out_summary,
)
from pipelines.runs.permutation import PermutationResult, permutation_importances
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace

__all__ = [
    "ConfusionSummary",
    "HeldOutSummary",
    "InsightError",
    "LargeResidual",
    "PermutationResult",
    "ResidualSummary",
    "RunInsight",
    "decode_held_out",
    "encode_held_out",
    "gather_insight",
    "held_out_predictions",
    "held_out_summary",
    "own_importances",
    "permutation_importances",
]


@dataclass(frozen=True)
class RunInsight:
    """Everything known about one run's insight. Each part stands on its own: a part that
    cannot be had carries the one-line reason instead, so a run without recorded
    predictions (older than them, or pruned) still shows its importances."""

    run_id: int
    held_out: HeldOutSummary | None
    held_out_note: str | None  # why there is no held-out summary
    importances: dict[str, float]  # the model's own; {} when it recorded none
    permutation: PermutationResult | None
    permutation_note: str | None  # why permutation importance cannot be had

    @property
    def empty(self) -> bool:
        """Nothing at all to show: no summary, no importances, no permutation result."""
        return self.held_out is None and not self.importances and self.permutation is None


def own_importances(ws: Workspace, run_id: int) -> dict[str, float]:
    """The model's own importances by input column (mean over folds, summing to 1), largest
    first, as recorded at training time; {} when the run has none (pruned, failed, or a
    model without importances)."""
    repo.get_run(ws.db, run_id)  # NotFoundError for an unknown run
    return recorded_importances(repo.metric_points(ws.db, run_id))


def gather_insight(
    ws: Workspace, run_id: int, permutation: bool = False, *, cached: bool = True
) -> RunInsight:
    """The held-out summary (cheap) and the model's own importances, plus permutation
    importance: computed when `permutation` is asked (seconds, once: then cached), else
    read from the cache when `cached` (a view shows an earlier result without the wait).
    An unknown run raises NotFoundError; every other failure becomes its part's note."""
    try:
        held_out, held_note = held_out_summary(ws, run_id), None
    except WorkbenchError as exc:
        held_out, held_note = None, str(exc)
    importances = own_importances(ws, run_id)
    permuted, perm_note = None, None
    if permutation or cached:
        try:
            permuted = permutation_importances(ws, run_id, compute=permutation)
        except WorkbenchError as exc:
            perm_note = str(exc)
    return RunInsight(
        run_id=run_id,
        held_out=held_out,
        held_out_note=held_note,
        importances=importances,
        permutation=permuted,
        permutation_note=perm_note,
    )
