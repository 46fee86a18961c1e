"""Schema and profile of a Parquet file, computed by DuckDB in two scans per group of columns.

Why scans shared by many columns and not one per statistic: on 10 million rows every scan
costs about a second. Why groups of ``COLUMNS_PER_QUERY`` and not every column at once: one
aggregate over hundreds of columns grows much faster than its width in DuckDB (400 columns
took 106 s, 3,000 crashed the process), while Parquet lets each group read only its own
columns, so a wide file (an MNIST-style 785 columns) costs about the same per column as a
narrow one.

1. one aggregate over the group: counts, distinct counts, min/max/mean/std, and over a
   random ~200k-row sample (a flag computed in the same scan) the quantiles and candidate
   top values of text columns;
2. one aggregate for the histograms: equal-width bins of every numeric column, exact value
   counts of every low-cardinality column, exact counts of the candidate top values.

NaN in a float column counts as missing. On files of at most ``EXACT_ROWS`` rows distinct
counts and quantiles are exact; above that they are approximate (HyperLogLog and a sample).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.errors import DatasetInputError
from storage.records import ColumnProfile, ColumnSchema, DatasetProfile

EXACT_ROWS = 100_000  # up to this many rows: exact distinct counts and quantiles
COLUMNS_PER_QUERY = 32  # measured: 16-64 cost the same per column, 200+ much more
SAMPLE_ROWS = 200_000  # about this many rows feed the quantiles on larger files
TOP_VALUES = 10
QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_SMALL_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TEXT_TYPES = {"string", "categorical"}


@dataclass
class _Column:
    """What the profiler learns about one column while the queries run."""

    name: str
    sql_name: str  # as DuckDB calls it (it renames duplicates)
    alias: str  # c0, c1, ...: safe in SQL whatever the real name is
    duck_type: str
    physical_type: str
    logical_type: str
    dictionary: bool
    non_null: int = 0
    distinct: int = 0
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    finite_min: float | None = None
    finite_max: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)
    top_candidates: list[str] = field(default_factory=list)
    value_counts: dict[Any, int] | None = None  # exact, for low-cardinality columns
    candidate_counts: dict[Any, int] | None = None  # exact counts of the top candidates
    histogram: list[int] = field(default_factory=list)
    histogram_edges: list[float] = field(default_factory=list)

    @property
    def numeric(self) -> bool:
        return self.logical_type in ("integer", "float")


def quote_identifier(name: str) -> str:
    """A column name as a DuckDB identifier: spaces, quotes and unicode are all fine."""
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def profile_parquet(
    path: Path, *, histogram_bins: int = 20, category_limit: int = 50
) -> tuple[list[ColumnSchema], DatasetProfile]:
    """Schema and profile of the Parquet file at `path` (see the module docstring)."""
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        arrow_schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise DatasetInputError(f"{path}: not a readable Parquet file ({exc})") from None
    low_card_limit = max(4 * category_limit, 200)
    columns, rows = scan_columns(path, arrow_schema, None, None, histogram_bins, low_card_limit)
    return _records(columns, rows, category_limit)


def scan_columns(
    path: Path,
    arrow_schema: Any,
    indexes: list[int] | None,
    rows: int | None,
    histogram_bins: int,
    low_card_limit: int,
) -> tuple[list[_Column], int]:
    """The two DuckDB scans of the Parquet file at `path`, a group of columns at a time:
    the columns at `indexes` (every one when None) and the row count (counted when None)."""
    import duckdb

    con = duckdb.connect()
    with contextlib.suppress(duckdb.Error):  # without ICU timestamps keep the session zone
        con.execute("SET TimeZone = 'UTC'")
    con.execute("SET parquet_metadata_cache = true")  # one footer parse for all the groups
    try:
        source = f"read_parquet({_quote_literal(str(path))})"
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        chosen = range(len(described)) if indexes is None else indexes
        columns = [
            _new_column(i, arrow_schema.field(i), described[i][0], str(described[i][1]))
            for i in chosen
        ]
        if rows is None:
            [(rows,)] = con.execute(f"SELECT count(*) FROM {source}").fetchall()
        for start in range(0, len(columns), COLUMNS_PER_QUERY):
            group = columns[start : start + COLUMNS_PER_QUERY]
            _first_scan(con, source, group, rows)
            _second_scan(con, source, group, histogram_bins, low_card_limit)
    except duckdb.Error as exc:
        raise DatasetInputError(f"{path}: cannot profile ({exc})") from None
    finally:
        con.close()
    return columns, rows


def _new_column(index: int, arrow_field: Any, sql_name: str, duck_type: str) -> _Column:
    import pyarrow as pa

    dictionary = pa.types.is_dictionary(arrow_field.type)
    base = duck_type.split("(")[0]
    if base in _INTEGER_TYPES:
        logical = "integer"
    elif base in _FLOAT_TYPES or base == "DECIMAL":
        logical = "float"
    elif base == "BOOLEAN":
        logical = "boolean"
    elif base == "VARCHAR":
        logical = "categorical" if dictionary else "string"
    elif base == "DATE" or base.startswith("TIMESTAMP"):
        logical = "datetime"
    else:
        logical = "other"
    return _Column(
        name=arrow_field.name,
        sql_name=sql_name,
        alias=f"c{index}",
        duck_type=duck_type,
        physical_type=str(arrow_field.type),
        logical_type=logical,
        dictionary=dictionary,
    )


def _projection(columns: list[_Column]) -> str:
    """Each column under its alias; floats as DOUBLE with NaN turned into NULL."""
    parts = []
    for col in columns:
        ident = quote_identifier(col.sql_name)
        if col.logical_type == "float":
            value = f"CAST({ident} AS DOUBLE)"
            parts.append(f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END AS {col.alias}")
        else:
            parts.append(f"{ident} AS {col.alias}")
    return ", ".join(parts)


def _first_scan(con: Any, source: str, columns: list[_Column], total: int) -> None:
    """Counts, distinct counts, moments and (sampled) quantiles of a group of columns."""
    exact = total <= EXACT_ROWS
    fraction = 1.0 if total <= SAMPLE_ROWS else SAMPLE_ROWS / total
    sample_flag = "TRUE" if fraction >= 1.0 else f"random() < {fraction!r}"
    quantile_list = "[" + ", ".join(repr(q) for q in QUANTILES.values()) + "]"
    expressions: list[str] = []
    readers: list[tuple[_Column, str]] = []

    def add(col: _Column, attribute: str, sql: str) -> None:
        expressions.append(sql)
        readers.append((col, attribute))

    for col in columns:
        a = col.alias
        add(col, "non_null", f"count({a})")
        if col.logical_type == "other":  # lists, structs, blobs...: distinct by hash
            hashed = f"CASE WHEN {a} IS NOT NULL THEN hash({a}) END"
            distinct = f"count(DISTINCT {hashed})" if exact else f"approx_count_distinct({hashed})"
            add(col, "distinct", distinct)
            continue
        add(col, "distinct", f"count(DISTINCT {a})" if exact else f"approx_count_distinct({a})")
        if col.numeric or col.logical_type == "datetime":
            add(col, "min", f"min({a})")
            add(col, "max", f"max({a})")
        if col.numeric:
            add(col, "mean", f"avg({a})")
            add(col, "std", f"stddev_samp({a})")
            add(
                col,
                "quantiles",
                f"quantile_cont(CASE WHEN _sampled THEN CAST({a} AS DOUBLE) END, {quantile_list})",
            )
        if col.logical_type == "float":
            add(col, "finite_min", f"min(CASE WHEN isfinite({a}) THEN {a} END)")
            add(col, "finite_max", f"max(CASE WHEN isfinite({a}) THEN {a} END)")
        if col.logical_type in _TEXT_TYPES:
            add(
                col,
                "top_candidates",
                f"approx_top_k(CASE WHEN _sampled THEN {a} END, {TOP_VALUES})",
            )
    if not expressions:
        return
    sql = (
        f"SELECT {', '.join(expressions)} FROM "
        f"(SELECT {_projection(columns)}, {sample_flag} AS _sampled FROM {source})"
    )
    values = con.execute(sql).fetchone()
    for (col, attribute), value in zip(readers, values, strict=True):
        if attribute == "quantiles":
            value = {
                key: float(q)
                for key, q in zip(QUANTILES, value or [], strict=False)
                if q is not None and math.isfinite(q)
            }
        elif attribute == "top_candidates":
            value = [v for v in value or [] if v is not None]
        elif attribute in ("non_null", "distinct"):
            value = int(value or 0)
        setattr(col, attribute, value)


def _second_scan(
    con: Any, source: str, columns: list[_Column], bins: int, low_card_limit: int
) -> None:
    """Histograms of numeric columns and exact value counts, in one aggregate."""
    expressions: list[str] = []
    params: list[Any] = []
    readers: list[tuple[_Column, str, Any]] = []
    for col in columns:
        a = col.alias
        binning = _binning(col, bins)
        if binning is not None:
            binned, bin_params, edges = binning
            if col.logical_type == "float" and (col.min, col.max) != (
                col.finite_min,
                col.finite_max,
            ):  # infinities: leave them out (costs time, so only when there are any)
                binned = f"CASE WHEN isfinite({a}) THEN {binned} END"
            expressions.append(f"histogram({binned})")
            params.extend(bin_params)
            readers.append((col, "histogram", edges))
        countable = col.logical_type in (*_TEXT_TYPES, "boolean", "integer")
        if countable and col.non_null and col.distinct <= low_card_limit:
            expressions.append(f"histogram({a})")
            readers.append((col, "values", None))
        elif col.logical_type in _TEXT_TYPES and col.top_candidates:
            marks = ", ".join("?" for _ in col.top_candidates)
            expressions.append(f"histogram(CASE WHEN {a} IN ({marks}) THEN {a} END)")
            params.extend(col.top_candidates)
            readers.append((col, "candidates", None))
    if not expressions:
        return
    sql = f"SELECT {', '.join(expressions)} FROM (SELECT {_projection(columns)} FROM {source})"
    values = con.execute(sql, params).fetchone()
    for (col, kind, edges), value in zip(readers, values, strict=True):
        counts = dict(value or {})
        if kind == "histogram":
            col.histogram = [0] * (len(edges) - 1)
            for key, number in counts.items():
                if key is not None:  # the max (and rounding at the ends) lands past the end
                    col.histogram[min(max(int(key), 0), len(col.histogram) - 1)] += int(number)
            col.histogram_edges = edges
        elif kind == "values":
            col.value_counts = {k: int(v) for k, v in counts.items() if k is not None}
            col.distinct = len(col.value_counts)
        else:
            col.candidate_counts = {k: int(v) for k, v in counts.items() if k is not None}


def _binning(col: _Column, bins: int) -> tuple[str, list[Any], list[float]] | None:
    """SQL giving each value's bin number, its parameters, and the bin edges.

    Floats get `bins` equal-width bins from the finite min to the max. Integers get bins of a
    whole width (one value per bin when the range is small), edges ``lo, lo + w, ...`` with
    each bin half-open, computed in integer arithmetic so no value lands in the wrong bin.
    The float path multiplies by 1/width: much faster in DuckDB than dividing.
    """
    if not col.numeric or col.non_null == 0:
        return None
    lo = col.finite_min if col.logical_type == "float" else col.min
    hi = col.finite_max if col.logical_type == "float" else col.max
    if lo is None or hi is None:
        return None
    count = max(1, bins)
    small_int = col.duck_type in _SMALL_INTEGER_TYPES
    if col.logical_type == "integer" and small_int and int(hi) - int(lo) < 2**52:
        first, last = int(lo), int(hi)
        step = -(-(last - first + 1) // count)
        count = -(-(last - first + 1) // step)
        edges = [float(first + k * step) for k in range(count + 1)]
        return f"(CAST({col.alias} AS BIGINT) - ?) // ?", [first, step], edges
    lo, hi = float(lo), float(hi)
    if not math.isfinite(hi - lo):
        return None
    if hi == lo:
        return f"CASE WHEN {col.alias} IS NOT NULL THEN 0 END", [], [lo, hi]
    width = (hi - lo) / count
    inverse = 1.0 / width
    if not math.isfinite(inverse):
        return None
    edges = [lo + k * width for k in range(count)] + [hi]
    binned = f"floor((CAST({col.alias} AS DOUBLE) - ?) * ?)"
    return binned, [lo, inverse], edges


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clean(value: Any) -> float | None:
    """A plain, finite python float (JSON-safe), or None."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _top(counts: dict[Any, int]) -> list[tuple[str, int]]:
    ranked = sorted(((_as_text(k), v) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:TOP_VALUES]


def _records(
    columns: list[_Column], rows: int, category_limit: int
) -> tuple[list[ColumnSchema], DatasetProfile]:
    schema: list[ColumnSchema] = []
    profiles: list[ColumnProfile] = []
    for col in columns:
        logical = col.logical_type
        exact_values = col.value_counts
        if logical == "string" and exact_values is not None and len(exact_values) <= category_limit:
            logical = "categorical"
        missing = rows - col.non_null
        categories = None
        if logical == "categorical" and exact_values is not None:
            categories = sorted(_as_text(k) for k in exact_values)
        top: list[tuple[str, int]] = []
        if exact_values is not None and (
            logical in (*_TEXT_TYPES, "boolean") or len(exact_values) <= category_limit
        ):
            top = _top(exact_values)
        elif col.candidate_counts:
            top = _top(col.candidate_counts)
        low: float | str | None
        high: float | str | None
        if col.numeric:
            low, high = _clean(col.min), _clean(col.max)
        elif logical == "datetime":
            low, high = _iso(col.min), _iso(col.max)
        else:
            low = high = None
        schema.append(
            ColumnSchema(
                name=col.name,
                logical_type=logical,
                physical_type=col.physical_type,
                nullable=missing > 0,
                cardinality=col.distinct,
            )
        )
        profiles.append(
            ColumnProfile(
                name=col.name,
                missing=missing,
                missing_pct=round(100.0 * missing / rows, 4) if rows else 0.0,
                distinct=col.distinct,
                min=low,
                max=high,
                mean=_clean(col.mean),
                std=_clean(col.std),
                quantiles=col.quantiles,
                top_values=top,
                categories=categories,
                histogram=col.histogram,
                histogram_edges=col.histogram_edges,
            )
        )
    return schema, DatasetProfile(rows=rows, columns=profiles)
