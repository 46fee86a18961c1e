"""Batch scoring from the user's seat: `workbench predict BUNDLE INPUT -o OUTPUT` (the real
command, a subprocess, start-up included) on 1M realistic churn rows, as CSV and as
Parquet, against

- direct: the fitted pipeline's predict_proba on the same frame, already in memory (what
  the command's 1.5× target is measured against);
- floor: reading the file, predict_proba and writing the scored file in one process with
  pandas' own readers and writers — no schema check, no chunks, no progress (the fair floor
  for the whole job).

Repetitions are interleaved (command, direct, floor, command, …); medians and ranges are
printed with the ratios. Target: command ≤ 1.5× direct.

    python benchmarks/predict_batch.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHURN = ROOT / "assets" / "sample_data" / "churn_v1.csv"
sys.path.insert(0, str(ROOT))


def train(folder: Path) -> Path:
    """A real one-trial LightGBM sweep on churn; its kept model as a bundle folder."""
    from benchmarks.serving import train as train_bundle

    return train_bundle(folder)


def realistic_rows(count: int, seed: int = 7) -> Any:
    """`count` rows drawn from the churn sample: numbers jittered around real rows, the
    categories seen in training, a few gaps, as a deployment's nightly file would be."""
    import numpy as np
    import pandas as pd

    sample = pd.read_csv(CHURN).drop(columns=["churned"])
    rng = np.random.default_rng(seed)
    frame = sample.iloc[rng.integers(0, len(sample), count)].reset_index(drop=True)
    frame["customer_id"] = [f"C{i:07d}" for i in range(count)]
    for name in ("monthly_charges", "total_charges"):
        jitter = rng.normal(1.0, 0.05, count)
        frame[name] = (frame[name] * jitter).round(2)
    for name in ("tenure_months", "support_tickets", "monthly_charges", "region"):
        gaps = rng.random(count) < 0.01
        frame[name] = frame[name].astype("float64" if name != "region" else object)
        frame.loc[gaps, name] = np.nan
    return frame


def command(bundle: Path, source: Path, target: Path, workspace: Path) -> float:
    started = time.perf_counter()
    argv = [sys.executable, "-m", "workbench", "--workspace", str(workspace), "predict"]
    subprocess.run(
        [*argv, str(bundle), str(source), "-o", str(target)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")},
    )
    return time.perf_counter() - started


def direct(model: Any, frame: Any) -> float:
    started = time.perf_counter()
    model.predict_proba(frame)
    return time.perf_counter() - started


def floor(model: Any, features: list[str], source: Path, target: Path) -> float:
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(source) if source.suffix == ".csv" else pd.read_parquet(source)
    proba = model.predict_proba(frame[features])
    frame["prediction"] = model.classes_[proba.argmax(axis=1)]
    for position, label in enumerate(model.classes_):
        frame[f"probability_{label}"] = proba[:, position]
    if target.suffix == ".csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_parquet(target, index=False)
    return time.perf_counter() - started


def shown(times: list[float]) -> str:
    return f"{statistics.median(times):6.2f} s ({min(times):.2f}–{max(times):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from pipelines.serving.served import load_served

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle = train(folder)
        served = load_served(bundle)
        features = served.manifest.schema.names
        frame = realistic_rows(args.rows)
        inputs = {"CSV": folder / "rows.csv", "Parquet": folder / "rows.parquet"}
        frame.to_csv(inputs["CSV"], index=False)
        frame.to_parquet(inputs["Parquet"], index=False)
        in_memory = frame[features]
        results: dict[str, dict[str, list[float]]] = {
            kind: {"command": [], "direct": [], "floor": []} for kind in inputs
        }
        for _ in range(args.rounds):
            for kind, source in inputs.items():
                target = folder / f"scored{source.suffix}"
                times = results[kind]
                times["command"].append(command(bundle, source, target, folder / "ws"))
                times["direct"].append(direct(served.model, in_memory))
                times["floor"].append(floor(served.model, features, source, target))
    load = os.getloadavg()
    print(
        f"workbench predict on {args.rows:,} rows, {args.rounds} interleaved rounds "
        f"(load average {load[0]:.1f}, {os.cpu_count()} cores)"
    )
    for kind, times in results.items():
        ours = statistics.median(times["command"])
        print(f"{kind}:")
        print(f"  command  {shown(times['command'])}")
        print(f"  direct   {shown(times['direct'])}   command / direct "
              f"{ours / statistics.median(times['direct']):.2f}× (target ≤ 1.5×)")  # fmt: skip
        print(f"  floor    {shown(times['floor'])}   command / floor  "
              f"{ours / statistics.median(times['floor']):.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
