"""What the drift panel draws, as text and table rows: kept apart from the screen so the
screen only routes messages and keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from pipelines.inert import inert
from screens.formatting import BARS
from screens.widgets.tables import TableRow

if TYPE_CHECKING:
    from pipelines.drift import Histogram
    from pipelines.watch.watcher import WatchView
    from storage.records import AlertRecord, DriftSnapshotRecord, RetrainJobRecord

COLUMNS = (
    ("column", "column"),
    ("test", "method"),
    ("score", "score"),
    ("thr", "threshold"),
    ("drift", "drift"),
    ("past windows", "history"),
)
HISTORY_COLUMNS = (
    ("window end", "end"),
    ("rows", "rows"),
    ("drifted", "drifted"),
    ("share", "share"),
    ("real", "real"),
    ("estimated", "estimated"),
    ("errors", "errors"),
    ("unseen", "unseen"),
)
SHORT_METHOD = {
    "wasserstein": "Wasserstein",
    "jensenshannon": "J-S",
    "psi": "PSI",
    "ks": "K-S p",
    "chisquare": "chi² p",
    "z": "Z p",
}
HISTORY_CELLS = 16
WIDEST = {"column": 20, "method": 12}  # a long column name must not push the scores away


def summary_text(view: WatchView, window: str) -> Text:
    """Three short lines (they fit 80 columns): what is compared, the dataset verdict with
    prediction drift, and traffic with schema drift."""
    text = Text()
    text.append(f"{inert(view.deployment)} · {inert(view.model_ref)}", style="bold")
    text.append(f" · {view.window_rows} rows ({window}) vs {inert(view.reference_label)}\n")
    drift = view.drift
    if drift is None:
        text.append(view.note or "no drift computed yet", style="yellow")
    else:
        verdict, style = ("DATASET DRIFT", "bold red") if drift.drifted else ("no drift", "green")
        text.append(verdict, style=style)
        text.append(
            f": {drift.drifted_count}/{drift.tested_count} columns "
            f"({drift.share:.2f} {'≥' if drift.drifted else '<'} {drift.threshold:.2f})"
        )
        prediction = view.prediction_drift
        if prediction is not None and prediction.score is not None:
            said = "drift" if prediction.drifted else "steady"
            style = "red" if prediction.drifted else ""
            text.append(" · predictions ")
            text.append(
                f"{said} ({_method(prediction.method)} {prediction.score:.2g})", style=style
            )
    text.append("\n")
    traffic = view.traffic
    if traffic is not None:
        p50 = "–" if traffic.p50_ms is None else f"{traffic.p50_ms:.0f}"
        p99 = "–" if traffic.p99_ms is None else f"{traffic.p99_ms:.0f}"
        text.append(f"{traffic.rate_per_s:.1f} req/s · p50/p99 {p50}/{p99} ms · ")
        text.append(f"{traffic.errors} errors", style="red" if traffic.errors else "")
    if view.schema is not None:
        text.append(" · schema ")
        if view.schema.drifted:
            text.append(view.schema.sentences()[0], style="yellow")
        else:
            text.append("ok")
    return text


def performance_text(view: WatchView) -> Text:
    """Real performance over the labelled rows beside the estimate, and what the estimate
    assumes (said wherever the estimate is shown)."""
    text = Text()
    real, estimated = view.real, view.estimated
    if real is not None and real.metrics:
        parts = [f"{m.name} {m.value:.3f}" for m in real.metrics]
        trained = [f"{m.training:.3f}" for m in real.metrics if m.training is not None]
        text.append("real ", style="bold")
        text.append(" ".join(parts), style="red" if _degraded(view) else "")
        text.append(f" (training {'/'.join(trained)}, {real.labelled} labels)" if trained else "")
    else:
        text.append("real: no labels yet", style="dim")
    if estimated is not None:
        text.append("\nest. ", style="bold")
        text.append(
            f"accuracy {estimated.accuracy:.3f}±{2 * estimated.accuracy_std_error:.3f} "
            f"f1 {estimated.f1:.3f} "
        )
        text.append("(CBPE: if calibrated, no concept shift)", style="dim")
    return text


def _degraded(view: WatchView, by: float = 0.05) -> bool:
    """Whether a real metric is worse than its training score by more than `by`."""
    metrics = view.real.metrics if view.real is not None else ()
    return any(m.worse and m.change is not None and abs(m.change) > by for m in metrics)


def column_rows(view: WatchView) -> list[TableRow]:
    rows = []
    drift = view.drift
    for column in drift.columns if drift is not None else ():
        if column.tested:
            score = f"{column.score:.3g}"
            verdict = Text("yes", style="bold red") if column.drifted else Text("no", style="green")
        else:
            score, verdict = "–", Text(column.note or "untested", style="dim")
        rows.append(
            TableRow(
                column.column,
                [
                    inert(column.column),
                    _method(column.method),
                    score,
                    f"{column.threshold:g}",
                    verdict,
                    score_sparkline(view.history.get(column.column, ())),
                ],
            )
        )
    return rows


def score_sparkline(scores: tuple[float | None, ...], cells: int = HISTORY_CELLS) -> str:
    """Past scores, oldest left, scaled to the largest; a gap where no test ran."""
    shown = scores[-cells:]
    known = [s for s in shown if s is not None]
    top = max(known, default=0.0)
    if top <= 0:
        return "".join(" " if s is None else BARS[1] for s in shown)
    return "".join(
        " " if s is None else BARS[max(1, round(s / top * (len(BARS) - 1)))] for s in shown
    )


def history_rows(snapshots: list[DriftSnapshotRecord]) -> list[TableRow]:
    rows = []
    for snapshot in snapshots:
        drifted = sum(1 for c in snapshot.columns if c.drifted)
        verdict = Text(
            f"{drifted}/{len(snapshot.columns)}",
            style="bold red" if snapshot.dataset_drifted else "",
        )
        rows.append(
            TableRow(
                f"{snapshot.window_end.isoformat()}-{id(snapshot)}",
                [
                    f"{snapshot.window_end:%Y-%m-%d %H:%M:%S}",
                    str(snapshot.rows),
                    verdict,
                    f"{snapshot.drift_share:.2f}",
                    _metrics(snapshot.real_metrics),
                    _metrics(snapshot.estimated_metrics),
                    "–" if snapshot.error_rate is None else f"{snapshot.error_rate:.1%}",
                    ", ".join(inert(c) for c in snapshot.unseen_columns) or "–",
                ],
            )
        )
    return rows


def draw_histogram(plt: Any, histogram: Histogram | None, column: str | None) -> str:
    """Reference and current shares of one column over each other; returns the note."""
    plt.clear_figure()
    if histogram is None:
        return "no histogram: the column is untested in this window" if column else ""
    if histogram.edges is not None:
        edges = histogram.edges
        centres = [(edges[i] + edges[i + 1]) / 2 for i in range(len(edges) - 1)]
        plt.plot(centres, list(histogram.reference), label="reference", marker="braille")
        plt.plot(centres, list(histogram.current), label="current", marker="braille")
    else:
        labels = [inert(c)[:10] for c in histogram.categories or ()]
        shares = [list(histogram.reference), list(histogram.current)]
        plt.multiple_bar(labels, shares, labels=["reference", "current"])
    plt.title(f"{inert(histogram.column)}: share per {'bin' if histogram.edges else 'category'}")
    return ""


def _method(name: str) -> str:
    return SHORT_METHOD.get(name, name)


def _metrics(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in values.items()) or "–"


def alerts_and_jobs(alerts: list[AlertRecord], jobs: list[RetrainJobRecord]) -> str:
    """The alerts raised (newest first, with their command's outcome) and each retraining
    job with every step it took, as plain text to read."""
    lines = ["Alerts", ""]
    for alert in alerts:
        outcome = f" · command {alert.command_status}" if alert.command_status else ""
        lines.append(
            f"{alert.raised_at:%Y-%m-%d %H:%M:%S}  {alert.kind}  {inert(alert.message)}{outcome}"
        )
    if not alerts:
        lines.append("none raised yet (rules: `workbench alerts rule ls`)")
    lines += ["", "Retraining jobs", ""]
    for job in jobs:
        scores = ""
        if job.champion_score is not None and job.challenger_score is not None:
            scores = f" · champion {job.champion_score:.4f}, challenger {job.challenger_score:.4f}"
        lines.append(f"job {job.id} {job.status} ({inert(job.reason)}){scores}")
        for step in job.steps:
            detail = inert(str(step.get("detail") or ""))
            lines.append(f"    {step.get('name')}: {step.get('status')} {detail}")
        if job.error:
            lines.append(f"    error: {inert(job.error)}")
    if not jobs:
        lines.append("none yet (R retrains, or a policy: `workbench retrain policy`)")
    return "\n".join(lines)
