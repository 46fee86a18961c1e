"""The statistics, computed from a prepared reference: the reference side arrives already
sorted and integrated (or counted), so a window costs one sort or one count of its own rows.

Each function states the SciPy/Evidently computation it stands for; tests hold them to it.
Imported only when a drift check runs (it loads numpy and scipy)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


def ecdf_integral(sorted_values: Floats) -> Floats:
    """A[i] = integral of the empirical CDF F from the smallest value up to sorted_values[i];
    F is i/n on [v[i-1], v[i]), so A grows by i/n times each gap (ties add nothing)."""
    n = sorted_values.size
    steps = np.arange(1, n, dtype=np.float64) / n * np.diff(sorted_values)
    return np.concatenate(([0.0], np.cumsum(steps)))


def _integral_at(ref: Floats, cum: Floats, points: Floats, idx: NDArray[np.int64]) -> Floats:
    """The same integral A(x) at points x, given idx = how many reference values are <= x
    (0 left of the reference)."""
    n = ref.size
    prev = np.maximum(idx - 1, 0)
    values = cum[prev] + idx / n * (points - ref[prev])
    return np.where(idx == 0, 0.0, values)


def wasserstein_sorted(ref: Floats, cum: Floats, cur: Floats) -> float:
    """First Wasserstein distance between two samples, the integral of |F - G| over x, as
    `scipy.stats.wasserstein_distance` (unweighted). The current CDF G is constant, g, between
    two of its sorted values a and b; F crosses g at the reference quantile x* = ref[k], k =
    ceil(g n) - 1; so that stretch contributes g(2x* - a - b) + A(a) + A(b) - 2A(x*) with x*
    clamped to [a, b]. O(m log n) after the window's own sort; the two are never merged."""
    n, m = ref.size, cur.size
    # sorted keys: numpy's binary search starts each one where the last ended
    at_cur = _integral_at(ref, cum, cur, np.searchsorted(ref, cur, side="right"))
    total = float(at_cur[0])  # left of the current sample G = 0: the integral of F
    end = max(float(ref[-1]), float(cur[-1]))  # right of it G = 1: integral of 1 - F
    ends = np.array([end])
    a_end = float(_integral_at(ref, cum, ends, np.searchsorted(ref, ends, side="right"))[0])
    total += (end - float(cur[-1])) - (a_end - float(at_cur[-1]))
    if m > 1:
        j = np.arange(1, m, dtype=np.int64)
        g = j / m
        k = (j * n + m - 1) // m - 1  # ceil(j n / m) - 1, in exact integers
        a, b = cur[:-1], cur[1:]
        cross = ref[k]
        x = np.clip(cross, a, b)
        a_a, a_b = at_cur[:-1], at_cur[1:]
        a_x = np.where(cross <= a, a_a, np.where(cross >= b, a_b, cum[k]))
        total += float(np.sum(g * (2 * x - a - b) + a_a + a_b - 2 * a_x))
    return max(total, 0.0)


def ks_pvalue(ref: Floats, cur: Floats) -> float:
    """Two-sided two-sample K-S p-value: SciPy's own `ks_2samp` (exact or asymptotic as it
    chooses), fed already sorted samples."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(ref, cur).pvalue)


def chisquare_pvalue(ref_counts: Floats, cur_counts: Floats) -> float:
    """Evidently's chi-square: observed current counts against reference counts scaled to the
    current size, by `scipy.stats.chisquare` (a category unseen in the reference gives p 0)."""
    from scipy.stats import chisquare

    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # thread-safe, unlike catch_warnings
        return float(chisquare(cur_counts, expected).pvalue)


def z_pvalue(keys: list[Any], ref_counts: Floats, cur_counts: Floats) -> float:
    """Evidently's two-proportion Z-test: the first of the sorted values against the rest,
    two-sided; 1 when both sides hold one and the same value."""
    from scipy.special import ndtr

    ref_present = np.flatnonzero(ref_counts)
    cur_present = np.flatnonzero(cur_counts)
    if ref_present.size == 1 and cur_present.size == 1 and ref_present[0] == cur_present[0]:
        return 1.0
    first = _sorted_order(keys)[0]
    n1, n2 = float(ref_counts.sum()), float(cur_counts.sum())
    p1 = (n1 - float(ref_counts[first])) / n1
    p2 = (n2 - float(cur_counts[first])) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - ndtr(np.abs(z))))


def _sorted_order(keys: list[Any]) -> list[int]:
    try:
        return sorted(range(len(keys)), key=lambda i: keys[i])
    except TypeError:  # mixed types: order by text, as well as anything can
        return sorted(range(len(keys)), key=lambda i: str(keys[i]))


def jensenshannon(ref_share: Floats, cur_share: Floats) -> float:
    """Jensen-Shannon distance (natural log) of two share vectors, as
    `scipy.spatial.distance.jensenshannon`."""
    from scipy.spatial.distance import jensenshannon as scipy_js

    return float(scipy_js(ref_share, cur_share))


def psi(ref_share: Floats, cur_share: Floats) -> float:
    """Population stability index with Evidently's floor for empty bins."""
    ref_share, cur_share = _fill_zeroes(ref_share), _fill_zeroes(cur_share)
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))


def _fill_zeroes(share: Floats) -> Floats:
    share = share.copy()
    smallest = float(share[share != 0].min())
    share[share == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return share


def sturges_edges(ref: Floats, cur: Floats, integer: bool) -> Floats:
    """`np.histogram_bin_edges` of both samples together with bins="sturges", from the
    sorted samples' ends and sizes alone (no concatenation)."""
    low, high = min(ref[0], cur[0]), max(ref[-1], cur[-1])
    first, last = (low - 0.5, high + 0.5) if low == high else (low, high)
    width = (high - low) / (math.log2(ref.size + cur.size) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        count = int(np.ceil((last - first) / width))
    else:
        count = 1
    return np.linspace(first, last, count + 1, endpoint=True, dtype=np.float64)


def counts_in_bins(sorted_values: Floats, edges: Floats) -> Floats:
    """`np.histogram(values, edges)[0]` from sorted values: [e_i, e_i+1), the last closed."""
    cum = np.concatenate(
        (
            np.searchsorted(sorted_values, edges[:-1], side="left"),
            np.searchsorted(sorted_values, edges[-1:], side="right"),
        )
    )
    return np.diff(cum).astype(np.float64)


def runs(sorted_values: Floats) -> tuple[Floats, Floats]:
    """The distinct values of a sorted array and how often each occurs."""
    if sorted_values.size == 0:
        return sorted_values, np.zeros(0)
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(starts, sorted_values.size)).astype(np.float64)
    return sorted_values[starts], counts
