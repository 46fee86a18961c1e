"""One deployment watched: its traffic read into a sliding window, compared with its
reference prepared once, and turned into a `WatchView` for the panel; every
`snapshot_every_s`, and at once when the dataset verdict flips, a window is stored as a
snapshot (history survives a restart) and the deployment's alert rules judge it.

A refresh costs what is new: the feed reads only new records (and re-reads those still
waiting for a label), and drift is recomputed only when the window changed."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError

if TYPE_CHECKING:
    from pipelines.drift import ColumnDrift, DatasetDrift, Histogram, PreparedReference
    from pipelines.monitoring.estimate import EstimatedPerformance
    from pipelines.monitoring.performance import RealPerformance
    from pipelines.monitoring.schema_drift import SchemaDrift
    from pipelines.monitoring.window import MonitoringWindow, Traffic
    from pipelines.watch.reference import DeploymentFacts
    from storage.handle import Workspace
    from storage.records import AlertRecord

MIN_ROWS = 30  # fewer rows than this in the window: no drift verdict (too few to test)
HISTORY = 24  # scores kept per column for the sparklines
BINS = 16  # histogram bins (numeric) or categories shown
PREDICTION = "prediction"
REQUEST = "__request_id__"  # the request a row of the features frame came from


@dataclass(frozen=True)
class WatchSettings:
    max_rows: int | None = 1000
    max_age_s: float | None = None
    min_rows: int = MIN_ROWS
    snapshot_every_s: float = 30.0


@dataclass(frozen=True)
class WatchView:
    """Everything the panel shows of one refresh; `note` says plainly why a part is empty."""

    deployment: str
    model_ref: str
    reference_label: str
    reference_rows: int
    window_rows: int
    drift: DatasetDrift | None
    prediction_drift: ColumnDrift | None
    schema: SchemaDrift | None
    traffic: Traffic | None
    real: RealPerformance | None
    estimated: EstimatedPerformance | None
    history: dict[str, tuple[float | None, ...]] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)  # per tested column
    alerts: tuple[AlertRecord, ...] = ()  # raised by this refresh's snapshot
    retraining: str | None = None  # a retraining job this refresh's snapshot started, said
    note: str | None = None  # e.g. the window is too small, or the deployment is down
    error: str | None = None  # the deployment stopped answering (the window is kept)
    snapshots: int = 0  # stored so far by this watch


class DeploymentWatch:
    """Built once per watched deployment (its reference is read and prepared then)."""

    def __init__(
        self,
        facts: DeploymentFacts,
        reference: PreparedReference,
        reference_label: str,
        reference_predictions: PreparedReference | None,
        settings: WatchSettings,
    ) -> None:
        from pipelines.monitoring.feed import RecordFeed
        from pipelines.monitoring.window import MonitoringWindow

        self.facts, self.reference, self.settings = facts, reference, settings
        self.reference_label = reference_label
        self.reference_predictions = reference_predictions
        self.feed = RecordFeed(facts.url, facts.token)
        self.window: MonitoringWindow = MonitoringWindow(settings.max_rows, settings.max_age_s)
        self.metadata: dict[str, Any] | None = None
        self.history: dict[str, deque[float | None]] = {}
        self._seen_revision = -1
        self._last: WatchView | None = None
        self._snapshot_at = 0.0
        self._snapshots = 0
        self._stored_verdict: bool | None = None
        self._frame: Any = None  # the window's features so far, with each row's request id
        self._frame_ids: set[int] = set()

    @classmethod
    def open(cls, ws: Workspace, name: str, settings: WatchSettings | None = None) -> Any:
        """Read the deployment's facts and reference and prepare it (seconds at most)."""
        from pipelines.drift import DriftOptions, PreparedReference
        from pipelines.watch.reference import deployment_facts, deployment_reference

        facts = deployment_facts(ws, name)
        reference = deployment_reference(ws, facts)
        options = DriftOptions(columns=facts.features, categorical=facts.categorical)
        prepared = PreparedReference.prepare(reference.frame, options)
        watch = cls(
            facts, prepared, reference.label, _predictions(ws, facts), settings or WatchSettings()
        )
        watch.load_history(ws)
        return watch

    def load_history(self, ws: Workspace) -> None:
        """Sparklines start from the stored snapshots, so a restart keeps the picture."""
        from pipelines.alerts.evaluate import snapshots

        for snapshot in reversed(snapshots(ws, self.facts.name, limit=HISTORY)):
            for column in snapshot.columns:
                self._push(column.column, column.score)

    def resize(self, max_rows: int | None, max_age_s: float | None) -> None:
        from pipelines.monitoring.feed import MonitoringError

        if max_rows is None and max_age_s is None:
            raise MonitoringError("a window needs a row limit, an age limit or both")
        self.window.max_rows, self.window.max_age_s = max_rows, max_age_s
        self.window.trim()
        self._seen_revision = -1

    def refresh(self, ws: Workspace | None = None, now: float | None = None) -> WatchView:
        """Read what is new, recompute what changed; with `ws`, store a snapshot when one
        is due and let the alert rules judge it."""
        from pipelines.monitoring.feed import MonitoringError
        from pipelines.monitoring.window import refresh

        error = None
        if self.metadata is None:
            try:
                self.metadata = self.feed.metadata()
            except MonitoringError as exc:
                error = str(exc)
        if error is None:
            error = refresh(self.feed, self.window).error
        if self.window.revision == self._seen_revision and self._last is not None:
            view = _replace(self._last, error=error)
        else:
            view = self.compute(error)
            self._seen_revision = self.window.revision
        if ws is not None and view.drift is not None and error is None:
            view = self._maybe_snapshot(ws, view, time.monotonic() if now is None else now)
        self._last = view
        return view

    def compute(self, error: str | None = None) -> WatchView:
        from pipelines.monitoring.estimate import window_estimate
        from pipelines.monitoring.performance import window_performance

        rows = len(self.window)
        metadata = self.metadata or {}
        drift, prediction, note, histograms = None, None, None, {}
        if rows < self.settings.min_rows:
            note = (
                "no requests answered yet: drift is tested once the window holds "
                f"{self.settings.min_rows} rows"
                if rows == 0
                else f"the window holds {rows} rows: drift is tested from {self.settings.min_rows}"
            )
        else:
            current = self.features()
            drift = self.reference.compare(current)
            for column in drift.columns:
                self._push(column.column, column.score)
                if column.tested:
                    histograms[column.column] = self.reference.histogram(
                        column.column, current, BINS
                    )
            prediction = self._prediction_drift()
        return WatchView(
            deployment=self.facts.name,
            model_ref=self.facts.model_ref,
            reference_label=self.reference_label,
            reference_rows=drift.reference_rows if drift else 0,
            window_rows=rows,
            drift=drift,
            prediction_drift=prediction,
            schema=self._schema_drift(metadata) if metadata else None,
            traffic=self.window.traffic(),
            real=window_performance(self.window, metadata) if metadata else None,
            estimated=window_estimate(self.window, metadata) if metadata else None,
            history={k: tuple(v) for k, v in self.history.items()},
            histograms=histograms,
            note=note,
            error=error,
            snapshots=self._snapshots,
        )

    def _schema_drift(self, metadata: dict[str, Any]) -> Any:
        from pipelines.monitoring.schema_drift import frame_schema_drift

        refused = [(e.status, row) for e in self.window.refused() for row in e.inputs or []]
        frame = self._frame if self._frame is not None else self.features()
        return frame_schema_drift(frame, refused, metadata.get("schema") or {}, (REQUEST,))

    def features(self) -> Any:
        """The window's answered rows as a frame, built incrementally: rows kept from the
        last refresh are reused and only new requests are turned into a frame (a 50,000-row
        window costs its new rows, not 50,000 dictionaries, per refresh)."""
        import pandas as pd

        answered = self.window.answered()
        wanted = {e.id for e in answered}
        kept = self._frame
        if kept is not None and self._frame_ids - wanted:
            kept = kept[kept[REQUEST].isin(wanted)]
        rows = [
            {**row, REQUEST: e.id} for e in answered if e.id not in self._frame_ids
            for row in e.inputs or []
        ]  # fmt: skip
        new = pd.DataFrame.from_records(rows) if rows else None
        if kept is None or new is None:
            frame = new if kept is None else kept
            frame = pd.DataFrame({REQUEST: []}) if frame is None else frame
        else:
            frame = pd.concat([_typed_like(kept, new), _typed_like(new, kept)], ignore_index=True)
        self._frame, self._frame_ids = _numbers_as_numbers(frame), wanted
        return self._frame

    def _prediction_drift(self) -> ColumnDrift | None:
        if self.reference_predictions is None:
            return None
        predicted = self.window.predictions()
        if predicted.empty:
            return None
        frame = predicted[[PREDICTION]].astype(str)  # classes as text, as the reference has them
        return self.reference_predictions.compare(frame).column(PREDICTION)

    def _maybe_snapshot(self, ws: Workspace, view: WatchView, now: float) -> WatchView:
        from pipelines.alerts.evaluate import evaluate_rules, record_snapshot

        flipped = view.drift is not None and view.drift.drifted != self._stored_verdict
        due = now - self._snapshot_at >= self.settings.snapshot_every_s
        if self._snapshots and not due and not flipped:
            return view  # a verdict that flips is stored (and judged) at once
        summary = summarize(view)
        prediction = view.prediction_drift.to_dict() if view.prediction_drift else None
        record_snapshot(ws, summary, view.drift.columns if view.drift else (), prediction)
        self._snapshot_at, self._snapshots = now, self._snapshots + 1
        self._stored_verdict = bool(view.drift and view.drift.drifted)
        alerts = evaluate_rules(ws, summary)
        retraining = self._maybe_retrain(ws)
        return _replace(
            view, alerts=tuple(alerts), snapshots=self._snapshots, retraining=retraining
        )

    def _maybe_retrain(self, ws: Workspace) -> str | None:
        """Start a retraining job when the deployment's policy asks for one now."""
        from pipelines.retrain.jobs import start_from_policy
        from pipelines.retrain.policy import get_policy, should_retrain

        reason = should_retrain(ws, self.facts.name)
        if reason is None:
            return None
        policy = get_policy(ws, self.facts.name)
        labels = self.labelled_rows() if policy is not None and policy.append_labels else None
        try:
            job = start_from_policy(ws, self.facts.name, reason, labels)
        except WorkbenchError as exc:
            return f"retraining could not start: {exc}"
        return f"retraining job {job.id} started: {reason}"

    def labelled_rows(self) -> Any:
        """The window's answered rows whose label arrived, with the label as the target
        column (what a retraining may append as a new dataset version); None if none."""
        import pandas as pd

        rows = []
        for entry in self.window.answered():
            for row, label in zip(entry.inputs or [], entry.labels or [], strict=False):
                if label is not None:
                    rows.append(
                        {**{k: row.get(k) for k in self.facts.features}, self.facts.target: label}
                    )
        return pd.DataFrame.from_records(rows) if rows else None

    def _push(self, column: str, score: Any) -> None:
        values = self.history.setdefault(column, deque(maxlen=HISTORY))
        values.append(None if score is None else float(score))


