"""The full drift report, made by Evidently itself (HTML or JSON) from the same frames the
fast engine (pipelines/drift) compares, with the same column kinds, methods, thresholds and
drift share, so the exported report and the panel agree.

Evidently takes seconds to import and seconds per report, so it never runs in the caller's
process: `export_drift_report` writes both frames to Parquet and runs
`python -m pipelines.reports.drift_report` in a child process, which writes the report
beside its destination and moves it into place only when whole. The CLI waits on it; the
TUI calls it from a background worker."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = (".html", ".json")
TIMEOUT_S = 600.0


class DriftReportError(WorkbenchError):
    """The report could not be made; the message is one line."""


@dataclass(frozen=True)
class ReportSpec:
    """What Evidently is told: the columns and their kinds (as the engine inferred them, so
    both sides classify a column alike), and the engine's overrides."""

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    drift_share: float = 0.5
    method: str | None = None
    threshold: float | None = None
    per_column_method: Mapping[str, str] = field(default_factory=dict)
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)


def report_format(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise DriftReportError(f"{out}: a drift report is written as .html or .json")
    return suffix


def export_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    out: Path,
    spec: ReportSpec,
    *,
    timeout_s: float = TIMEOUT_S,
) -> Path:
    """Write Evidently's report on the two frames to `out` (.html or .json), from a child
    process; returns `out`. A failure leaves nothing at `out` and says why in one line."""
    report_format(out)
    if not out.parent.is_dir():
        raise DriftReportError(f"{out.parent}: no such folder for the report")
    columns = [*spec.numerical, *spec.categorical]
    if not columns:
        raise DriftReportError("no column both sides share to report on")
    with tempfile.TemporaryDirectory(prefix="workbench-drift-") as scratch:
        folder = Path(scratch)
        reference[columns].to_parquet(folder / "reference.parquet")
        current[columns].to_parquet(folder / "current.parquet")
        (folder / "spec.json").write_text(json.dumps(asdict(spec)), encoding="utf-8")
        command = [sys.executable, "-m", "pipelines.reports.drift_report", str(folder), str(out)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, cwd=_project_root()
            )
        except subprocess.TimeoutExpired:
            raise DriftReportError(
                f"Evidently did not finish the report in {timeout_s:.0f} s"
            ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise DriftReportError(f"Evidently could not make the report: {_last(lines)}")
    return out


def _project_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _last(lines: Sequence[str]) -> str:
    return " ".join(lines[-1].split())[:300] if lines else "no output"


def _write(folder: Path, out: Path) -> None:
    """The child's work: Evidently's DataDriftPreset over the frames, written atomically."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    spec = ReportSpec(**json.loads((folder / "spec.json").read_text(encoding="utf-8")))
    definition = DataDefinition(
        numerical_columns=list(spec.numerical), categorical_columns=list(spec.categorical)
    )
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    preset = DataDriftPreset(
        drift_share=spec.drift_share,
        method=spec.method,
        threshold=spec.threshold,
        per_column_method=dict(spec.per_column_method) or None,
        per_column_threshold=dict(spec.per_column_threshold) or None,
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        if report_format(out) == ".html":
            snapshot.save_html(str(partial))
        else:
            snapshot.save_json(str(partial))
        os.chmod(partial, 0o666 & ~_umask())  # as any file the user writes, not private
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.reports.drift_report")
    parser.add_argument("folder", type=Path, help="reference.parquet, current.parquet, spec.json")
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    try:
        _write(args.folder, args.out)
    except Exception as exc:  # the parent shows the last line, never a traceback
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


def spec_for(kinds: Mapping[str, str], options: Any = None) -> ReportSpec:
    """The spec matching an engine run: `kinds` maps each tested column to "num" or "cat";
    `options` is the run's pipelines.drift.DriftOptions (None: Evidently's defaults)."""
    numerical = tuple(c for c, k in kinds.items() if k == "num")
    categorical = tuple(c for c, k in kinds.items() if k == "cat")
    if options is None:
        return ReportSpec(numerical, categorical)
    methods = {c: r.method for c, r in options.rules.items() if r.method is not None}
    thresholds = {c: r.threshold for c, r in options.rules.items() if r.threshold is not None}
    return ReportSpec(
        numerical,
        categorical,
        drift_share=options.drift_share,
        method=options.method,
        threshold=options.threshold,
        per_column_method=methods,
        per_column_threshold=thresholds,
    )


if __name__ == "__main__":
    raise SystemExit(main())
