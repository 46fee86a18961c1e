"""Reports as GitHub-flavoured Markdown, ready to paste into a pull request. Only formats
the records that pipelines.reports.content assembles, so an HTML renderer shows the same facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pipelines.reports.content import (
    RunsReport,
    SweepReport,
    format_duration,
    format_value,
    top_runs_table,
)
from pipelines.runs.compare import Comparison

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60
SECTION_TITLES = {"metric": "metrics", "param": "params", "lineage": "lineage"}


def render_sweep(report: SweepReport) -> str:
    """A sweep report: summary, history, importances, top runs, top-N comparison."""
    s = report.summary
    counts = ", ".join(f"{n} {state}" for state, n in s.counts.items() if n)
    requested = f" of {s.trials_requested} requested" if s.trials_requested else ""
    lines = [f"# {escape(report.title)}", ""]
    lines += [
        f"- **Dataset:** `{s.dataset_ref}` (sha `{s.dataset_sha[:12]}`)",
        f"- **Target:** `{escape(s.target)}` ({s.task})",
        f"- **Model:** {s.model}",
        f"- **Metric:** {s.metric} ({s.direction})",
        f"- **Status:** {s.status}",
        f"- **Trials:** {s.trials}{requested} ({counts or 'none yet'})",
        f"- **Best value:** {format_value(s.best_value)}" + _best_run(s.best_run_id, s.best_trial),
        f"- **Best params:** {_params(s.best_params)}",
        f"- **Elapsed:** {format_duration(s.elapsed_s)}",
        "",
    ]
    lines += _history(report)
    lines += ["## Parameter importances", ""]
    if report.importances:
        rows = [[name, f"{share:.3f}", _bar(share)] for name, share in report.importances.items()]
        lines += table(["parameter", "importance", ""], rows)
    else:
        lines.append("_Not enough complete trials (or no varied parameter) to estimate._")
    lines += [*(f"> {escape(note)}" for note in report.notes), ""]
    lines += [f"## Top {len(report.top_runs)} runs", ""]
    if report.top_runs:
        header, rows = top_runs_table(report)
        lines += [*table(header, rows), ""]
    else:
        lines += ["_No complete runs yet._", ""]
    if report.comparison is not None:
        lines += [f"## Top {len(report.comparison.runs)} compared", ""]
        lines += [*comparison_table(report.comparison, ("metric", "param")), ""]
    lines += footer(report.generated_at)
    return "\n".join(lines)


def render_runs(report: RunsReport) -> str:
    """A runs report: one bullet per run, the comparison, then each run's lineage."""
    comparison = report.comparison
    lines = [f"# {escape(report.title)}", ""]
    for index, run in enumerate(comparison.runs):
        mark = " (baseline)" if index == comparison.baseline else ""
        lines.append(
            f"- **Run {run.id}**{mark}: sweep {run.sweep_id}, trial {run.trial_number}, "
            f"{run.status}, value {format_value(run.value)}, {format_duration(run.duration_s)}"
        )
    lines += ["", "## Comparison", ""]
    lines += [*comparison_table(comparison, ("metric", "param")), ""]
    lines += ["## Lineage", ""]
    header = ["run", "dataset", "data sha", "seed", "python", "git commit", "platform"]
    rows = [
        [
            str(item.run_id),
            item.dataset_ref,
            item.dataset_sha[:12],
            str(item.seed),
            format_value(item.python),
            _commit(item.git_commit, item.git_dirty),
            format_value(item.platform),
        ]
        for item in report.lineage
    ]
    lines += [*table(header, rows), ""]
    libraries = list(dict.fromkeys(name for item in report.lineage for name in item.libraries))
    if libraries:
        lines += ["### Libraries", ""]
        header = ["library", *(f"run {item.run_id}" for item in report.lineage)]
        rows = [
            [name, *(format_value(item.libraries.get(name)) for item in report.lineage)]
            for name in libraries
        ]
        lines += [*table(header, rows), ""]
    lines += footer(report.generated_at)
    return "\n".join(lines)


def comparison_table(comparison: Comparison, sections: Sequence[str]) -> list[str]:
    """Runs as columns; differing rows' names in bold, metric deltas against the baseline
    in brackets, ★ on the best run."""
    header = [""]
    for index, run in enumerate(comparison.runs):
        mark = " · baseline" if index == comparison.baseline else ""
        header.append(f"run {run.id} (trial {run.trial_number}){mark}")
    rows = []
    for row in comparison.rows:
        if row.section not in sections:
            continue
        name = f"{SECTION_TITLES.get(row.section, row.section)}: {row.name}"
        cells = [f"**{name}**" if row.differs else name]
        for i, value in enumerate(row.values):
            text = format_value(value)
            delta = row.deltas[i]
            if delta is not None and i != comparison.baseline:
                text += f" ({delta:+.3g})"
            cells.append(f"{text} ★" if i == row.best else text)
        rows.append(cells)
    return table(header, rows)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GFM table with every cell escaped."""
    lines = ["| " + " | ".join(escape(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return lines


def escape(text: str) -> str:
    """Safe inside a table cell: pipes escaped, line breaks flattened."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """Values as block characters, low to high; longer series are sampled to ``width``."""
    if not values:
        return ""
    if len(values) > width:
        step = (len(values) - 1) / (width - 1)
        values = [values[round(i * step)] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return SPARK[len(SPARK) // 2] * len(values)
    top = len(SPARK) - 1
    return "".join(SPARK[round((v - low) / (high - low) * top)] for v in values)


def footer(moment: datetime) -> list[str]:
    return ["---", "", f"_Generated by workbench at {moment:%Y-%m-%d %H:%M:%S} UTC._", ""]


def _history(report: SweepReport) -> list[str]:
    lines = ["## Optimization history", ""]
    if not report.history:
        return [*lines, "_No complete trials yet._", ""]
    best = [p.best for p in report.history]
    lines += [
        f"Best so far: `{sparkline(best)}` "
        f"({format_value(best[0])} → {format_value(best[-1])} over {len(best)} trials)",
        "",
        "<details><summary>Every complete trial</summary>",
        "",
    ]
    rows = [[str(p.trial), format_value(p.value), format_value(p.best)] for p in report.history]
    lines += [*table(["trial", "value", "best so far"], rows), "", "</details>", ""]
    return lines


def _best_run(run_id: int | None, trial: int | None) -> str:
    if run_id is None:
        return ""
    return f" (run {run_id}" + (f", trial {trial})" if trial is not None else ")")


def _params(params: dict[str, object]) -> str:
    if not params:
        return "-"
    return ", ".join(f"`{name}={format_value(value)}`" for name, value in params.items())


def _bar(share: float, width: int = 20) -> str:
    return "█" * max(0, round(share * width))


def _commit(commit: str | None, dirty: bool | None) -> str:
    if not commit:
        return "-"
    return f"`{commit[:12]}`" + (" (dirty)" if dirty else "")
