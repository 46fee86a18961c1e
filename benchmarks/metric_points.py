"""Metric points written per second into the workspace database (MLflow's log_batch on
SQLite manages ~4,900/s; the aim is 10x that). Prints figures."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from storage import sweeps as repo
    from storage.handle import open_workspace

    with tempfile.TemporaryDirectory() as folder:
        ws = open_workspace(Path(folder) / "ws")
        sweep = repo.create_sweep(
            ws.db,
            name="bench",
            dataset_version_id=None,
            dataset_ref="x@D0",
            dataset_sha="0" * 64,
            target="y",
            task="regression",
            model="linear",
            metric="rmse",
            direction="minimize",
            spec={},
            study_name="bench",
            optuna_storage="journal:x",
            trials_requested=None,
        )
        runs = [
            repo.start_run(
                ws.db,
                sweep_id=sweep.id,
                trial_number=i,
                params={},
                seed=0,
                dataset_sha="0" * 64,
                environment={},
                worker="bench",
            )
            for i in range(100)
        ]
        points_per_run = 2_000
        start = time.perf_counter()
        for run_id in runs:  # one batch per run, as a finished trial writes them
            repo.finish_run(
                ws.db,
                run_id,
                status="complete",
                value=1.0,
                points=[("valid_l2", step, step * 0.5) for step in range(points_per_run)],
            )
        elapsed = time.perf_counter() - start
        total = len(runs) * points_per_run
        print(
            f"metric points: {total:,} in {elapsed:.2f} s = {total / elapsed:,.0f} points/s "
            f"(batches of {points_per_run:,}, SQLite WAL)"
        )
        ws.close()


if __name__ == "__main__":
    main()
