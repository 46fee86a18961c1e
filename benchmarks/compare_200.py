"""Compare screen for 200 runs: time from the screen being pushed to the table drawn, plus
the comparison model alone and the differences-only and transpose toggles. Prints figures."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.runs_table import generate  # 10,000 generated runs


async def screen_timings(root: Path, run_ids: list[int]) -> dict[str, float]:
    from textual.widgets import DataTable

    from screens.compare import CompareScreen
    from workbench.app import WorkbenchApp

    app = WorkbenchApp(root)
    timings: dict[str, float] = {}
    async with app.run_test(size=(200, 50)) as pilot:
        while app.workspace is None:
            await pilot.pause(0.01)
        start = time.perf_counter()
        app.push_screen(CompareScreen(app.workspace, run_ids))
        while True:
            await pilot.pause(0.01)
            if time.perf_counter() - start > 30:
                raise SystemExit(f"no table after 30 s: {[n.message for n in app._notifications]}")
            tables = app.screen.query(DataTable)
            if tables and tables.first().row_count and tables.first().columns:
                break
        timings["first render"] = time.perf_counter() - start
        table = app.screen.query_one(DataTable)
        print(f"table: {table.row_count} rows × {len(table.columns)} columns")
        for key, label in (("x", "differences only"), ("t", "transpose")):
            start = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            timings[label] = time.perf_counter() - start
    return timings


def main() -> None:
    from pipelines.runs.compare import compare_runs
    from storage import sweeps as repo
    from storage.handle import open_workspace

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ws"
        ws = open_workspace(root)
        sweep_id = generate(ws)
        run_ids = [r.id for r in repo.list_runs(ws.db, sweep_id=sweep_id, limit=200)]
        start = time.perf_counter()
        comparison = compare_runs(ws, run_ids)
        print(
            f"comparison model, 200 runs: {time.perf_counter() - start:.3f} s "
            f"({len(comparison.rows)} rows)"
        )
        ws.close()
        for label, seconds in asyncio.run(screen_timings(root, run_ids)).items():
            print(f"compare screen, 200 runs, {label}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
