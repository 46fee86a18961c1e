"""The profile of a CSV conversion, gathered from the record batches while they are written,
instead of DuckDB's two scans over the Parquet file afterwards (about 2 CPU s per 300 MB).

Why it stays the same profile: every statistic is what `pipelines.datasets.profiling` states
and stores, computed over the same values (NaN is missing, floats as doubles), and the
records are built by the same `_records`. Counts, missing, min/max and every value count are
exact; mean and std are sums merged across batches (to about 1e-15); low-cardinality columns
(exact value counts kept while at most ``low_card_limit`` values are seen) get their
histograms and quantiles from those counts. What needs the final min/max, the histograms of
the other numeric columns and their quantiles, is one narrow read of just those columns
(`pipelines.datasets.profile_finish`). Text keeps exact counts of up to ``TEXT_VALUES``
values a column (exact distinct counts and top values; memory stays within TEXT_BUDGET
values for all text columns); past that, and for types a CSV never yields,
the column is profiled by DuckDB as before. Distinct counts of the other columns are exact
on files of at most ``EXACT_ROWS`` rows (read back), a HyperLogLog sketch above (as DuckDB's
were, and no further from the truth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipelines.datasets.profiling import _Column

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

TEXT_VALUES = 100_000  # distinct text values counted exactly per column (about 4 MB of text)
TEXT_BUDGET = 2_000_000  # ... and in all text columns together (a wide file gets less each)
TEXT_ROWS = 500_000  # text rows counted at a time (at most TEXT_BLOCKS reader blocks)
TEXT_BLOCKS = 4
_HLL_BITS = 14  # 16,384 registers: about 0.8% standard error
_NUMPY = {
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float": "f4",
    "double": "f8",
}
_DUCK_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "date32[day]": "DATE",
}


@dataclass
class _Stats:
    """Running statistics of one column."""

    col: _Column
    kind: str  # integer | float | boolean | text | datetime | duckdb (profiled the old way)
    non_null: int = 0
    total: float = 0.0  # float sum
    int_total: int = 0  # exact integer sum
    mean: float = 0.0  # of the values seen so far (for the merged M2)
    m2: float = 0.0
    counts: dict[Any, int] | None = field(default_factory=dict)  # ints and booleans
    text: list[Any] | None = None  # pa.Tables of (v, n) to add up: exact text counts
    waiting: list[Any] = field(default_factory=list)  # text arrays not counted yet
    text_limit: int = TEXT_VALUES
    hll: Any = None  # np.ndarray of registers


def new_stats(index: int, arrow_field: pa.Field) -> _Stats:
    """The accumulator for one column of the target schema (types as `profiling` maps
    DuckDB's: integers, floats, booleans, text, dates and timestamps; anything else is left
    to DuckDB)."""
    import pyarrow as pa

    kind_of = arrow_field.type
    duck = _DUCK_TYPES.get(str(kind_of))
    if pa.types.is_timestamp(kind_of):
        duck = "TIMESTAMP WITH TIME ZONE" if kind_of.tz else "TIMESTAMP"
    logical, kind = "other", "duckdb"
    if duck in ("FLOAT", "DOUBLE"):
        logical = kind = "float"
    elif duck == "BOOLEAN":
        logical = kind = "boolean"
    elif duck == "VARCHAR":
        logical, kind = "string", "text"
    elif duck in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        logical = kind = "datetime"
    elif duck is not None:
        logical = kind = "integer"
    col = _Column(
        name=arrow_field.name,
        sql_name=arrow_field.name,
        alias=f"c{index}",
        duck_type=duck or "",
        physical_type=str(kind_of),
        logical_type=logical,
        dictionary=False,
    )
    stats = _Stats(col, kind)
    if kind in ("float", "datetime"):
        stats.counts = None
    return stats


class StreamProfile:
    """Fed every batch of a conversion in order (`add`, on any one thread at a time); the
    finished profile comes from `pipelines.datasets.profile_finish.finish_profile`."""

    def __init__(self, schema: pa.Schema, low_card_limit: int) -> None:
        self.columns = [new_stats(i, f) for i, f in enumerate(schema)]
        texts = [s for s in self.columns if s.kind == "text"]
        for stats in texts:
            stats.text_limit = min(TEXT_VALUES, max(1_000, TEXT_BUDGET // len(texts)))
        self.rows = 0
        self.low_card_limit = low_card_limit

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        for stats, column in zip(self.columns, table.columns, strict=True):
            if stats.kind != "duckdb" and column.num_chunks:
                array = column.combine_chunks() if column.num_chunks > 1 else column.chunk(0)
                _add(stats, array, self.low_card_limit)


def _add(stats: _Stats, array: pa.Array, limit: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = stats.kind
    if kind == "text":
        stats.non_null += len(array) - array.null_count
        _count_text(stats, array)
        return
    if kind == "boolean":
        present = len(array) - array.null_count
        true = int(pc.sum(array).as_py() or 0)
        stats.non_null += present
        assert stats.counts is not None
        for value, number in ((False, present - true), (True, true)):
            if number:
                stats.counts[value] = stats.counts.get(value, 0) + number
        return
    if array.null_count:
        array = array.drop_null()
    values: np.ndarray
    if kind == "datetime":
        _min_max(stats, array)
        storage = pa.int32() if pa.types.is_date32(array.type) else pa.int64()
        values = numpy_view(array.cast(storage)).astype(np.int64)
    else:
        values = numpy_view(array)
        if kind == "float":
            values = values.astype(np.float64, copy=False)
            values = values[~np.isnan(values)]
    if not len(values):
        return
    if kind == "integer":
        _integer_moments(stats, values)
        values = values.astype(np.int64, copy=False)  # unsigned: distinct all the same
        if stats.counts is not None:
            _count_integers(stats, values, limit)
    elif kind == "float":
        _float_moments(stats, values)
        values = values + 0.0  # -0.0 and 0.0 are one value
    stats.non_null += len(values)
    if stats.counts is None:
        _distinct_values(stats, values)


def _distinct_values(stats: _Stats, values: np.ndarray) -> None:
    import numpy as np

    if stats.hll is None:
        stats.hll = np.zeros(1 << _HLL_BITS, dtype=np.uint8)
    _sketch(stats.hll, values)


def numpy_view(array: pa.Array) -> np.ndarray:
    """The values of a primitive array without nulls, as a read-only numpy view (pyarrow's
    own `to_numpy` imports pandas, a third of a second)."""
    import numpy as np

    kind = np.dtype(_NUMPY[str(array.type)])
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=kind, count=len(array), offset=array.offset * kind.itemsize)


def _min_max(stats: _Stats, array: pa.Array) -> None:
    """Dates and timestamps as DuckDB returns them (timestamps in UTC, at most microseconds)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(array):
        return
    kind = array.type
    if pa.types.is_timestamp(kind) and (kind.unit == "ns" or kind.tz):
        array = array.cast(pa.timestamp("us", "UTC" if kind.tz else None), safe=False)
    found = pc.min_max(array)
    low, high = found["min"].as_py(), found["max"].as_py()
    col = stats.col
    col.min = low if col.min is None else min(col.min, low)
    col.max = high if col.max is None else max(col.max, high)


