"""The end of a streamed profile (`pipelines.datasets.profile_stream`): histograms and
quantiles of the numeric columns without exact value counts, from one read of just those
columns of the Parquet file written (their bins need the final min and max), and DuckDB's
old scans for the columns the stream left to it. Binning is `profiling._binning`'s
arithmetic in numpy (the same double operations, so each value lands in the same bin), and
quantiles interpolate as DuckDB's ``quantile_cont`` does; above ``SAMPLE_ROWS`` rows they
come from a seeded random sample of about that many rows, as DuckDB's came from a random one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.datasets.profile_stream import (
    StreamProfile,
    _Stats,
    finish_text,
    numpy_view,
    sketch_estimate,
)
from pipelines.datasets.profiling import (
    COLUMNS_PER_QUERY,
    EXACT_ROWS,
    QUANTILES,
    SAMPLE_ROWS,
    TOP_VALUES,
    _binning,
    _records,
    scan_columns,
)
from storage.records import ColumnSchema, DatasetProfile

if TYPE_CHECKING:
    import numpy as np

_Plan = tuple[str, list[Any], list[float]]  # profiling._binning's: SQL, parameters, edges


def finish_profile(
    stream: StreamProfile, path: Path, *, histogram_bins: int = 20, category_limit: int = 50
) -> tuple[list[ColumnSchema], DatasetProfile]:
    """Schema and profile of the Parquet file at `path`, whose batches `stream` was fed."""
    import pyarrow.parquet as pq

    rows = stream.rows
    limit = stream.low_card_limit
    for stats, stored in zip(stream.columns, pq.read_schema(path), strict=True):
        stats.col.physical_type = str(stored.type)  # as read back (seconds become ms)
    read_back: list[tuple[_Stats, _Plan]] = []
    for stats in stream.columns:
        col = stats.col
        if stats.kind == "duckdb":
            continue
        col.non_null = stats.non_null
        if stats.kind == "text":
            _finish_text(stats, limit)
            continue
        if stats.kind == "boolean":
            col.value_counts = stats.counts if col.non_null else None
            col.distinct = len(stats.counts or {})
            continue
        col.distinct = _distinct(stats)
        if not col.non_null:
            continue
        if stats.kind == "datetime":
            if rows <= EXACT_ROWS:  # exact distinct counts from the file
                read_back.append((stats, ("", [], [])))
            continue
        if stats.kind == "integer":
            col.mean = stats.int_total / col.non_null
        else:
            col.mean = stats.total / col.non_null
        if col.non_null > 1:
            col.std = math.sqrt(stats.m2 / (col.non_null - 1)) if stats.m2 >= 0 else None
        plan = _binning(col, histogram_bins)
        if stats.counts is not None:  # a few integers: everything from their counts
            col.value_counts = dict(stats.counts)
            col.distinct = len(col.value_counts)
            col.quantiles = _counted_quantiles(col.value_counts)
            if plan is not None:
                col.histogram_edges = plan[2]
                col.histogram = _counted_histogram(col.value_counts, plan)
        else:
            read_back.append((stats, plan) if plan is not None else (stats, ("", [], [])))
    if read_back:
        _read_back(path, read_back, rows)
    left = [s for s in stream.columns if s.kind == "duckdb"]
    if left:
        _with_duckdb(path, stream, left, rows, histogram_bins, limit)
    return _records([s.col for s in stream.columns], rows, category_limit)


def _distinct(stats: _Stats) -> int:
    """Exact from value counts, else the sketch's estimate (replaced by the exact count
    read back on files of at most EXACT_ROWS rows)."""
    if stats.counts is not None:
        return len(stats.counts)
    return sketch_estimate(stats.hll) if stats.hll is not None else 0


def _finish_text(stats: _Stats, limit: int) -> None:
    col = stats.col
    counts = finish_text(stats)
    if counts is None or not counts.num_rows:
        return
    col.distinct = counts.num_rows
    if col.distinct <= limit:
        col.value_counts = dict(zip(counts["v"].to_pylist(), counts["n"].to_pylist(), strict=True))
        return
    top = counts.sort_by([("n", "descending"), ("v", "ascending")]).slice(0, TOP_VALUES)
    col.candidate_counts = dict(zip(top["v"].to_pylist(), top["n"].to_pylist(), strict=True))


def _interpolated(ordered: np.ndarray, at: Any = None) -> dict[str, float]:
    """DuckDB's quantile_cont: position (n - 1) * q, lo + (hi - lo) * fraction between the
    neighbours; `at(rank)` gives the value of a rank when `ordered` is not the values."""
    value = at or (lambda rank: float(ordered[rank]))
    count = len(ordered) if at is None else int(ordered[-1])
    found: dict[str, float] = {}
    for key, q in QUANTILES.items():
        position = (count - 1) * q
        low, high = math.floor(position), math.ceil(position)
        lo = value(low)
        result = lo if low == high else lo + (value(high) - lo) * (position - low)
        if math.isfinite(result):
            found[key] = result
    return found


def _counted_quantiles(counts: dict[Any, int]) -> dict[str, float]:
    import numpy as np

    keys = np.array(sorted(counts), dtype=np.float64)
    ends = np.cumsum([counts[k] for k in sorted(counts)])
    return _interpolated(ends, lambda rank: float(keys[np.searchsorted(ends, rank, "right")]))


def _bins(values: np.ndarray, plan: tuple[str, list[Any], list[float]]) -> np.ndarray:
    """Each value's bin, as `profiling._binning`'s SQL computes it."""
    import numpy as np

    sql, params, edges = plan
    count = len(edges) - 1
    if not params:
        spots = np.zeros(len(values), dtype=np.int64)
    elif "BIGINT" in sql:
        first, step = params
        spots = (values.astype(np.int64) - np.int64(first)) // np.int64(step)
    else:
        low, inverse = params
        spots = np.floor((values.astype(np.float64) - low) * inverse)
    return np.clip(spots, 0, count - 1).astype(np.int64)


def _counted_histogram(
    counts: dict[Any, int], plan: tuple[str, list[Any], list[float]]
) -> list[int]:
    import numpy as np

    keys = np.array(list(counts), dtype=np.int64)
    weights = np.array(list(counts.values()), dtype=np.int64)
    found = np.bincount(_bins(keys, plan), weights=weights, minlength=len(plan[2]) - 1)
    return [int(n) for n in found]


def _read_back(path: Path, columns: list[tuple[_Stats, _Plan]], rows: int) -> None:
    """Histograms and (sampled) quantiles of `columns` and, on a file of at most EXACT_ROWS
    rows, their exact distinct counts, reading only them, at most COLUMNS_PER_QUERY
    columns and one row group at a time (so memory stays within a group's samples)."""
    import numpy as np
    import pyarrow.parquet as pq

    fraction = 1.0 if rows <= SAMPLE_ROWS else SAMPLE_ROWS / rows
    exact = rows <= EXACT_ROWS
    with pq.ParquetFile(str(path)) as parquet:
        sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
        for start in range(0, len(columns), COLUMNS_PER_QUERY):
            part = columns[start : start + COLUMNS_PER_QUERY]
            names = [s.col.name for s, _ in part]
            found = [_Found(np.zeros(max(len(p[2]) - 1, 0), dtype=np.int64)) for _, p in part]
            for group, size in enumerate(sizes):
                rng = np.random.default_rng(group)  # one sample of rows for every column
                sampled = None if fraction >= 1.0 else rng.random(size) < fraction
                table = parquet.read_row_group(group, columns=names)
                for (stats, plan), column, into in zip(part, table.columns, found, strict=True):
                    _bin_and_sample(stats, plan, column, sampled, into, exact)
            for (stats, plan), into in zip(part, found, strict=True):
                col = stats.col
                if plan[2]:
                    col.histogram, col.histogram_edges = [int(n) for n in into.counts], plan[2]
                if exact:
                    col.distinct = len(np.unique(np.concatenate(into.values or [np.empty(0)])))
                if stats.kind != "datetime" and into.samples:
                    taken = np.sort(np.concatenate(into.samples))
                    col.quantiles = _interpolated(taken) if len(taken) else {}


@dataclass
class _Found:
    """What the read-back gathers for one column."""

    counts: Any  # np.ndarray: the histogram
    samples: list[Any] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)  # distinct values, on small files


