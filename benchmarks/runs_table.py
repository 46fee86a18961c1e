"""The Runs screen at 10,000 runs as a real sweep records them, timed from the user's seat.

Runs are copies of runs a real LightGBM sweep recorded (9 parameters, every task metric,
the full environment record, per-iteration curves, fold scores and importances as metric
points), with their parameters and scores varied. Each repetition is a fresh interpreter:
the app is up, ``r`` is pressed, and the clock stops at the first frame painted with the
first run's row on it (the compositor's frame, read as text); the modules that key press
imported are counted. The floor, interleaved in the same run: a minimal app whose key shows
the same number of rows of precomputed plain strings in the same virtualised table.
Prints the figures, the floor and the target (first open ≤ 0.5 s)."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 10_000
REPETITIONS = 5
TARGET_S = 0.5
SIZE = (160, 45)
HEAVY = ("pyarrow", "duckdb", "pandas", "numpy", "sqlalchemy", "scipy", "sklearn", "optuna")
T = TypeVar("T")
SWEEP = {
    "dataset": "wine",
    "target": "cultivar",
    "model": "lightgbm",
    "metric": "accuracy",
    "trials": 2,
    "folds": 3,
    "pruner": "none",
    "params": {
        "reg_alpha": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        "max_depth": {"type": "int", "low": 3, "high": 12},
    },
}


def _vary(value: Any, rng: random.Random) -> Any:
    """A value like ``value`` (same type), as another trial would have drawn it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int):
        return max(1, round(value * rng.uniform(0.5, 1.5)))
    return value * rng.uniform(0.5, 1.5)


def generate(ws: Any, runs: int = RUNS) -> int:
    """A real 2-trial LightGBM sweep, then its complete run copied until the sweep holds
    ``runs`` runs (through the storage tables the worker writes); returns the sweep id."""
    from sqlalchemy import insert

    from pipelines.datasets.versions import register_dataset
    from pipelines.sweeps.lifecycle import create_sweep
    from pipelines.sweeps.worker import run_worker
    from storage import sweeps as repo
    from storage.models_sweeps import MetricPointRow, RunRow

    register_dataset(ws, ROOT / "assets/sample_data/wine.csv", name="wine", target="cultivar")
    sweep_id = create_sweep(ws, SWEEP).sweep.id
    run_worker(ws, sweep_id)
    template = next(r for r in repo.list_runs(ws.db, sweep_id=sweep_id) if r.status == "complete")
    points = repo.metric_points(ws.db, template.id)
    rng = random.Random(0)
    rows, extra = [], runs - len(repo.list_runs(ws.db, sweep_id=sweep_id))
    for i in range(extra):
        status = rng.choice(["complete"] * 8 + ["pruned"])
        value = min(1.0, (template.value or 0.9) * rng.uniform(0.85, 1.05))
        rows.append(
            {
                "sweep_id": sweep_id,
                "trial_number": 2 + i,
                "status": status,
                "params": {k: _vary(v, rng) for k, v in template.params.items()},
                "value": value,
                "value_std": rng.uniform(0, 0.05),
                "fold_scores": [min(1.0, value * rng.uniform(0.95, 1.05)) for _ in range(3)],
                "metrics": {k: _vary(v, rng) for k, v in template.metrics.items()},
                "started_at": template.started_at,
                "finished_at": template.finished_at,
                "duration_s": (template.duration_s or 1.0) * rng.uniform(0.5, 2.0),
                "seed": template.seed,
                "dataset_sha": template.dataset_sha,
                "environment": template.environment,
                "worker": template.worker,
            }
        )
    with ws.db.session_scope() as session:
        session.execute(insert(RunRow), rows)
    ids = [r.id for r in repo.run_summaries(ws.db, sweep_id=sweep_id)][2:]
    copied = [
        {"run_id": run_id, "key": key, "step": step, "value": value}
        for run_id in ids
        for key, curve in points.items()
        for step, value in curve
    ]
    with ws.db.session_scope() as session:
        for start in range(0, len(copied), 200_000):
            session.execute(insert(MetricPointRow), copied[start : start + 200_000])
    return sweep_id


