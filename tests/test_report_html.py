"""HTML reports of a real sweep and real runs: one self-contained page whose tables and
figures carry the runs' recorded values, written atomically through the CLI and the API."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines.reports.content import format_value
from pipelines.reports.writing import write_runs_report, write_sweep_report
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord, SweepRecord
from tests.sweep_helpers import add_sample
from workbench.cli import main


class Page(HTMLParser):
    """A report page taken apart: tag attributes, scripts, figures, tables, summary facts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.scripts: list[str] = []  # inline code
        self.figures: dict[str, dict] = {}  # placeholder id -> figure JSON
        self.tables: list[list[list[str]]] = []
        self.facts: dict[str, str] = {}
        self.row_classes: list[list[list[str]]] = []  # per table, per row: its classes
        self._script: tuple[str, str] | None = None  # (kind, id)
        self._buffer: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._row_class = ""
        self._dt: str | None = None
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.attributes += [(tag, k, v) for k, v in values.items()]
        if tag == "script":
            kind = "figure" if values.get("type") == "application/json" else "code"
            self._script, self._buffer = (kind, values.get("id", "")), []
        elif tag == "table":
            self.tables.append([])
            self.row_classes.append([])
        elif tag == "tr":
            self._row, self._row_class = [], values.get("class", "")
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("dt", "dd"):
            self._in, self._buffer = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            kind, ident = self._script
            text = "".join(self._buffer)
            if kind == "figure":
                self.figures[ident.removesuffix("-data")] = json.loads(text)
            else:
                self.scripts.append(text)
            self._script = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self.row_classes[-1].append(self._row_class.split())
            self._row = None
        elif tag == "dt":
            self._dt, self._in = "".join(self._buffer).strip(), None
        elif tag == "dd" and self._dt is not None:
            self.facts[self._dt], self._in = "".join(self._buffer).strip(), None

    def handle_data(self, data: str) -> None:
        if self._script is not None or self._in is not None:
            self._buffer.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, first: list[str]) -> list[list[str]]:
        """The table whose header starts with ``first``."""
        return next(t for t in self.tables if t and t[0][: len(first)] == first)

    def classes(self, table: list[list[str]], first_cell: str) -> list[str]:
        """The classes of the table's row whose first cell is ``first_cell``."""
        index = next(i for i, row in enumerate(table) if row and row[0] == first_cell)
        return self.row_classes[self.tables.index(table)][index]


@pytest.fixture
def boosted(workspace: Workspace) -> tuple[SweepRecord, list[RunRecord]]:
    """A real LightGBM sweep: 5 complete trials with per-iteration curves and importances."""
    add_sample(workspace, "wine", "cultivar")
    spec = {"dataset": "wine", "model": "lightgbm", "metric": "accuracy", "trials": 5}
    created = sweeps.create_sweep(workspace, {**spec, "folds": 3, "pruner": "none"})
    run_worker(workspace, created.sweep.id)
    sweep = repo.get_sweep(workspace.db, created.sweep.id)
    return sweep, repo.list_runs(workspace.db, sweep_id=sweep.id, order_by="trial")


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_self_contained(text: str, page: Page) -> None:
    """No fetch of any kind, and plotly.js inline exactly once."""
    from plotly.offline import get_plotlyjs

    plotlyjs = get_plotlyjs()
    assert text.count(plotlyjs) == 1
    assert sum(1 for s in page.scripts if "plotly.js" in s[:200]) == 1
    for tag, name, value in page.attributes:
        assert not (tag == "script" and name == "src"), value
        if name in ("src", "href"):
            assert not value.startswith(("http:", "https:", "//")), (tag, name, value)
    rest = text.replace(plotlyjs, "")
    for fetch in ('src="http', "href='http", 'href="http', "//cdn", "@import", "url(http"):
        assert fetch not in rest
    assert "<link" not in rest


