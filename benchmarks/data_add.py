"""`workbench data add` throughput on a large, realistic CSV, beside the floor a user could
write instead: pyarrow's CSV reader and Parquet writer on the same file.

Both run as the user meets them: a fresh process each time (the real `workbench` command into
a fresh workspace; the floor as `python -c` reading the whole file with `pyarrow.csv.read_csv`
and writing it with `pyarrow.parquet.write_table`), interleaved, timed from launch to exit.
Peak RSS is each process's own (`os.wait4`). The CSV mixes integers, floats with missing
values, categories, dates, timestamps, booleans and free text whose commas and quotes make
some fields quoted. Target: MB/s at least 0.8x the floor's, with memory bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.8
FLOOR = """
import sys
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
table = pacsv.read_csv(sys.argv[1])
pq.write_table(table, sys.argv[2], compression="zstd")
print(table.num_rows)
"""
_WORDS = [
    "fast",
    "slow",
    "good",
    "bad",
    "late",
    "early",
    "renewal",
    "churn",
    "upgrade",
    "support",
    "billing",
    "refund",
]
_CITIES = [f"City {c}" for c in "ABCDEFGHIJKLMNOPQRST"]


def write_csv(path: Path, megabytes: float) -> int:
    """A customer-table CSV of about `megabytes` MB, written in chunks; returns its rows."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows, chunk, first = 0, 100_000, True
    with path.open("w", newline="") as f:
        while f.tell() < megabytes * 1e6:
            n = chunk
            ids = np.arange(rows, rows + n)
            income = rng.lognormal(10.5, 0.6, n).round(2)
            score = rng.normal(0.5, 0.2, n)
            score[rng.random(n) < 0.05] = np.nan
            age = pd.array(rng.integers(18, 90, n), dtype="Int64")
            age[rng.random(n) < 0.02] = pd.NA
            words = np.array(_WORDS)[rng.integers(0, len(_WORDS), (n, 4))]
            comment = pd.Series([" ".join(w) for w in words])
            marked = rng.random(n)
            comment[marked < 0.15] = comment[marked < 0.15] + ", then " + comment[marked < 0.15]
            comment[marked > 0.97] = 'said "' + comment[marked > 0.97] + '"'
            signup = np.datetime64("2015-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
            seen = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 3e7, n).astype(
                "timedelta64[s]"
            )
            frame = pd.DataFrame(
                {
                    "customer_id": ids,
                    "age": age,
                    "city": np.array(_CITIES)[rng.integers(0, len(_CITIES), n)],
                    "plan": np.array(["free", "basic", "pro", "team"])[rng.integers(0, 4, n)],
                    "signup_date": pd.to_datetime(signup).strftime("%Y-%m-%d"),
                    "last_seen": pd.to_datetime(seen).strftime("%Y-%m-%d %H:%M:%S"),
                    "monthly_income": income,
                    "score": score,
                    "sessions": rng.poisson(12, n),
                    "tenure_months": rng.integers(0, 120, n),
                    "active": rng.random(n) < 0.8,
                    "comment": comment,
                    "churned": (rng.random(n) < 0.2).astype(int),
                }
            )
            frame.to_csv(f, header=first, index=False, float_format="%.6g")
            rows, first = rows + n, False
    return rows


def timed(command: list[str], log: Path, cwd: Path = ROOT) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (all threads), peak RSS (MB) of that process alone, and its
    stdout."""
    with log.open("w") as out, (log.with_suffix(".err")).open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{command[2]} failed: {log.with_suffix('.err').read_text().strip()[-400:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, log.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=300.0, help="CSV size (default 300 MB)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--before",
        type=Path,
        help="also time `data add` from this checkout (e.g. `git archive` of an older commit)",
    )
    args = parser.parse_args()
    checkouts = {"workbench": ROOT}
    if args.before:
        checkouts = {"before": args.before.resolve(), **checkouts}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        source = folder / "customers.csv"
        rows = write_csv(source, args.mb)
        size_mb = source.stat().st_size / 1e6
        print(f"CSV: {size_mb:,.0f} MB, {rows:,} rows x 13 columns; load: {_load()}", flush=True)
        results: dict[str, list[tuple[float, float, float]]] = {"pyarrow": []}
        results.update({label: [] for label in checkouts})
        for run in range(args.runs):
            out = folder / f"floor{run}.parquet"
            floor = [sys.executable, "-c", FLOOR, str(source), str(out)]
            seconds, cpu, rss, _ = timed(floor, folder / "floor.log")
            results["pyarrow"].append((seconds, cpu, rss))
            out.unlink()
            for label, checkout in checkouts.items():
                ws = folder / f"ws{run}"
                add = [sys.executable, "-m", "workbench", "--workspace", str(ws), "data", "add"]
                seconds, cpu, rss, stdout = timed(
                    [*add, str(source), "--json"], folder / "wb.log", checkout
                )
                stored = json.loads(stdout)["version"]["row_count"]
                if stored != rows:
                    sys.exit(f"{label}: data add stored {stored:,} rows, expected {rows:,}")
                results[label].append((seconds, cpu, rss))
                _remove(ws)
    speeds = {}
    for label, runs in results.items():
        rates = [size_mb / s for s, _, _ in runs]
        speeds[label] = statistics.median(rates)
        print(
            f"{label:>10}: median {speeds[label]:5.1f} MB/s (range {min(rates):.1f}-"
            f"{max(rates):.1f}), {statistics.median(s for s, _, _ in runs):.2f} s wall, "
            f"{statistics.median(c for _, c, _ in runs):.2f} s CPU, peak RSS "
            f"{max(r for _, _, r in runs):,.0f} MB over {len(runs)} runs"
        )
    if "before" in speeds:
        print(f"before / pyarrow: {speeds['before'] / speeds['pyarrow']:.2f}x")
    ratio = speeds["workbench"] / speeds["pyarrow"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"workbench / pyarrow: {ratio:.2f}x the floor's MB/s (target >= {TARGET}x: {verdict})")
    print(f"load after: {_load()}")


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
