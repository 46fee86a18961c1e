"""Reference and current shares of one column, for a terminal histogram overlay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.drift.columns import (
    CategoricalColumn,
    NumericColumn,
    Prepared,
    category_counts,
    numeric_values,
)
from pipelines.drift.results import Histogram
from pipelines.drift.stats import counts_in_bins

OTHER = "(other)"


def histogram_of(
    column: str, kind: str, prepared: Prepared, series: pd.Series, bins: int
) -> Histogram:
    """Numeric: `bins` equal-width bins over the range of both samples; categorical: the
    `bins` most common categories (reference first, then new ones), the rest as (other).
    Shares are of each side's non-missing values; an empty side has all shares 0."""
    bins = max(int(bins), 1)
    if kind == "num":
        ref = prepared.values if isinstance(prepared, NumericColumn) else np.zeros(0)
        values = numeric_values(series)
        cur = values if not isinstance(values, str) else np.zeros(0)
        both = [side for side in (ref, cur) if side.size]
        low = min((float(side[0]) for side in both), default=0.0)
        high = max((float(side[-1]) for side in both), default=1.0)
        if low == high:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, bins + 1)
        return Histogram(
            column,
            "num",
            tuple(edges.tolist()),
            None,
            _shares(counts_in_bins(ref, edges)),
            _shares(counts_in_bins(cur, edges)),
        )
    ref_counts = prepared.counts if isinstance(prepared, CategoricalColumn) else {}
    cur_counts = category_counts(series)
    order = sorted(ref_counts, key=lambda k: -ref_counts[k])
    order += sorted((k for k in cur_counts if k not in ref_counts), key=lambda k: -cur_counts[k])
    shown, rest = order[:bins], order[bins:]
    ref_row = [float(ref_counts.get(k, 0)) for k in shown]
    cur_row = [float(cur_counts.get(k, 0)) for k in shown]
    labels = [str(k) for k in shown]
    if rest:
        labels.append(OTHER)
        ref_row.append(float(sum(ref_counts.get(k, 0) for k in rest)))
        cur_row.append(float(sum(cur_counts.get(k, 0) for k in rest)))
    return Histogram(
        column,
        kind,
        None,
        tuple(labels),
        _shares(np.array(ref_row)),
        _shares(np.array(cur_row)),
    )


def _shares(counts: np.ndarray) -> tuple[float, ...]:
    total = float(counts.sum())
    if total == 0:
        return tuple(0.0 for _ in counts)
    return tuple((counts / total).tolist())