def test_sweep_report_html(
    workspace: Workspace,
    boosted: tuple[SweepRecord, list[RunRecord]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    sweep, runs = boosted
    target = tmp_path / "sweep.html"
    code, out, err = cli(
        capsys, workspace, "report", "sweep", str(sweep.id), "--format", "html", "-o", str(target)
    )
    assert code == 0 and out == "" and err.strip() == f"wrote {target}"
    text = target.read_text(encoding="utf-8")
    page = Page(text)
    assert_self_contained(text, page)
    assert text.startswith("<!DOCTYPE html>") and f"<title>Sweep {sweep.id}: " in text

    complete = [r for r in runs if r.status == "complete" and r.value is not None]
    best = next(r for r in runs if r.id == sweep.best_run_id)
    assert page.facts["Best value"] == (
        f"{format_value(sweep.best_value)} (run {best.id}, trial {best.trial_number})"
    )
    assert page.facts["Dataset"] == f"wine@D0 (sha {sweep.dataset_sha[:12]})"
    assert page.facts["Metric"] == "accuracy (maximize)"
    assert page.facts["Trials"].startswith(f"{len(runs)} of 5 requested")
    for name, value in sweep.best_params.items():
        assert f"{name}={format_value(value)}" in page.facts["Best params"]

    history = page.table(["trial", "value", "best so far"])
    assert [int(row[0]) for row in history[1:]] == [r.trial_number for r in complete]
    assert [row[1] for row in history[1:]] == [format_value(r.value) for r in complete]
    top = page.table(["rank", "run", "trial"])
    assert int(top[1][1]) == sweep.best_run_id and top[1][3] == format_value(sweep.best_value)
    assert {int(row[1]) for row in top[1:]} == {r.id for r in complete}
    assert "best" in page.classes(top, "1")

    figures = page.figures
    assert set(figures) == {"plot-history", "plot-parallel", "plot-importances", "plot-slices"}
    values, bests = figures["plot-history"]["data"]
    assert values["x"] == [r.trial_number for r in complete]
    assert values["y"] == pytest.approx([r.value for r in complete])
    assert bests["y"][-1] == pytest.approx(sweep.best_value)
    searched = [k for k, d in sweep.spec["search_space"].items() if d["kind"] != "fixed"]
    parallel = figures["plot-parallel"]["data"][0]
    labels = [d["label"] for d in parallel["dimensions"]]
    assert labels[-1] == "accuracy"
    assert parallel["dimensions"][-1]["values"] == pytest.approx([r.value for r in complete])
    assert {label.removeprefix("log10(").rstrip(")") for label in labels[:-1]} <= set(searched)
    slices = figures["plot-slices"]
    titles = [a["text"] for a in slices["layout"]["annotations"]]
    assert titles == [label.removeprefix("log10(").rstrip(")") for label in labels[:-1]]
    for trace, name in zip(slices["data"], titles, strict=True):
        assert trace["y"] == pytest.approx([r.value for r in complete])
        assert trace["x"] == pytest.approx([float(r.params[name]) for r in complete])
    importances = figures["plot-importances"]["data"][0]
    assert set(importances["y"]) <= set(searched) and sum(importances["x"]) == pytest.approx(1)

    compared = next(t for t in page.tables if t[0][0] == "" and t[0][1].startswith("run "))
    assert compared[0][1].startswith(f"run {sweep.best_run_id} (trial {best.trial_number})")
    accuracy = next(row for row in compared if row[0] == "accuracy")
    assert accuracy[1] == f"{format_value(sweep.best_value)} ★"
    assert "differs" in page.classes(compared, "accuracy")
    lineage = page.table(["run", "trial", "dataset", "data sha"])
    assert {int(row[0]) for row in lineage[1:]} == {r.id for r in complete}
    assert all(row[3] == sweep.dataset_sha[:12] for row in lineage[1:])
    libraries = page.table(["library"])
    versions = {row[0]: row[1:] for row in libraries[1:]}
    assert versions["lightgbm"][0] == best.environment["libraries"]["lightgbm"]
    assert not list(tmp_path.glob(".*partial"))


def test_runs_report_html(
    workspace: Workspace, boosted: tuple[SweepRecord, list[RunRecord]], tmp_path: Path
) -> None:
    _, runs = boosted
    a, b, c = runs[:3]
    path = write_runs_report(workspace, [a.id, b.id, c.id], "html", baseline=b.id)
    assert path.parent == workspace.root / "reports" and path.suffix == ".html"
    assert path.name.startswith(f"runs-{a.id}-{b.id}-{c.id}-")
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert_self_contained(text, page)

    listed = page.table(["run", "sweep", "trial", "status"])
    assert [row[0] for row in listed[1:]] == [str(a.id), f"{b.id} (baseline)", str(c.id)]
    assert [row[2] for row in listed[1:]] == [str(r.trial_number) for r in (a, b, c)]
    compared = next(t for t in page.tables if t[0][0] == "")
    assert "baseline" in compared[0][2]
    accuracy = next(row for row in compared if row[0] == "accuracy")
    assert accuracy[2].split()[0] == format_value(b.value)
    for cell, run in ((accuracy[1], a), (accuracy[3], c)):
        assert cell.split()[0] == format_value(run.value)
        assert f"({run.value - b.value:+.3g})" in cell
    assert sum("★" in cell for cell in accuracy[1:]) == 1

    figures = page.figures
    curves = [f for name, f in figures.items() if name.startswith("plot-curve-")]
    assert curves, "LightGBM runs record per-iteration curves"
    for figure in curves:
        key = figure["layout"]["yaxis"]["title"]["text"]
        for trace in figure["data"]:
            run_id = int(trace["name"].removeprefix("run "))
            recorded = repo.metric_points(workspace.db, run_id)[key]
            assert trace["y"] == pytest.approx([v for _, v in recorded])
    folds = figures["plot-folds"]["data"]
    assert [t["y"] for t in folds] == [pytest.approx(r.fold_scores) for r in (a, b, c)]
    features = figures["plot-features"]["data"]
    assert [t["name"] for t in features] == [f"run {r.id}" for r in (a, b, c)]
    shares = repo.metric_points(workspace.db, a.id)
    top = max(
        (k for k in shares if k.startswith("importance:")), key=lambda k: shares[k][0][1]
    ).removeprefix("importance:")
    assert features[0]["y"][0] == top
    lineage = page.table(["run", "trial", "dataset", "data sha"])
    assert [row[3] for row in lineage[1:]] == [r.dataset_sha[:12] for r in (a, b, c)]
    python = a.environment["python"]
    assert lineage[1][5] == python

    second = write_sweep_report(workspace, a.sweep_id, "html", output=tmp_path / "s.html")
    assert second == tmp_path / "s.html" and second.stat().st_size > 1_000_000


def test_html_errors_are_one_line_and_write_nothing(
    workspace: Workspace, boosted: tuple[SweepRecord, list[RunRecord]],
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:  # fmt: skip
    sweep, _ = boosted
    reports = workspace.root / "reports"

    code, out, err = cli(capsys, workspace, "report", "sweep", str(sweep.id), "--format", "pdf")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown report format 'pdf' (use md or html)" in err
    assert list(reports.iterdir()) == []
    with pytest.raises(WorkbenchError, match="unknown report format"):
        write_sweep_report(workspace, sweep.id, "pdf", output=tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()

    missing = tmp_path / "missing" / "x.html"
    code, _, err = cli(
        capsys, workspace, "report", "sweep", str(sweep.id), "--format", "html", "-o", str(missing)
    )
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no such folder" in err
    assert not missing.parent.exists()

    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(WorkbenchError, match="cannot write"):
        write_sweep_report(workspace, sweep.id, "html", output=blocker / "x.html")

    folder = tmp_path / "taken.html"  # a folder where the file should go
    folder.mkdir()
    code, _, err = cli(
        capsys, workspace, "report", "sweep", str(sweep.id), "--format", "html", "-o", str(folder)
    )
    assert code == 1 and len(err.strip().splitlines()) == 1 and "cannot write" in err
    assert folder.is_dir() and not any(folder.iterdir())
    assert not list(tmp_path.glob(".*partial")) and list(reports.iterdir()) == []

    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(WorkbenchError, match="cannot write"):
            write_sweep_report(workspace, sweep.id, "html", output=locked / "x.html")
        assert not any(locked.iterdir())


def test_html_values_are_escaped() -> None:
    import plotly.graph_objects as go

    from pipelines.reports.html import definition_list, figure_html, table

    hostile = '</script><script>alert("x")</script> & <!--'
    html = table(["<b>name</b>"], [[hostile]]) + definition_list([("<i>", hostile)])
    assert "<script>" not in html and "</script>" not in html and "<b>" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in html and "&amp; &lt;!--" in html
    figure = figure_html(go.Figure(go.Bar(x=[hostile], y=[1.5])), "hostile")
    data = figure.split('id="plot-hostile-data">', 1)[1].removesuffix("</script>")
    assert "<" not in data
    assert json.loads(data)["data"][0]["x"] == [hostile]
