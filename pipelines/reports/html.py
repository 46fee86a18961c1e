"""Reports as one self-contained HTML page: the same records as the Markdown, as tables, plus
interactive Plotly figures. plotly.js is embedded once, inline, so the page works offline;
each figure is JSON in a ``<script type="application/json">`` that the page draws on load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from pipelines.reports.content import (
    RunLineage,
    RunsReport,
    SweepReport,
    format_duration,
    format_value,
    top_runs_table,
)
from pipelines.reports.markdown import SECTION_TITLES
from pipelines.runs.compare import Comparison

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

Section = tuple[str, str, str]  # (anchor id, heading, inner html)


def render_sweep(report: SweepReport) -> str:
    """A sweep report: summary, history, parameter plots, importances, top runs, the top-N
    comparison and the lineage of the top runs."""
    from pipelines.reports.plots import sweep_figures

    figures = sweep_figures(report)
    s = report.summary
    counts = ", ".join(f"{n} {state}" for state, n in s.counts.items() if n)
    requested = f" of {s.trials_requested} requested" if s.trials_requested else ""
    best = format_value(s.best_value)
    if s.best_run_id is not None:
        trial = f", trial {s.best_trial}" if s.best_trial is not None else ""
        best += f" (run {s.best_run_id}{trial})"
    facts = [
        ("Dataset", f"{s.dataset_ref} (sha {s.dataset_sha[:12]})"),
        ("Target", f"{s.target} ({s.task})"),
        ("Model", s.model),
        ("Metric", f"{s.metric} ({s.direction})"),
        ("Status", s.status),
        ("Trials", f"{s.trials}{requested} ({counts or 'none yet'})"),
        ("Best value", best),
        ("Best params", _params(s.best_params)),
        ("Elapsed", format_duration(s.elapsed_s)),
    ]
    sections: list[Section] = [("summary", "Summary", definition_list(facts))]
    history = figure_html(figures.get("history"), "history")
    if report.history:
        rows = [[str(p.trial), format_value(p.value), format_value(p.best)] for p in report.history]
        history += _details("Every complete trial", table(["trial", "value", "best so far"], rows))
    else:
        history = _note("No complete trials yet.")
    sections.append(("history", "Optimization history", history))
    if "parallel" in figures:
        sections.append(
            ("parallel", "Parallel coordinates", figure_html(figures["parallel"], "parallel"))
        )
    sections.append(("importances", "Parameter importances", _importances(report, figures)))
    if "slices" in figures:
        sections.append(("slices", "Slices", figure_html(figures["slices"], "slices")))
    sections.append(("top", f"Top {len(report.top_runs)} runs", _top_runs(report)))
    if report.comparison is not None:
        heading = f"Top {len(report.comparison.runs)} compared"
        sections.append(("compared", heading, comparison_table(report.comparison)))
    if report.lineage:
        sections.append(("lineage", "Lineage of the top runs", lineage_tables(report.lineage)))
    subtitle = f"{s.dataset_ref} · {s.model} · {s.metric} ({s.direction}) · {s.status}"
    return page(report.title, subtitle, sections, report.generated_at, figures)


def render_runs(report: RunsReport) -> str:
    """A runs report: the runs, their comparison, curves, fold scores, feature importances
    and lineage."""
    from pipelines.reports.plots import runs_figures

    figures = runs_figures(report)
    comparison = report.comparison
    header = ["run", "sweep", "trial", "status", "value", "± std", "duration"]
    rows, marks = [], []
    for index, run in enumerate(comparison.runs):
        baseline = index == comparison.baseline
        label = f"{run.id} (baseline)" if baseline else str(run.id)
        rows.append(
            [
                label,
                str(run.sweep_id),
                str(run.trial_number),
                run.status,
                format_value(run.value),
                format_value(run.value_std),
                format_duration(run.duration_s),
            ]
        )
        marks.append("baseline" if baseline else "")
    sections: list[Section] = [("runs", "Runs", table(header, rows, marks))]
    sections.append(("comparison", "Comparison", comparison_table(comparison)))
    curves = "".join(
        figure_html(fig, key) for key, fig in figures.items() if key.startswith("curve-")
    )
    note = "None of these runs recorded per-iteration values."
    sections.append(("curves", "Per-iteration curves", curves or _note(note)))
    if "folds" in figures:
        folds = max(len(run.fold_scores) for run in comparison.runs)
        header = ["fold", *(f"run {run.id}" for run in comparison.runs)]
        rows = [
            [str(i), *(format_value(_at(run.fold_scores, i)) for run in comparison.runs)]
            for i in range(folds)
        ]
        html = figure_html(figures["folds"], "folds") + table(header, rows)
        sections.append(("folds", "Scores per fold", html))
    if "features" in figures:
        sections.append(
            ("features", "Feature importances", figure_html(figures["features"], "features"))
        )
    sections.append(("lineage", "Lineage", lineage_tables(report.lineage)))
    subtitle = (
        f"{len(comparison.runs)} runs; baseline run {comparison.runs[comparison.baseline].id}"
    )
    return page(report.title, subtitle, sections, report.generated_at, figures)


def page(
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    generated: datetime,
    figures: dict[str, Figure],
) -> str:
    """The whole document from assets/templates/report.html, with plotly.js inline once."""
    import plotly
    from plotly.offline import get_plotlyjs

    template = resources.files("assets").joinpath("templates/report.html").read_text("utf-8")
    toc = "".join(f'<a href="#{escape(anchor)}">{escape(head)}</a>' for anchor, head, _ in sections)
    body = "\n".join(
        f'<section id="{escape(anchor)}">\n<h2>{escape(head)}</h2>\n{inner}\n</section>'
        for anchor, head, inner in sections
    )
    return Template(template).substitute(
        title=escape(title),
        subtitle=escape(subtitle),
        toc=toc,
        body=body,
        generated=f"{generated:%Y-%m-%d %H:%M:%S}",
        plotly_version=escape(plotly.__version__),
        plotlyjs=get_plotlyjs(),
    )


def figure_html(fig: Figure | None, name: str) -> str:
    """A placeholder div and the figure's JSON beside it (``name`` unique in the page); the
    page's loader draws it."""
    if fig is None:
        return ""
    anchor = f"plot-{escape(name)}"
    data = fig.to_json().replace("<", "\\u003c")  # never ends or upsets the script element
    return (
        f'<div class="plot" id="{anchor}" data-figure="{anchor}-data"></div>\n'
        f'<script type="application/json" class="figure-data" id="{anchor}-data">{data}</script>'
    )


