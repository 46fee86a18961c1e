"""The live drift refresh at 200,000 reference × 50,000 current rows and 22 columns (14
numeric, 8 categorical; a shifted window, missing values in a few columns): the reference
prepared once, then `PreparedReference.compare` per window (on one thread, and on two),
against the same verdicts from SciPy called per column on the raw frames and from
Evidently's `Report([DataDriftPreset()])`, all on the same frames in one run, repetitions
interleaved. Prints median and range beside the 0.15 s target.

Also the whole live panel refresh (`DeploymentWatch.compute`): the same 50,000 rows held as
the serving app logs them (one request per row, with probabilities and a label on two
thirds), 1,000 new requests arriving before each refresh, and everything the panel shows
recomputed (the features frame, drift, histograms, prediction and schema drift, traffic,
real and estimated performance); HTTP is left out.

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


def panel_watch(reference: Any, current: Any) -> Any:
    """A deployment watch over `current` as 50,000 logged requests, ready to refresh."""
    from pipelines.drift import DriftOptions, PreparedReference
    from pipelines.watch.reference import DeploymentFacts
    from pipelines.watch.watcher import DeploymentWatch, WatchSettings

    rows = current.astype(object).where(current.notna(), None).to_dict("records")
    cats = [c for c in reference.columns if reference[c].dtype.kind not in "iuf"]
    columns = [
        {"name": c, "kind": "categorical" if c in cats else "numeric", "required": True,
         "categories": sorted(map(str, reference[c].dropna().unique())) if c in cats else None}
        for c in reference.columns
    ]  # fmt: skip
    names = tuple(reference.columns)
    facts = DeploymentFacts("bench", "http://127.0.0.1:9", None, "m:1", "bench@D0",
                            "classification", "y", (), names, tuple(cats), {})  # fmt: skip
    options = DriftOptions(columns=facts.features, categorical=facts.categorical)
    watch = DeploymentWatch(facts, PreparedReference.prepare(reference, options), "bench@D0",
                            None, WatchSettings(max_rows=len(rows)))  # fmt: skip
    watch.metadata = {"task": "classification", "classes": ["no", "yes"],
                      "schema": {"columns": columns}, "metrics": {"accuracy": 0.8}}  # fmt: skip
    watch.logged = [_logged(i + 1, row) for i, row in enumerate(rows)]
    watch.window.extend(watch.logged)
    watch.compute()
    return watch


def _logged(request_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": request_id, "at": "2026-12-01T10:00:00+00:00", "version": "1", "status": 200,
        "latency_ms": 3.0 + request_id % 7, "rows": 1, "inputs": [row], "predictions": ["yes"],
        "probabilities": [{"yes": 0.7, "no": 0.3}], "unseen": [], "error": None,
        "label": None if request_id % 3 == 0 else "yes",
    }  # fmt: skip


def panel_refresh(watch: Any) -> float:
    """1,000 new requests arrive (the oldest leave the window), then one timed refresh."""
    first = watch.window.last_id + 1
    fresh = [dict(watch.logged[(first + i) % len(watch.logged)], id=first + i) for i in range(1000)]
    watch.window.extend(fresh)
    started = time.perf_counter()
    watch.compute()
    return time.perf_counter() - started


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

    started = time.perf_counter()
    watch = panel_watch(reference, current)
    built = time.perf_counter() - started
    print(f"the panel's watch over 50,000 logged requests, built once: {built:.2f} s")
    ours: list[float] = []
    panel: list[float] = []
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
        panel.append(panel_refresh(watch))
        started = time.perf_counter()
        plain_drifted = scipy_per_column(reference, current, kinds)
        plain.append(time.perf_counter() - started)
        if round_ < args.evidently_rounds:
            started = time.perf_counter()
            evidently_drifted = evidently_report(reference, current)
            theirs.append(time.perf_counter() - started)
    print(line("PreparedReference.compare", ours, f"; {result.drifted_count} drifted"))
    print(line("PreparedReference.compare, 2 threads", threaded))
    print(line("whole panel refresh (DeploymentWatch.compute)", panel, " (no HTTP)"))
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
