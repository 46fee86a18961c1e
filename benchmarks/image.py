"""A serving image from the user's seat: `workbench image build` (the real command) of a
registered LightGBM model on the local base image; its size with a per-layer breakdown,
the base image's size beside it (the floor: what any image on it costs), and the time of a
rebuild after only the model changed (a second version of the same model).

Targets: image ≤ 600 MB; rebuild after a model-only change ≤ 15 s.

    python benchmarks/image.py [--base workbench-base/python:3.11]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHURN = ROOT / "assets" / "sample_data" / "churn_v1.csv"
SWEEP = """dataset = "churn"
model = "lightgbm"
trials = 2
folds = 2
keep_top = 2
pruner = "none"
"""


def workbench(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"workbench {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--base", default=os.environ.get("WORKBENCH_BASE_IMAGE", "workbench-base/python:3.11")
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from pipelines.packaging.engine import connect, image_info, layer_sizes

    client = connect()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "WORKBENCH_WORKSPACE": str(Path(tmp) / "ws"),
            "WORKBENCH_BASE_IMAGE": args.base,
        }
        workbench(env, "data", "add", str(CHURN), "--name", "churn", "--target", "churned")
        sweep = Path(tmp) / "sweep.toml"
        sweep.write_text(SWEEP)
        workbench(env, "sweep", "start", str(sweep), "--wait")
        import json

        runs = [
            r for r in json.loads(workbench(env, "runs", "ls", "--json")) if r.get("artifact_sha")
        ]
        first, second = runs[0]["id"], runs[1]["id"]
        workbench(env, "model", "register", str(first), "--name", "bench-churn")
        workbench(env, "model", "register", str(second), "--name", "bench-churn")
        started = time.perf_counter()
        workbench(env, "image", "build", "bench-churn:1", "--tag", "workbench-bench/churn:v1")
        first_build = time.perf_counter() - started
        started = time.perf_counter()
        workbench(env, "image", "build", "bench-churn:2", "--tag", "workbench-bench/churn:v2")
        rebuild = time.perf_counter() - started
        image = image_info(client, "workbench-bench/churn:v2")
        base = image_info(client, args.base)
        assert image is not None and base is not None
        print(
            f"image workbench-bench/churn:v2: {image.size_bytes / 1e6:.0f} MB (target ≤ 600 MB); "
            f"base {args.base}: {base.size_bytes / 1e6:.0f} MB"
        )
        print("layers (newest last, ≥ 1 kB):")
        for instruction, size in layer_sizes(client, "workbench-bench/churn:v2"):
            if size >= 1000:
                print(f"  {size / 1e6:9.1f} MB  {instruction[:90]}")
        print(
            f"first build {first_build:.1f} s (dependency layers may already be cached); "
            f"rebuild after a model-only change {rebuild:.1f} s (target ≤ 15 s)"
        )
        for tag in ("workbench-bench/churn:v1", "workbench-bench/churn:v2"):
            client.images.remove(tag, force=True)


if __name__ == "__main__":
    main()