def workspace_with_runs(folder: Path, runs: int = RUNS) -> tuple[Path, int]:
    """``folder/ws`` with ``runs`` runs; a workspace already there is reused (``--keep``)."""
    from storage import sweeps as repo
    from storage.handle import open_workspace

    root = folder / "ws"
    if (root / "ready").is_file():
        return root, int((root / "ready").read_text())
    ws = open_workspace(root)
    try:
        start = time.perf_counter()
        sweep_id = generate(ws, runs)
        run = repo.list_runs(ws.db, sweep_id=sweep_id, limit=1)[0]
        print(
            f"generated {runs:,} runs in {time.perf_counter() - start:.1f} s "
            f"({len(run.params)} params, {len(run.metrics)} metrics, "
            f"{len(run.environment)} environment fields, "
            f"{sum(len(c) for c in repo.metric_points(ws.db, run.id).values())} points each)"
        )
    finally:
        ws.close()
    (root / "ready").write_text(str(sweep_id))
    return root, sweep_id


def timed(label: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - start:.3f} s")
    return result


# --- the timed children (fresh interpreters) ---------------------------------------------


def paint_clock(app: Any, seen: Callable[[str], bool]) -> dict[str, Any]:
    """Wrap the app's frame output: ``result["t"]`` is when the first frame whose screen
    text satisfies ``seen`` was handed to the terminal (stamped before reading it), and
    ``result["modules"]`` the modules imported by then."""
    result: dict[str, Any] = {}
    display = app._display

    def hooked(screen: Any, renderable: Any) -> None:
        stamp = time.perf_counter()
        display(screen, renderable)
        if "t" in result or renderable is None or "armed" not in result:
            return
        modules = set(sys.modules)
        update = screen._compositor.render_update(full=True)  # the screen as just painted
        lines = ("".join(strip.text for strip in line) for line in update.strips)
        if seen("\n".join(lines)):
            result["t"], result["modules"] = stamp, modules

    app._display = hooked
    return result


def row_seen(first_id: int, sweep_id: int) -> Callable[[str], bool]:
    import re

    pattern = re.compile(rf"^\W*{first_id}\s+{sweep_id}\s+0\s+(complete|pruned)\b", re.M)
    return lambda text: bool(pattern.search(text))


async def child_screen(root: Path, first_id: int, sweep_id: int) -> dict[str, Any]:
    from workbench.app import WorkbenchApp

    app = WorkbenchApp(root)
    clock = paint_clock(app, row_seen(first_id, sweep_id))
    async with app.run_test(size=SIZE) as pilot:
        while app.workspace is None:
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        before = set(sys.modules)
        start = time.perf_counter()
        clock["armed"] = start
        await pilot.press("r")
        while "t" not in clock:
            await pilot.pause(0.005)
            if time.perf_counter() - start > 60:
                raise SystemExit("no runs painted after 60 s")
        new = clock["modules"] - before
        await app.workers.wait_for_complete()  # a page read in flight must not meet the exit
    return {
        "s": clock["t"] - start,
        "modules": len(new),
        "heavy": sorted({m.split(".")[0] for m in new} & set(HEAVY)),
    }


