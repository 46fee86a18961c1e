"""The live drift refresh at 200,000 reference × 50,000 current rows and 22 columns (14
numeric, 8 categorical; a shifted window, missing values in a few columns): the reference
prepared once, then `PreparedReference.compare` per window (on one thread, and on two),
against the same verdicts from SciPy called per column on the raw frames and from
Evidently's `Report([DataDriftPreset()])`, all on the same frames in one run, repetitions
interleaved. Prints median and range beside the 0.15 s target.

    python benchmarks/drift.py [--rounds 7] [--evidently-rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REFERENCE_ROWS, CURRENT_ROWS, TARGET_S = 200_000, 50_000, 0.15


def frames(reference_rows: int = REFERENCE_ROWS, current_rows: int = CURRENT_ROWS) -> Any:
    """A churn-like table of 22 columns and a window of it with a few columns shifted."""
    import numpy as np
    import pandas as pd

    def table(rows: int, seed: int, shift: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        data: dict[str, Any] = {}
        for i in range(8):  # continuous, a few drifting
            data[f"num{i}"] = rng.normal(10 * i + (shift if i < 3 else 0), 1 + i, rows)
        data["income"] = rng.lognormal(10 + shift / 4, 0.6, rows)
        data["tenure_months"] = rng.integers(0, 120, rows)  # integers of many values
        data["age"] = rng.integers(18, 90, rows).astype(float)
        data["balance"] = np.where(rng.random(rows) < 0.05, np.nan, rng.gamma(2.0, 500.0, rows))
        data["score"] = rng.beta(2, 5 + shift, rows)
        data["visits"] = rng.poisson(3 + shift, rows).astype(float)
        plans = ["basic", "plus", "pro", "team", "enterprise"]
        data["plan"] = rng.choice(plans, rows, p=[0.4, 0.25, 0.2, 0.1, 0.05])
        countries = [f"country_{k}" for k in range(40)]
        weights = np.linspace(2 + shift, 1, 40)
        data["country"] = rng.choice(countries, rows, p=weights / weights.sum())
        data["channel"] = rng.choice(["web", "app", "store"], rows)
        data["device"] = np.where(
            rng.random(rows) < 0.02, None, rng.choice(["ios", "android"], rows)
        )
        data["support_calls"] = rng.integers(0, 6, rows)  # integer-coded categories
        data["region_code"] = rng.integers(1, 9, rows)
        data["is_premium"] = rng.random(rows) < 0.3 + shift / 10
        data["contract"] = pd.Categorical(rng.choice(["monthly", "yearly", "two_year"], rows))
        return pd.DataFrame(data)

    return table(reference_rows, 0, 0.0), table(current_rows, 1, 0.5)


def scipy_per_column(reference: Any, current: Any, kinds: dict[str, str]) -> int:
    """The same statistics by calling SciPy on each raw column (what a plain implementation
    of Evidently's defaults does); returns the number of drifted columns."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    drifted = 0
    for name, kind in kinds.items():
        ref, cur = reference[name], current[name]
        if kind == "num":
            ref = ref[np.isfinite(ref.to_numpy(dtype=float))].to_numpy(dtype=float)
            cur = cur[np.isfinite(cur.to_numpy(dtype=float))].to_numpy(dtype=float)
            if np.unique(np.concatenate([ref, cur])).size > 5:
                score = wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
                drifted += score >= 0.1
                continue
        ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
        keys = ref_counts.index.union(cur_counts.index)
        p = ref_counts.reindex(keys, fill_value=0).to_numpy() / ref_counts.sum()
        q = cur_counts.reindex(keys, fill_value=0).to_numpy() / cur_counts.sum()
        drifted += jensenshannon(p, q) >= 0.1
    return int(drifted)


def evidently_report(reference: Any, current: Any) -> int:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current, reference)
    first = snapshot.dict()["metrics"][0]["value"]
    return int(first["count"])


def line(label: str, times: list[float], extra: str = "") -> str:
    median = statistics.median(times)
    verdict = "within" if median <= TARGET_S else "over"
    return (
        f"{label:42} median {median:7.3f} s  (range {min(times):.3f}–{max(times):.3f}, "
        f"{len(times)} runs)  target {TARGET_S} s: {verdict}{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--evidently-rounds", type=int, default=2)
    args = parser.parse_args()

    from pipelines.drift import PreparedReference

    reference, current = frames()
    print(
        f"frames: {len(reference):,} reference × {len(current):,} current rows, "
        f"{reference.shape[1]} columns"
    )
    started = time.perf_counter()
    prepared = PreparedReference.prepare(reference)
    print(f"prepare the reference (once per deployment): {time.perf_counter() - started:.3f} s")
    prepared.compare(current)  # warm up imports
    kinds = {c: prepared.kind(c) for c in prepared.column_names}

    ours: list[float] = []
    threaded: list[float] = []
    plain: list[float] = []
    theirs: list[float] = []
    result = prepared.compare(current)
    plain_drifted = evidently_drifted = -1
    started = time.perf_counter()
    import evidently.presets  # noqa: F401  (import outside the timed runs)

    print(f"import evidently: {time.perf_counter() - started:.1f} s (not counted below)")
    for round_ in range(args.rounds):
        started = time.perf_counter()
        result = prepared.compare(current)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert prepared.compare(current, workers=2) == result
        threaded.append(time.perf_counter() - started)
        started = time.perf_counter()
        plain_drifted = scipy_per_column(reference, current, kinds)
        plain.append(time.perf_counter() - started)
        if round_ < args.evidently_rounds:
            started = time.perf_counter()
            evidently_drifted = evidently_report(reference, current)
            theirs.append(time.perf_counter() - started)
    print(line("PreparedReference.compare", ours, f"; {result.drifted_count} drifted"))
    print(line("PreparedReference.compare, 2 threads", threaded))
    print(line("SciPy per column (raw frames)", plain, f"; {plain_drifted} drifted"))
    if theirs:
        print(
            line("Evidently Report([DataDriftPreset()])", theirs, f"; {evidently_drifted} drifted")
        )
    print(
        f"dataset drift: {result.drifted} (share {result.share:.2f} of "
        f"{result.tested_count} columns, threshold {result.threshold})"
    )


if __name__ == "__main__":
    main()
