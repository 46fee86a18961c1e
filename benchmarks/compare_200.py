"""The Compare screen with realistic runs (9 parameters, every task metric, the full
environment: 31 rows × 34 columns at 31 runs), 200 and 1,000 runs, timed from the user's
seat: a fresh interpreter per repetition, the screen pushed, the clock stopped at the first
frame painted with the table's first run on it. The floor, interleaved in the same run: a
minimal app showing as many rows of plain strings in the project's LazyTable. Also times
the comparison model alone. Target: 1,000 runs ≤ 0.5 s to the painted table.

``--baseline TREE`` also runs TREE's copy of this script (another checkout, e.g. main) as a
third child in each repetition, so before and after are measured in the same run."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.runs_table import (
    paint_clock,
    run_child,
    spread,
    workspace_with_runs,
)

COUNTS = (200, 1_000)
REPETITIONS = 5
TARGET_S = 0.5


async def child_compare(root: Path, count: int) -> dict[str, Any]:
    from screens.compare import CompareScreen
    from workbench.app import WorkbenchApp

    run_ids = list(range(1, count + 1))
    first = re.compile(rf"run {run_ids[0]} \(base\).*\d\.\d")
    app = WorkbenchApp(root)
    clock = paint_clock(app, lambda text: bool(first.search(text)))
    async with app.run_test(size=(200, 50)) as pilot:
        while app.workspace is None:
            await pilot.pause(0.01)
        await pilot.pause(0.3)
        start = time.perf_counter()
        clock["armed"] = start
        app.push_screen(CompareScreen(app.workspace, run_ids))
        while "t" not in clock:
            await pilot.pause(0.005)
            if time.perf_counter() - start > 60:
                raise SystemExit("no table painted after 60 s")
        timings = {"s": clock["t"] - start}
        for key, label in (("x", "differences only"), ("t", "transpose")):
            start = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            timings[label] = time.perf_counter() - start
        await app.workers.wait_for_complete()
    return timings


def main(keep: Path | None, baseline: Path | None) -> None:
    from pipelines.runs.compare import compare_runs
    from storage.handle import open_workspace

    other = baseline / "benchmarks" / HERE.name if baseline else None
    with tempfile.TemporaryDirectory() as scratch:
        root, _ = workspace_with_runs(keep or Path(scratch))
        ws = open_workspace(root)
        for count in COUNTS:
            start = time.perf_counter()
            comparison = compare_runs(ws, list(range(1, count + 1)))
            print(
                f"comparison model, {count:,} runs: {time.perf_counter() - start:.3f} s "
                f"({len(comparison.rows)} rows)"
            )
        fields = len(comparison.rows) + len({r.section for r in comparison.rows})
        ws.close()
        results: dict[int, list[dict[str, Any]]] = {n: [] for n in COUNTS}
        floors: dict[int, list[dict[str, Any]]] = {n: [] for n in COUNTS}
        before: dict[int, list[dict[str, Any]]] = {n: [] for n in COUNTS}
        for _ in range(REPETITIONS):
            for count in COUNTS:
                results[count].append(run_child("compare", str(root), str(count), script=HERE))
                floors[count].append(run_child("floor", str(fields), str(count)))
                if other is not None:
                    before[count].append(run_child("compare", str(root), str(count), script=other))
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average {' '.join(load)}; {REPETITIONS} interleaved repetitions")
        for count in COUNTS:
            shown = results[count]
            print(
                f"compare screen, {count:,} runs × {fields} fields, pushed to table painted: "
                f"{spread([r['s'] for r in shown])}"
            )
            for label in ("differences only", "transpose"):
                print(f"  {label}: {spread([r[label] for r in shown])}")
            print(
                f"  floor, {count:,} rows of plain strings in a LazyTable: "
                f"{spread([f['s'] for f in floors[count]])}"
            )
            if before[count]:
                print(f"  baseline {baseline}: {spread([r['s'] for r in before[count]])}")
                for label in ("differences only", "transpose"):
                    print(f"    {label}: {spread([r[label] for r in before[count]])}")
        print(f"target: 1,000 runs ≤ {TARGET_S} s")


HERE = Path(__file__)

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        import json

        print(json.dumps(asyncio.run(child_compare(Path(sys.argv[3]), int(sys.argv[4])))))
    else:
        import argparse

        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("keep", nargs="?", type=Path, help="keep the workspace here")
        parser.add_argument("--baseline", type=Path, help="another checkout to time alongside")
        options = parser.parse_args()
        main(options.keep, options.baseline)
