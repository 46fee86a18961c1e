"""`workbench data add` of an MNIST-shaped CSV (a label and 784 pixel columns, 10,000 rows),
run as a user runs it: a fresh `workbench` process per add, into a fresh workspace, timed
from launch to exit. Prints the median and range of a few runs and the profile it stored."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS, ROWS, RUNS = 785, 10_000, 3


def write_csv(path: Path) -> None:
    rng = random.Random(0)
    with path.open("w") as f:
        f.write(",".join(["label", *(f"pixel{i}" for i in range(COLUMNS - 1))]) + "\n")
        for row in range(ROWS):
            pixels = (rng.randint(1, 255) if rng.random() < 0.2 else 0 for _ in range(COLUMNS - 1))
            f.write(",".join([str(row % 10), *map(str, pixels)]) + "\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "mnist_like.csv"
        write_csv(source)
        size_mb = source.stat().st_size / 1e6
        times = []
        for run in range(RUNS):
            workspace = Path(folder) / f"ws{run}"
            started = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "workbench",
                    "--workspace",
                    str(workspace),
                    "data",
                    "add",
                    str(source),
                    "--target",
                    "label",
                    "--json",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(f"data add failed: {done.stderr.strip()}")
        version = json.loads(done.stdout)["version"]
    print(
        f"data add, {COLUMNS} columns x {ROWS:,} rows ({size_mb:.0f} MB CSV): "
        f"median {statistics.median(times):.2f} s, range {min(times):.2f}-{max(times):.2f} s "
        f"over {RUNS} runs; stored {version['row_count']:,} rows x {version['column_count']} "
        f"columns, {len(version['profile']['columns'])} column profiles"
    )


if __name__ == "__main__":
    main()
