"""Runs table with 10,000 generated runs (100,000 metric points): listing sweeps, the runs
snapshot, first page, sort, filter, and the Runs screen's first rows. Prints figures."""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 10_000
T = TypeVar("T")


def generate(ws: object) -> int:
    from sqlalchemy import insert

    from storage import sweeps as repo
    from storage.datasets import utcnow
    from storage.models_sweeps import MetricPointRow, RunRow

    sweep = repo.create_sweep(
        ws.db,
        name="bench",
        dataset_version_id=None,
        dataset_ref="bench@D0",
        dataset_sha="0" * 64,
        target="y",
        task="classification",
        model="lightgbm",
        metric="accuracy",
        direction="maximize",
        spec={"search_space": {}},
        study_name="bench",
        optuna_storage="journal:optuna/journal.log",
        trials_requested=RUNS,
    )
    rng = random.Random(0)
    now = utcnow()
    rows = [
        {
            "sweep_id": sweep.id,
            "trial_number": i,
            "status": rng.choice(["complete"] * 8 + ["pruned"]),
            "params": {
                "learning_rate": rng.uniform(0.01, 0.3),
                "num_leaves": rng.randint(8, 64),
                "subsample": rng.uniform(0.5, 1.0),
            },
            "value": rng.uniform(0.7, 0.99),
            "value_std": rng.uniform(0, 0.05),
            "fold_scores": [rng.uniform(0.7, 0.99) for _ in range(5)],
            "metrics": {"accuracy": rng.uniform(0.7, 0.99), "f1": rng.uniform(0.6, 0.95)},
            "started_at": now,
            "finished_at": now,
            "duration_s": rng.uniform(0.1, 2.0),
            "seed": 0,
            "dataset_sha": "0" * 64,
            "environment": {"python": "3.11"},
            "worker": "bench:1",
        }
        for i in range(RUNS)
    ]
    with ws.db.session_scope() as session:
        session.execute(insert(RunRow), rows)
    ids = [r.id for r in repo.list_runs(ws.db, sweep_id=sweep.id)]
    points = [
        {"run_id": run_id, "key": "fold_score", "step": s, "value": 0.9}
        for run_id in ids
        for s in range(10)
    ]
    with ws.db.session_scope() as session:
        session.execute(insert(MetricPointRow), points)
    return sweep.id


def timed(label: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - start:.3f} s")
    return result


async def screen_first_rows(root: Path) -> float:
    from workbench.app import WorkbenchApp

    app = WorkbenchApp(root)
    async with app.run_test(size=(160, 45)) as pilot:
        while app.workspace is None:
            await pilot.pause(0.01)
        start = time.perf_counter()
        await pilot.press("r")
        from screens.runs import RunsScreen

        while True:
            await pilot.pause(0.01)
            screen = app.screen
            table = screen.query("LazyTable").first() if isinstance(screen, RunsScreen) else None
            if table is not None and table.row_count and table.cached_row(0) is not None:
                return time.perf_counter() - start


def main() -> None:
    from pipelines.datasets.browse import RowSource
    from pipelines.runs.tables import write_runs_parquet
    from storage import sweeps as repo
    from storage.handle import open_workspace

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ws"
        ws = open_workspace(root)
        start = time.perf_counter()
        generate(ws)
        print(
            f"generated {RUNS:,} runs and {RUNS * 10:,} metric points in "
            f"{time.perf_counter() - start:.1f} s"
        )
        timed("list sweeps (counts + best)", lambda: repo.list_sweeps(ws.db))
        timed(
            "first 100 runs by value",
            lambda: repo.list_runs(ws.db, order_by="value", descending=True, limit=100),
        )
        path = ws.paths.cache / "bench-runs.parquet"
        path.parent.mkdir(exist_ok=True)
        timed(f"write runs snapshot ({RUNS:,} rows)", lambda: write_runs_parquet(ws, path))
        source = timed("open snapshot", lambda: RowSource(path))
        view = timed("query (no filter)", lambda: source.query())
        timed("first page", lambda: view.page(0, 200))
        sorted_view = timed("sort by learning_rate", lambda: source.query("", "learning_rate DESC"))
        timed("sorted page at 9,000", lambda: sorted_view.page(9_000, 200))
        timed(
            "filter learning_rate < 0.05 AND value > 0.9",
            lambda: source.query("learning_rate < 0.05 AND value > 0.9"),
        )
        ws.close()
        shown = asyncio.run(screen_first_rows(root))
        print(f"Runs screen, key pressed to first rows drawn: {shown:.3f} s")


if __name__ == "__main__":
    main()