def _integer_moments(stats: _Stats, values: np.ndarray) -> None:
    import numpy as np

    col = stats.col
    low, high = int(values.min()), int(values.max())
    col.min = low if col.min is None else min(col.min, low)
    col.max = high if col.max is None else max(col.max, high)
    wide = values.astype(np.int64, copy=False)  # an exact sum, whatever the values
    stats.int_total += (int(np.sum(wide >> 32)) << 32) + int(np.sum(wide & 0xFFFFFFFF))
    if values.dtype == np.uint64:
        stats.int_total = stats.int_total + int(np.sum(values >= 2**63)) * 2**64
    _merge_moments(stats, values.astype(np.float64))


def _float_moments(stats: _Stats, values: np.ndarray) -> None:
    import numpy as np

    col = stats.col
    low, high = float(values.min()), float(values.max())
    col.min = low if col.min is None else min(col.min, low)
    col.max = high if col.max is None else max(col.max, high)
    finite = values if np.isfinite(low) and np.isfinite(high) else values[np.isfinite(values)]
    if len(finite):
        low, high = float(finite.min()), float(finite.max())
        col.finite_min = low if col.finite_min is None else min(col.finite_min, low)
        col.finite_max = high if col.finite_max is None else max(col.finite_max, high)
    with np.errstate(all="ignore"):
        stats.total += float(np.sum(values))
        _merge_moments(stats, values)


def _merge_moments(stats: _Stats, values: np.ndarray) -> None:
    """Chan et al.'s pairwise update of the mean and the sum of squared deviations."""
    import numpy as np

    with np.errstate(all="ignore"):
        count = len(values)
        mean = float(np.mean(values))
        m2 = float(np.sum(np.square(values - mean)))  # not np.dot: BLAS threads cost more
        seen = stats.non_null
        if seen == 0:
            stats.mean, stats.m2 = mean, m2
            return
        delta = mean - stats.mean
        both = seen + count
        stats.mean += delta * count / both
        stats.m2 += m2 + delta * delta * seen * count / both


