"""One column of the reference, prepared once: a numeric column as its sorted finite values,
their CDF integral and std; a categorical one as its category counts. Also what a window's
column turns into (sorted values or counts) and how a column's kind is decided.

Kinds follow Evidently 0.7's `infer_column_type`, applied to the reference (Evidently infers
them from the current data; the reference keeps a column's kind steady across windows):
floats are numeric; integers numeric above 10 distinct values, else categorical; strings,
booleans and pandas categories categorical. Strings of many distinct values, which Evidently
calls text and tests with a classifier, are tested as categories here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.drift.stats import Floats, ecdf_integral, runs

INTEGER_CATEGORY_LIMIT = 10  # Evidently's INTEGER_CARDINALITY_LIMIT


@dataclass(frozen=True)
class NumericColumn:
    """Sorted finite values (NaN and ±inf dropped, as Evidently does) and what the tests
    need from them: the CDF integral, std (ddof 0), distinct values and their counts."""

    values: Floats
    cum: Floats
    std: float
    distinct: Floats
    distinct_counts: Floats
    integer: bool

    @property
    def rows(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class CategoricalColumn:
    """Counts of each non-missing value (±inf counts as missing, as Evidently has it)."""

    counts: dict[Any, int]
    rows: int


@dataclass(frozen=True)
class Unusable:
    """A column no test can run on; `note` says why in plain words."""

    kind: str
    note: str


Prepared = NumericColumn | CategoricalColumn | Unusable


def infer_kind(series: pd.Series, categorical: bool, numerical: bool) -> str | None:
    """ "num", "cat", or None for a column Evidently does not test (datetimes, lists...)."""
    if categorical:
        return "cat"
    if numerical:
        return "num"
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "cat"
    if pd.api.types.is_float_dtype(dtype):
        return "num"
    if pd.api.types.is_integer_dtype(dtype):
        return "cat" if series.nunique() <= INTEGER_CATEGORY_LIMIT else "num"
    if pd.api.types.is_string_dtype(dtype):  # object or str: strings, or everything missing
        present = series.dropna()
        if present.empty:
            return "cat"
        return "cat" if isinstance(present.iloc[0], str) else None
    return None


def numeric_values(series: pd.Series) -> Floats | str:
    """Sorted finite values of a column, or a note when its values are not numbers."""
    if not (pd.api.types.is_numeric_dtype(series.dtype) or _all_missing_object(series)):
        return "values are not numeric"
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    values.sort(kind="quicksort")
    return values


def _all_missing_object(series: pd.Series) -> bool:
    return series.dtype == object and not series.notna().any()


def is_integer(series: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(series.dtype)


def category_counts(series: pd.Series) -> dict[Any, int]:
    """Counts of each value, missing values and ±inf left out (one factorize and one
    bincount: several times faster than value_counts on strings)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)[1:]
    result: dict[Any, int] = {}
    for key, count in zip(list(uniques), counts.tolist(), strict=True):
        if count == 0 or (isinstance(key, float) and not np.isfinite(key)):
            continue  # ±inf counts as missing, as Evidently has it
        result[key] = result.get(key, 0) + int(count)
    return result


def prepare_column(series: pd.Series, kind: str) -> Prepared:
    """The reference side of one column, ready for every window."""
    if kind == "cat":
        counts = category_counts(series)
        if not counts:
            return Unusable("cat", "all values missing in reference")
        return CategoricalColumn(counts, sum(counts.values()))
    values = numeric_values(series)
    if isinstance(values, str):
        return Unusable("num", f"{values} in reference")
    if values.size == 0:
        return Unusable("num", "all values missing in reference")
    distinct, distinct_counts = runs(values)
    return NumericColumn(
        values=values,
        cum=ecdf_integral(values),
        std=float(np.std(values)),
        distinct=distinct,
        distinct_counts=distinct_counts,
        integer=is_integer(series),
    )