async def child_floor(columns: int, count: int = RUNS) -> dict[str, Any]:
    """A minimal app: ``r`` shows ``count`` rows of precomputed strings in a LazyTable."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from screens.widgets.lazy_table import LazyTable
    from screens.widgets.memory_view import MemoryView

    names = ["run", "sweep", "trial", "status", *(f"c{i}" for i in range(columns - 4))]
    rows = [
        (str(i + 1), "1", str(i), "complete", *(f"{0.5 + i / 1e5:.6f}",) * (columns - 4))
        for i in range(count)
    ]

    class Floor(App[None]):
        BINDINGS = [("r", "show", "show")]

        def compose(self) -> ComposeResult:
            yield Static("ready")

        def action_show(self) -> None:
            table = LazyTable()
            self.mount(table)
            table.show(MemoryView(names, ["VARCHAR"] * columns, rows))

    app = Floor()
    clock = paint_clock(app, row_seen(1, 1))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        start = time.perf_counter()
        clock["armed"] = start
        await pilot.press("r")
        while "t" not in clock:
            await pilot.pause(0.005)
            if time.perf_counter() - start > 60:
                raise SystemExit("floor: no rows painted after 60 s")
    return {"s": clock["t"] - start}


def run_child(*args: str, script: Path = Path(__file__)) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(script), "--child", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> str:
    each = " ".join(f"{v:.2f}" for v in values)
    low, high = min(values), max(values)
    return f"median {statistics.median(values):.3f} s (range {low:.3f}–{high:.3f}: {each})"


def import_seconds() -> float:
    """What pyarrow.parquet and DuckDB cost to import in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter(); import pyarrow.parquet, duckdb; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(keep: Path | None, before: Path | None) -> None:
    """``keep``: build (or reuse) the workspace there; ``before``: another checkout whose
    Runs screen is timed too, interleaved (this script is run from a copy inside it)."""
    from pipelines.datasets.browse import RowSource
    from pipelines.runs.tables import write_runs_parquet
    from storage import sweeps as repo
    from storage.handle import open_workspace

    with tempfile.TemporaryDirectory() as scratch:
        root, sweep_id = workspace_with_runs(keep or Path(scratch))
        ws = open_workspace(root)
        timed("list sweeps (counts + best)", lambda: repo.list_sweeps(ws.db))
        summaries = timed(f"run summaries ({RUNS:,})", lambda: repo.run_summaries(ws.db))
        path = ws.paths.cache / "bench-runs.parquet"
        path.parent.mkdir(exist_ok=True)
        timed(f"write runs snapshot ({RUNS:,} rows)", lambda: write_runs_parquet(ws, path))
        source = timed("open snapshot", lambda: RowSource(path))
        timed("first page", lambda: source.query().page(0, 200))
        sorted_view = timed("sort by learning_rate", lambda: source.query("", "learning_rate DESC"))
        timed("sorted page at 9,000", lambda: sorted_view.page(9_000, 200))
        first_id, columns = summaries[0].id, len(source.columns)
        source.close()
        ws.close()
        print(f"import pyarrow.parquet + duckdb, fresh interpreter: {import_seconds():.3f} s")
        screen: list[dict[str, Any]] = []
        floor: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for _ in range(REPETITIONS):
            screen.append(run_child("screen", str(root), str(first_id), str(sweep_id)))
            floor.append(run_child("floor", str(columns)))
            if before is not None:
                args = ("screen", str(root), str(first_id), str(sweep_id))
                old.append(run_child(*args, script=before / "benchmarks" / Path(__file__).name))
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average {' '.join(load)}; {REPETITIONS} interleaved repetitions")
        print(
            f"Runs screen, r pressed to first rows painted ({RUNS:,} runs, {columns} columns): "
            f"{spread([s['s'] for s in screen])}"
        )
        print(
            f"  modules the first r imports: {screen[0]['modules']} "
            f"(heavy: {', '.join(screen[0]['heavy']) or 'none'})"
        )
        floor_s = spread([f["s"] for f in floor])
        print(f"floor, {RUNS:,} rows of plain strings in a LazyTable: {floor_s}")
        if old:
            print(f"before ({before}): {spread([s['s'] for s in old])}")
            print(
                f"  modules the first r imported: {old[0]['modules']} "
                f"(heavy: {', '.join(old[0]['heavy']) or 'none'})"
            )
        print(f"target: ≤ {TARGET_S} s")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        import asyncio

        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "screen":
            result = asyncio.run(child_screen(Path(rest[0]), int(rest[1]), int(rest[2])))
        else:
            result = asyncio.run(child_floor(*map(int, rest)))
        print(json.dumps(result))
    else:
        import argparse

        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--keep", type=Path, help="build or reuse the workspace here")
        parser.add_argument("--before", type=Path, help="a checkout to time beside this one")
        options = parser.parse_args()
        main(options.keep, options.before)
