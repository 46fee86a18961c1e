"""Which test a column gets and its score, for one window. The default choice is
Evidently's `_get_default_stattest`: with a reference of at most 1000 rows (after dropping
missing values) p-values — K-S for numeric columns of more than 5 distinct values across
both sides, else chi-square, or the Z-test when there are at most 2 — and above 1000 rows
distances: normed Wasserstein for numeric columns of more than 5 values, else
Jensen-Shannon."""

from __future__ import annotations

from typing import Any

import numpy as np

import pipelines.drift.stats as stats
from pipelines.drift.columns import CategoricalColumn, NumericColumn
from pipelines.drift.stats import Floats

DISTINCT_FOR_DISTANCE = 5  # more distinct values than this: a numeric column's own test
DISTINCT_FOR_HISTOGRAM = 20  # Evidently bins a numeric reference of more values (Sturges)


def default_method(kind: str, distinct: int, small: bool) -> str:
    """Evidently's default test for a column of `kind` with `distinct` values over both
    samples, `small` meaning a reference of at most 1000 rows."""
    if small:
        if kind == "num" and distinct > DISTINCT_FOR_DISTANCE:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    if kind == "num" and distinct > DISTINCT_FOR_DISTANCE:
        return "wasserstein"
    return "jensenshannon"


def score_numeric(
    ref: NumericColumn, cur: Floats, integer: bool, method: str | None, small: bool
) -> tuple[str, float]:
    """(method, score) of a numeric column; `cur` holds the window's sorted finite values."""
    cur_distinct: Floats | None = None
    if method is None:
        distinct = ref.distinct.size
        if distinct <= DISTINCT_FOR_DISTANCE:
            cur_distinct, _ = stats.runs(cur)
            distinct = np.union1d(ref.distinct, cur_distinct).size
        method = default_method("num", distinct, small)
    if method == "wasserstein":
        norm = max(ref.std, 0.001)
        return method, stats.wasserstein_sorted(ref.values, ref.cum, cur) / norm
    if method == "ks":
        return method, stats.ks_pvalue(ref.values, cur)
    if method in ("jensenshannon", "psi") and ref.distinct.size > DISTINCT_FOR_HISTOGRAM:
        edges = stats.sturges_edges(ref.values, cur, integer)
        ref_share = stats.counts_in_bins(ref.values, edges) / ref.rows
        cur_share = stats.counts_in_bins(cur, edges) / cur.size
        return method, _share_score(method, ref_share, cur_share)
    cur_keys, cur_counts = stats.runs(cur)
    keys = np.union1d(ref.distinct, cur_keys)
    ref_full = _spread(keys, ref.distinct, ref.distinct_counts)
    cur_full = _spread(keys, cur_keys, cur_counts)
    return method, _count_score(method, keys.tolist(), ref_full, cur_full)


def _spread(keys: Floats, present: Floats, counts: Floats) -> Floats:
    """Counts of `present` values laid out over the sorted union `keys` (0 elsewhere)."""
    full = np.zeros(keys.size)
    full[np.searchsorted(keys, present)] = counts
    return full


def score_categorical(
    ref: CategoricalColumn, cur: dict[Any, int], method: str | None, small: bool
) -> tuple[str, float]:
    """(method, score) of a categorical column from both sides' category counts."""
    keys = list(ref.counts)
    keys += [key for key in cur if key not in ref.counts]
    if method is None:
        method = default_method("cat", len(keys), small)
    ref_counts = np.array([ref.counts.get(key, 0) for key in keys], dtype=np.float64)
    cur_counts = np.array([cur.get(key, 0) for key in keys], dtype=np.float64)
    return method, _count_score(method, keys, ref_counts, cur_counts)


def _count_score(method: str, keys: list[Any], ref: Floats, cur: Floats) -> float:
    if method == "chisquare":
        return stats.chisquare_pvalue(ref, cur)
    if method == "z":
        return stats.z_pvalue(keys, ref, cur)
    return _share_score(method, ref / ref.sum(), cur / cur.sum())


def _share_score(method: str, ref_share: Floats, cur_share: Floats) -> float:
    if method == "psi":
        return stats.psi(ref_share, cur_share)
    return stats.jensenshannon(ref_share, cur_share)