def _count_integers(stats: _Stats, values: np.ndarray, limit: int) -> None:
    """Exact value counts while at most `limit` values were seen (a bincount over a short
    range, a sort otherwise); past that, the values seen seed the distinct
    count."""
    import numpy as np

    assert stats.counts is not None
    low, high = int(values.min()), int(values.max())
    if high - low < 1 << 16:
        found = np.bincount(values - low)
        keys = np.flatnonzero(found)
        pairs = zip((keys + low).tolist(), found[keys].tolist(), strict=True)
    else:
        keys, found = np.unique(values, return_counts=True)
        pairs = zip(keys.tolist(), found.tolist(), strict=True)
    counts = stats.counts
    if len(keys) <= limit:
        for key, number in pairs:
            counts[key] = counts.get(key, 0) + number
        if len(counts) <= limit:
            return
    stats.counts = None  # the values seen so far seed the sketch (it takes each value once)
    _distinct_values(stats, np.array(list(counts), dtype=np.int64))


def _count_text(stats: _Stats, array: pa.Array | None) -> None:
    """Exact counts of every text value: Arrow's hash counting over about TEXT_ROWS rows at a
    time (fewer, larger counts to add up), those counts kept and added up (`merged_text`)
    once they pass twice the column's limit; past the limit (TEXT_VALUES distinct values,
    fewer when many text columns share TEXT_BUDGET) the column goes to DuckDB. `array`
    None: count what is waiting (the end of the file)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    waiting = stats.waiting
    if array is not None:
        waiting.append(array)
        if sum(len(a) for a in waiting) < TEXT_ROWS and len(waiting) < TEXT_BLOCKS:
            return
    if not waiting:
        return
    found = pc.value_counts(pa.chunked_array(waiting))
    stats.waiting = []
    values, numbers = found.field("values"), found.field("counts")
    if values.null_count:
        keep = values.is_valid()
        values, numbers = values.filter(keep), numbers.filter(keep)
    parts = [*(stats.text or []), pa.table({"v": values.cast(pa.string()), "n": numbers})]
    limit = stats.text_limit
    if sum(p.num_rows for p in parts) > 2 * limit or parts[-1].num_rows > limit:
        parts = [merged_text(parts)]
        if parts[0].num_rows > limit:
            stats.kind, parts = "duckdb", []
    stats.text = parts


def finish_text(stats: _Stats) -> pa.Table | None:
    """The exact counts of a text column, once every batch was added."""
    _count_text(stats, None)
    if stats.kind != "text" or not stats.text:
        return None
    return merged_text(stats.text)


def merged_text(parts: list[pa.Table]) -> pa.Table:
    """Counts of the same value added up (a dictionary encoding and a bincount: cheaper
    than a hash aggregation)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(parts) == 1:
        return parts[0]
    both = pa.concat_tables(parts)
    encoded = pc.dictionary_encode(both["v"]).combine_chunks()
    numbers = numpy_view(both["n"].combine_chunks())
    sums = np.bincount(
        numpy_view(encoded.indices), weights=numbers, minlength=len(encoded.dictionary)
    )
    data = pa.py_buffer(sums.astype(np.int64))  # pa.array(ndarray) would import pandas
    added = pa.Array.from_buffers(pa.int64(), len(sums), [None, data])
    return pa.table({"v": encoded.dictionary, "n": added})


def _sketch(registers: np.ndarray, values: np.ndarray) -> None:
    """HyperLogLog: each value's 64-bit mix picks a register by its top bits and offers the
    position of the first set bit of the rest."""
    import numpy as np

    with np.errstate(over="ignore"):
        z = values.view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    rest = 64 - _HLL_BITS
    index = (z >> np.uint64(rest)).astype(np.intp)
    low = (z & np.uint64((1 << rest) - 1)).astype(np.float64)  # exact: below 2**53
    rank = (rest + 1 - np.frexp(low)[1]).astype(np.uint8)
    np.maximum.at(registers, index, rank)


def sketch_estimate(registers: np.ndarray) -> int:
    """The HyperLogLog estimate, with linear counting for small sets."""
    import numpy as np

    size = len(registers)
    alpha = 0.7213 / (1 + 1.079 / size)
    raw = alpha * size * size / float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    zeros = int(np.count_nonzero(registers == 0))
    if raw <= 2.5 * size and zeros:
        raw = size * math.log(size / zeros)
    return round(raw)