def _typed_like(frame: Any, other: Any) -> Any:
    """`frame` with its all-missing columns given the numeric dtype `other` has for them,
    so joining the two keeps numbers numeric (pandas would otherwise make them objects)."""
    empty = [c for c in frame.columns if c in other.columns and frame[c].isna().all()]
    numeric = {c: "float64" for c in empty if other[c].dtype.kind in "iufb"}
    return frame.astype(numeric) if numeric else frame


def _numbers_as_numbers(frame: Any) -> Any:
    """A column of numbers stays numeric when a batch of only missing values (object
    dtype) joined it, as it would have been had the whole window been read at once."""
    import pandas as pd

    for column in frame.select_dtypes(include="object").columns:
        kind = pd.api.types.infer_dtype(frame[column], skipna=True)
        if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
            frame[column] = pd.to_numeric(frame[column])
    return frame


def summarize(view: WatchView) -> Any:
    """The window as the alert rules see it."""
    from pipelines.alerts.rules import WindowSummary

    drift = view.drift
    real = {m.name: m.value for m in view.real.metrics} if view.real else {}
    estimated = (
        {"accuracy": view.estimated.accuracy, "f1": view.estimated.f1} if view.estimated else {}
    )
    return WindowSummary(
        deployment=view.deployment,
        window_end=datetime.now(UTC),
        rows=view.window_rows,
        dataset_drifted=bool(drift and drift.drifted),
        drift_share=drift.share if drift else 0.0,
        drifted_columns=tuple(c.column for c in drift.columns if c.drifted) if drift else (),
        real_metrics=real,
        estimated_metrics=estimated,
        error_rate=view.traffic.error_rate if view.traffic and view.traffic.requests else None,
        unseen_columns=tuple(view.schema.unseen) if view.schema else (),
    )


def _predictions(ws: Workspace, facts: DeploymentFacts) -> PreparedReference | None:
    """The run's held-out predictions as the reference of prediction drift (what the model
    answered on data like its training data); None when the run kept none."""
    import pandas as pd

    from pipelines.drift import DriftOptions, PreparedReference
    from pipelines.registry.versions import resolve
    from pipelines.runs.held_out import held_out_predictions

    try:
        held = held_out_predictions(ws, resolve(ws, facts.model_ref).run_id)
    except WorkbenchError:
        return None
    if facts.task == "classification":
        frame = pd.DataFrame({PREDICTION: [str(v) for v in held.y_pred]})
        options = DriftOptions(columns=(PREDICTION,), categorical=(PREDICTION,))
    else:
        frame = pd.DataFrame({PREDICTION: [float(v) for v in held.y_pred]})
        options = DriftOptions(columns=(PREDICTION,), numerical=(PREDICTION,))
    return PreparedReference.prepare(frame, options)


def _replace(view: WatchView, **changes: Any) -> WatchView:
    from dataclasses import replace

    return replace(view, **changes)
