"""Drift of a window against a reference prepared once: Evidently's default choice of test
per column (by reference size, kind and number of distinct values), its thresholds and its
dataset rule, computed from the prepared reference so a refresh only sorts and counts the
window. Imported only when a drift check runs (it loads numpy, pandas and scipy)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.drift.columns import (
    CategoricalColumn,
    NumericColumn,
    Prepared,
    Unusable,
    category_counts,
    infer_kind,
    numeric_values,
    prepare_column,
)
from pipelines.drift.errors import DriftError
from pipelines.drift.histogram import histogram_of
from pipelines.drift.options import METHODS, DriftOptions, method_named
from pipelines.drift.results import ColumnDrift, DatasetDrift, Histogram
from pipelines.drift.scoring import score_categorical, score_numeric

SMALL_REFERENCE = 1000  # rows; at most this many, Evidently tests p-values, above it distances


@dataclass(frozen=True)
class _Column:
    label: object  # the frame's own column label
    name: str
    kind: str
    prepared: Prepared
    method: str | None  # asked for (None: Evidently's default per window)
    threshold: float | None


class PreparedReference:
    """A reference frame prepared once (sorted values and CDF integrals, category counts,
    std), then compared with as many windows as needed."""

    def __init__(self, columns: dict[object, _Column], rows: int, options: DriftOptions) -> None:
        self._columns = columns
        self.rows = rows
        self.options = options

    @classmethod
    def prepare(
        cls, reference: pd.DataFrame, options: DriftOptions | None = None
    ) -> PreparedReference:
        options = options or DriftOptions()
        options.check()
        if not isinstance(reference, pd.DataFrame):
            raise DriftError("the reference must be a table (a pandas DataFrame)")
        if reference.shape[1] == 0:
            raise DriftError("the reference has no columns")
        if reference.shape[0] == 0:
            raise DriftError("the reference has no rows")
        if reference.columns.has_duplicates:
            name = reference.columns[reference.columns.duplicated()][0]
            raise DriftError(f"the reference has column {str(name)!r} twice")
        named = set(options.columns or ()) | set(options.categorical) | set(options.numerical)
        named |= set(options.rules)
        missing = [name for name in named if name not in reference.columns]
        if missing:
            raise DriftError(f"column {sorted(map(str, missing))[0]!r} is not in the reference")
        wanted = options.columns if options.columns is not None else tuple(reference.columns)
        columns: dict[object, _Column] = {}
        for name in wanted:
            series = reference[name]
            kind = infer_kind(series, name in options.categorical, name in options.numerical)
            prepared: Prepared
            if kind is None:
                prepared = Unusable("cat", f"a {series.dtype} column is not tested")
                kind = "cat"
            else:
                with np.errstate(all="ignore"):
                    prepared = prepare_column(series, kind)
            method, threshold = _asked(options, str(name), kind)
            columns[name] = _Column(name, str(name), kind, prepared, method, threshold)
        return cls(columns, int(reference.shape[0]), options)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self._columns.values())

    def kind(self, column: str) -> str:
        return self._column(column).kind

    def compare(self, current: pd.DataFrame, workers: int = 1) -> DatasetDrift:
        """Every column's verdict on `current`, then the dataset's; a column missing from the
        window (or only in it) is reported with a note, not tested. `workers` > 1 spreads
        the columns over that many threads (numpy's sorts and searches release the GIL)."""
        if not isinstance(current, pd.DataFrame):
            raise DriftError("the current window must be a table (a pandas DataFrame)")
        if current.columns.has_duplicates:
            name = current.columns[current.columns.duplicated()][0]
            raise DriftError(f"the current data has column {str(name)!r} twice")
        if self.options.columns is not None:
            absent = [name for name in self.options.columns if name not in current.columns]
            if absent:
                raise DriftError(f"column {str(absent[0])!r} is not in the current data")
        rows = int(current.shape[0])
        # Columns are taken out here, on the calling thread: pandas' item cache is not
        # meant to be filled from several threads at once.
        work = [
            (column, current[column.label] if column.label in current.columns else None)
            for column in self._columns.values()
        ]
        if workers > 1 and len(work) > 1:
            pool = _pool(workers)
            results = list(pool.map(lambda item: _compare_column(item[0], item[1], rows), work))
        else:
            results = [_compare_column(column, series, rows) for column, series in work]
        if self.options.columns is None:
            for name in current.columns:
                if name not in self._columns:
                    results.append(_untested(str(name), "cat", None, "only in current"))
        tested = [r for r in results if r.tested]
        drifted = sum(1 for r in tested if r.drifted)
        share = drifted / len(tested) if tested else 0.0
        return DatasetDrift(
            columns=tuple(results),
            drifted_count=drifted,
            share=share,
            threshold=self.options.drift_share,
            drifted=bool(tested) and share >= self.options.drift_share,
            reference_rows=self.rows,
            current_rows=rows,
        )

    def histogram(self, column: str, current: pd.DataFrame, bins: int = 20) -> Histogram:
        """Reference and current shares of `column` for drawing: equal-width bins over both
        samples' range for a numeric column, the `bins` most common categories otherwise."""
        entry = self._column(column)
        if entry.label not in current.columns:
            raise DriftError(f"column {column!r} is not in the current data")
        return histogram_of(entry.name, entry.kind, entry.prepared, current[entry.label], bins)

    def _column(self, column: str) -> _Column:
        entry = self._columns.get(column)
        if entry is None:
            entry = next((c for c in self._columns.values() if c.name == column), None)
        if entry is None:
            raise DriftError(f"column {column!r} is not in the reference")
        return entry


def _compare_column(column: _Column, series: pd.Series | None, rows: int) -> ColumnDrift:
    """One column's verdict on the window's `series` (None: the window lacks it)."""
    with np.errstate(all="ignore"):  # an overflow ends as "gave no number", not a warning
        return _compare_quietly(column, series, rows)


def _compare_quietly(column: _Column, series: pd.Series | None, rows: int) -> ColumnDrift:
    prepared = column.prepared
    if isinstance(prepared, Unusable):
        return _untested(column.name, column.kind, column, prepared.note)
    if series is None:
        return _untested(column.name, column.kind, column, "missing in current")
    if rows == 0:
        return _untested(column.name, column.kind, column, "no rows in current")
    if isinstance(prepared, NumericColumn):
        values = numeric_values(series)
        if isinstance(values, str):
            return _untested(column.name, "num", column, f"{values} in current")
        if values.size == 0:
            return _untested(column.name, "num", column, "all values missing in current")
        integer = prepared.integer and pd.api.types.is_integer_dtype(series.dtype)
        method, score = score_numeric(
            prepared, values, integer, column.method, prepared.rows <= SMALL_REFERENCE
        )
    else:
        assert isinstance(prepared, CategoricalColumn)
        counts = category_counts(series)
        if not counts:
            return _untested(column.name, "cat", column, "all values missing in current")
        method, score = score_categorical(
            prepared, counts, column.method, prepared.rows <= SMALL_REFERENCE
        )
    spec = METHODS[method]
    threshold = spec.default_threshold if column.threshold is None else column.threshold
    if not np.isfinite(score):
        note = f"{spec.label} gave no number"
        return _untested(column.name, column.kind, column, note, method)
    return ColumnDrift(
        column=column.name,
        kind=column.kind,
        method=method,
        method_label=spec.label,
        score=score,
        threshold=threshold,
        drifted=bool(spec.drifted(score, threshold)),
    )


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size, so a refresh every few seconds starts no threads."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="drift")
        return pool


def _asked(options: DriftOptions, name: str, kind: str) -> tuple[str | None, float | None]:
    """The method and threshold options ask for: a per-column rule must fit the column's
    kind; the global method applies only where it fits (others keep Evidently's default)."""
    method, threshold = options.chosen(name)
    rule = options.rules.get(name)
    if method is None:
        return None, threshold
    spec = method_named(method)
    if kind in spec.kinds:
        return method, threshold
    if rule is not None and rule.method is not None:
        what = "numeric" if kind == "num" else "categorical"
        raise DriftError(f"method {method!r} does not apply to {what} column {name!r}")
    return None, threshold


def _untested(
    name: str, kind: str, column: _Column | None, note: str, method: str | None = None
) -> ColumnDrift:
    """A column no test ran on; it shows the test asked for (or the usual default)."""
    method = method or (column.method if column is not None else None)
    method = method or ("wasserstein" if kind == "num" else "jensenshannon")
    spec = METHODS[method]
    threshold = spec.default_threshold
    if column is not None and column.threshold is not None:
        threshold = column.threshold
    return ColumnDrift(name, kind, method, spec.label, None, threshold, False, note)


def detect_drift(
    reference: pd.DataFrame, current: pd.DataFrame, options: DriftOptions | None = None
) -> DatasetDrift:
    """One comparison: prepare the reference and compare the window with it."""
    return PreparedReference.prepare(reference, options).compare(current)
