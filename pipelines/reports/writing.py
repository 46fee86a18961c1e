"""Reports written to files: assemble (content), render (markdown or html) and write
atomically, by default under the workspace's reports folder with a name never handed out
twice. The one module that knows every renderer, so the renderers and the content they
format never import each other."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.reports.content import runs_report, sweep_report, utc_now
from storage.errors import WorkbenchError
from storage.handle import Workspace

FORMATS = ("md", "html")
_CLAIMED: set[Path] = set()
_CLAIM_LOCK = threading.Lock()


def check_format(fmt: str) -> None:
    """Refuse a format that does not exist, in one line."""
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown report format {fmt!r} (use {' or '.join(FORMATS)})")


def write_sweep_report(ws: Workspace, sweep_id: int, fmt: str, output: Path | None = None) -> Path:
    """Assemble, render (``md`` or ``html``) and atomically write a sweep report; default
    path under ``<workspace>/reports/``. Returns where it was written."""
    check_format(fmt)
    text = _renderer(fmt).render_sweep(sweep_report(ws, sweep_id))
    return _write(output or default_report_path(ws, f"sweep-{sweep_id}", fmt), text, output)


def write_runs_report(
    ws: Workspace,
    run_ids: list[int],
    fmt: str,
    baseline: int | None = None,
    output: Path | None = None,
) -> Path:
    """Assemble, render and atomically write a report comparing runs; returns the path."""
    check_format(fmt)
    text = _renderer(fmt).render_runs(runs_report(ws, run_ids, baseline))
    return _write(output or default_report_path(ws, runs_stem(run_ids), fmt), text, output)


def runs_stem(run_ids: list[int], prefix: str = "runs", shown: int = 6) -> str:
    """A file name stem naming a few runs: hundreds of ids would pass the name limit."""
    stem = f"{prefix}-" + "-".join(str(r) for r in run_ids[:shown])
    return stem + (f"-and-{len(run_ids) - shown}-more" if len(run_ids) > shown else "")


def default_report_path(ws: Workspace, stem: str, fmt: str, now: datetime | None = None) -> Path:
    """``<workspace>/reports/<stem>-<UTC timestamp>.<fmt>``, never an existing file, and never
    a name already handed out in this process (two exports started in the same second from
    the TUI would otherwise write to one file)."""
    stamp = (now or utc_now()).strftime("%Y%m%d-%H%M%S")
    folder = ws.paths.reports
    path = folder / f"{stem}-{stamp}.{fmt}"
    counter = 2
    with _CLAIM_LOCK:
        while path in _CLAIMED or path.exists():
            path = folder / f"{stem}-{stamp}-{counter}.{fmt}"
            counter += 1
        _CLAIMED.add(path)
    return path


def _renderer(fmt: str) -> Any:
    """The module that renders ``fmt``: ``render_sweep`` and ``render_runs`` to text."""
    if fmt == "html":
        from pipelines.reports import html as report_html

        return report_html
    from pipelines.reports import markdown as report_markdown

    return report_markdown


def _write(path: Path, text: str, explicit: Path | None) -> Path:
    """An explicit output needs an existing folder; the default reports folder is created."""
    from pipelines.runs.export import write_atomically

    return write_atomically(path, text, create_folder=explicit is None)