def _bin_and_sample(
    stats: _Stats,
    plan: _Plan,
    column: Any,
    sampled: np.ndarray | None,
    into: _Found,
    exact: bool,
) -> None:
    import numpy as np
    import pyarrow as pa

    array = column.combine_chunks()
    present = np.ones(len(array), dtype=bool)
    if array.null_count:
        present = numpy_view(array.is_valid().cast(pa.uint8())).astype(bool)
    if pa.types.is_date32(array.type):
        array = array.cast(pa.int32())
    elif pa.types.is_timestamp(array.type):
        array = array.cast(pa.int64())
    values = numpy_view(array)  # what lies under a null is masked out by `present`
    if pa.types.is_floating(array.type):
        values = values.astype(np.float64, copy=False)
        present = present & ~np.isnan(values)
    if exact:  # -0.0 and 0.0 are one value
        into.values.append(
            np.unique(values[present] + 0 if values.dtype.kind == "f" else values[present])
        )
    if stats.kind == "datetime":
        return
    col = stats.col
    if plan[2]:
        keep = present
        if col.logical_type == "float" and (col.min, col.max) != (col.finite_min, col.finite_max):
            keep = present & np.isfinite(values)
        into.counts += np.bincount(_bins(values[keep], plan), minlength=len(into.counts))
    chosen = present if sampled is None else present & sampled
    into.samples.append(values[chosen].astype(np.float64))


def _with_duckdb(
    path: Path,
    stream: StreamProfile,
    left: list[_Stats],
    rows: int,
    histogram_bins: int,
    limit: int,
) -> None:
    """The old scans (`profiling`) for the columns the stream did not profile."""
    import pyarrow.parquet as pq

    indexes = [stream.columns.index(stats) for stats in left]
    columns, _ = scan_columns(path, pq.read_schema(path), indexes, rows, histogram_bins, limit)
    for stats, column in zip(left, columns, strict=True):
        stats.col = column
