"""The schema check for JSON records, in plain Python: what `check_frame` does for a frame,
done on the records a request sent before any DataFrame exists.

Building and checking a pandas frame costs about a millisecond for one row, more than the
HTTP work around it; checking a few dozen values in Python costs microseconds. So the
server checks each request's records here (refusing it alone, naming the fields), keeps the
schema's columns as lists, and the batcher builds one frame for every request it scores
together (`frame_of`). The values reach the fitted pipeline as they would through
`check_frame`: numbers as floats, times parsed as UTC, categories as sent."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.serving.schema import LARGEST, NUMERIC, TIME, InputSchema, SchemaError, _shown

_NOT_SINGLE = (dict, list, tuple, set)
_LARGEST_INT = 10**308  # LARGEST as the decimal it is written as


@dataclass(frozen=True)
class CheckedRecords:
    """The schema's columns as lists (schema order), and the unseen columns left out."""

    columns: dict[str, list[Any]]
    rows: int
    unseen: list[str]

    def __len__(self) -> int:
        return self.rows


def as_records(payload: Any) -> list[Mapping[str, Any]]:
    """One record (an object) or a non-empty list of them; SchemaError otherwise."""
    rows = [payload] if isinstance(payload, Mapping) else payload
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes) or not rows:
        raise SchemaError({"body": "expected a record (an object) or a non-empty list of them"})
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SchemaError({f"record {position}": "is not an object of feature values"})
    return list(rows)


def check_records(schema: InputSchema, payload: Any) -> CheckedRecords:
    """The payload's records checked against the schema: every feature in every record, each
    value of its column's kind (null is a missing value, imputed). Raises SchemaError naming
    each missing or mistyped field (and the record, when there are several)."""
    records = as_records(payload)
    several = len(records) > 1
    problems: dict[str, str] = {}
    columns: dict[str, list[Any]] = {}
    known = set(schema.names)
    for column in schema.columns:
        name, values = column.name, []
        for position, record in enumerate(records):
            where = f" (record {position})" if several else ""
            if name not in record:
                problems.setdefault(name, f"required feature is missing{where}")
                break
            value = record[name]
            why = _refusal(column.kind, value)
            if why:
                problems.setdefault(name, f"{why}{where}")
                break
            values.append(value)
        columns[name] = values
    if problems:
        raise SchemaError(problems)
    for column in schema.columns:
        if column.kind == TIME:
            columns[column.name] = _times(column.name, column.dtype, columns[column.name])
        elif column.kind == NUMERIC:
            columns[column.name] = [
                math.nan if v is None else float(v) for v in columns[column.name]
            ]
    unseen = list(dict.fromkeys(k for r in records for k in r if k not in known))
    return CheckedRecords(columns, len(records), [str(k) for k in unseen])


def frame_of(schema: InputSchema, parts: Sequence[CheckedRecords]) -> Any:
    """One frame of the schema's columns holding every part's rows, in order (numbers as
    float arrays: cheaper than a Series each, the same frame)."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for column in schema.columns:
        values = [v for part in parts for v in part.columns[column.name]]
        if column.kind == NUMERIC:
            data[column.name] = np.array(values, dtype="float64")
        elif column.kind == TIME:
            data[column.name] = pd.Series(values)
        else:  # a Series keeps the values as sent (an object array would be inferred)
            data[column.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _refusal(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if kind == NUMERIC:
        if isinstance(value, bool):
            return "expected a number, got a boolean"
        if not isinstance(value, int | float):
            return f"expected a number, got {_shown(value)}"
        return None if is_finite_number(value) else f"expected a finite number, got {_shown(value)}"
    if kind == TIME:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return f"expected a date/time, got {_shown(value)}"
        return None
    if isinstance(value, _NOT_SINGLE):
        return f"expected a single value, got {_shown(value)}"
    return None


def is_finite_number(value: Any) -> bool:
    """A number from -LARGEST to LARGEST (not a boolean): what the document's minimum and
    maximum say, also for integers too large for a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return -_LARGEST_INT <= value <= _LARGEST_INT
    return -LARGEST <= value <= LARGEST  # False for NaN and infinities


def _times(name: str, dtype: str, values: list[Any]) -> list[Any]:
    """The values parsed as `check_frame` parses them; SchemaError naming the first that
    does not parse."""
    import pandas as pd

    series = pd.Series(values, dtype=object)
    if dtype.startswith("timedelta"):
        parsed = pd.to_timedelta(series, errors="coerce")
    else:
        parsed = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & series.notna()
    if bad.any():
        raise SchemaError({name: f"expected a date/time, got {_shown(series[bad].iloc[0])}"})
    return list(parsed)
