"""Runs out of Workbench: a flat CSV (the columns of the runs screen, for spreadsheets and
pandas) or JSON with every recorded field (for scripts that need environment and folds)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.runs.details import list_runs, run_summaries
from pipelines.runs.tables import runs_table
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace

FORMATS = ("csv", "json")


def export_runs(
    ws: Workspace,
    path: Path | str | None,
    fmt: str,
    sweep_id: int | None = None,
    run_ids: Sequence[int] | None = None,
) -> str | Path:
    """Write every run (or one sweep's, or only ``run_ids`` in that order: what a filtered
    table shows) to ``path`` and return it; with no path, return the text instead. The file
    appears whole or not at all."""
    text, _ = render_runs(ws, fmt, sweep_id, run_ids)
    if path is None:
        return text
    return write_atomically(Path(path), text)


def render_runs(
    ws: Workspace, fmt: str, sweep_id: int | None = None, run_ids: Sequence[int] | None = None
) -> tuple[str, int]:
    """The export as text, with the number of runs in it."""
    if fmt not in FORMATS:
        raise WorkbenchError(f"unknown export format {fmt!r} (use {' or '.join(FORMATS)})")
    if sweep_id is not None:
        repo.get_sweep(ws.db, sweep_id)  # an unknown sweep is an error, not an empty file
    if fmt == "csv":
        return _csv(ws, sweep_id, run_ids)
    runs = _only(list_runs(ws, sweep_id=sweep_id, order_by="id"), run_ids, lambda r: r.id)
    text = json.dumps([_plain(r) for r in runs], indent=2, ensure_ascii=False) + "\n"
    return text, len(runs)


def write_atomically(path: Path, text: str, *, create_folder: bool = True) -> Path:
    """Write beside the target, then rename: readers never see half a file, and a failed
    write leaves nothing behind. Without ``create_folder`` a missing folder is an error
    (a typo in an explicit output path should not create directories)."""
    path = Path(path).expanduser()
    if create_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise WorkbenchError(f"cannot write {path}: no such folder {path.parent}")
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        partial.write_text(text, encoding="utf-8", newline="")
        os.replace(partial, path)
    except OSError as exc:
        raise WorkbenchError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return path


def _csv(ws: Workspace, sweep_id: int | None, run_ids: Sequence[int] | None) -> tuple[str, int]:
    """One row per run: the runs-screen columns (params by name, metrics as ``m_``)."""
    table = runs_table(run_summaries(ws, sweep_id))
    rows = _only(table.to_pylist(), run_ids, lambda row: row["run"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row.values()])
    return buffer.getvalue(), len(rows)


def _only(items: list[Any], run_ids: Sequence[int] | None, run_id: Any) -> list[Any]:
    """``items`` cut to ``run_ids`` in their order (all of them when None)."""
    if run_ids is None:
        return items
    by_id = {run_id(item): item for item in items}
    return [by_id[i] for i in run_ids if i in by_id]


def _plain(value: Any) -> Any:
    """Records as JSON-ready values: dataclasses to dicts, datetimes to ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