def comparison_table(comparison: Comparison, sections: Sequence[str] = ("metric", "param")) -> str:
    """Runs as columns: differing rows highlighted, deltas against the baseline, the best run
    marked ★; one header row per section."""
    heads = [""]
    for index, run in enumerate(comparison.runs):
        mark = ' <span class="baseline">· baseline</span>' if index == comparison.baseline else ""
        heads.append(f"run {run.id} (trial {run.trial_number}){mark}")
    width = len(comparison.runs) + 1
    lines = ["<thead><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead>"]
    current = None
    for row in comparison.rows:
        if row.section not in sections:
            continue
        if row.section != current:
            current = row.section
            title = escape(SECTION_TITLES.get(row.section, row.section))
            lines.append(f'<tr class="section"><th colspan="{width}">{title}</th></tr>')
        cells = [f"<td>{escape(row.name)}</td>"]
        for i, value in enumerate(row.values):
            text = escape(format_value(value))
            delta = row.deltas[i]
            if delta is not None and i != comparison.baseline:
                text += f' <span class="delta">({delta:+.3g})</span>'
            best = i == row.best
            css = "num best" if best else "num" if _is_number(value) else ""
            cells.append(f'<td class="{css}">{text}{" ★" if best else ""}</td>')
        lines.append(f'<tr class="{"differs" if row.differs else ""}">' + "".join(cells) + "</tr>")
    if current is None:
        lines.append(f'<tr><td colspan="{width}">no rows</td></tr>')
    return '<div class="table-wrap"><table class="comparison">' + "".join(lines) + "</table></div>"


def lineage_tables(lineage: Sequence[RunLineage]) -> str:
    """Where each run came from, then the library versions of each run side by side."""
    header = ["run", "trial", "dataset", "data sha", "seed", "python", "git commit", "platform"]
    rows = [
        [
            str(item.run_id),
            str(item.trial_number),
            item.dataset_ref,
            item.dataset_sha[:12],
            str(item.seed),
            format_value(item.python),
            _commit(item.git_commit, item.git_dirty),
            format_value(item.platform),
        ]
        for item in lineage
    ]
    html = table(header, rows)
    libraries = list(dict.fromkeys(name for item in lineage for name in item.libraries))
    if libraries:
        header = ["library", *(f"run {item.run_id}" for item in lineage)]
        rows = [
            [name, *(format_value(item.libraries.get(name)) for item in lineage)]
            for name in libraries
        ]
        html += "<h3>Libraries</h3>" + table(header, rows)
    return html


def table(header: Sequence[str], rows: Sequence[Sequence[str]], marks: Sequence[str] = ()) -> str:
    """A plain table with every cell escaped; ``marks`` are optional row classes."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = marks[index] if index < len(marks) else ""
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if _looks_numeric(c) else f"<td>{escape(c)}</td>"
            for c in row
        )
        body.append(f'<tr class="{escape(css)}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def definition_list(facts: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    return f'<dl class="summary">{items}</dl>'


def _importances(report: SweepReport, figures: dict[str, Figure]) -> str:
    if not report.importances:
        html = _note("Not enough complete trials (or no varied parameter) to estimate.")
    else:
        rows = [[name, f"{share:.3f}"] for name, share in report.importances.items()]
        html = figure_html(figures.get("importances"), "importances")
        html += _details("Importances as a table", table(["parameter", "importance"], rows))
    return html + "".join(_note(note) for note in report.notes)


def _top_runs(report: SweepReport) -> str:
    if not report.top_runs:
        return _note("No complete runs yet.")
    header, rows = top_runs_table(report)
    marks = ["best" if run.id == report.summary.best_run_id else "" for run in report.top_runs]
    return table(header, rows, marks)


def _details(summary: str, inner: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{inner}</details>"


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _params(params: dict[str, object]) -> str:
    if not params:
        return "-"
    return ", ".join(f"{name}={format_value(value)}" for name, value in params.items())


def _commit(commit: str | None, dirty: bool | None) -> str:
    if not commit:
        return "-"
    return commit[:12] + (" (dirty)" if dirty else "")


def _at(values: Sequence[float], index: int) -> float | None:
    return values[index] if index < len(values) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
