"""The input schema a model was trained on, and the check every prediction input passes.

Recorded at training time from the feature frame: each column's kind (numeric, time or
categorical, as the preprocessing treats it), its training dtype, whether it had missing
values, and the categories seen (up to `MAX_CATEGORIES`). At prediction time a frame is
checked against it: a missing feature or a value of the wrong type is refused naming the
fields; a column the model never saw is accepted, left out of prediction and reported, so
monitoring can show that production grew a feature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

NUMERIC, TIME, CATEGORICAL = "numeric", "time", "categorical"
KINDS = (NUMERIC, TIME, CATEGORICAL)
MAX_CATEGORIES = 1000
SHOWN_PROBLEMS = 8
# The largest number accepted: near the largest float, and the same value whether read as
# the decimal a JSON Schema validator reads or the float Python parses.
LARGEST = 1e308
_SCALAR_KINDS = {"string", "boolean", "integer", "floating", "mixed-integer-float", "empty"}
_SCALAR_KINDS |= {"categorical", "datetime", "date", "decimal", "bytes"}


class SchemaError(ValueError):
    """Input that does not fit the schema; `problems` maps each field to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        shown = [f"{name}: {why}" for name, why in list(self.problems.items())[:SHOWN_PROBLEMS]]
        more = len(self.problems) - len(shown)
        super().__init__("; ".join(shown) + (f"; … ({more} more)" if more > 0 else ""))


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    kind: str  # numeric | time | categorical
    dtype: str  # the training frame's dtype, e.g. "float64", "object", "datetime64[ns]"
    nullable: bool  # had missing values in training (missing values are imputed either way)
    categories: tuple[str, ...] | None = None  # values seen, as text (None: too many)


@dataclass(frozen=True)
class InputSchema:
    columns: tuple[ColumnSchema, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns], "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSchema:
        columns = []
        for raw in data["columns"]:
            categories = raw.get("categories")
            columns.append(
                ColumnSchema(
                    name=str(raw["name"]),
                    kind=str(raw["kind"]),
                    dtype=str(raw["dtype"]),
                    nullable=bool(raw["nullable"]),
                    categories=None if categories is None else tuple(map(str, categories)),
                )
            )
        return cls(tuple(columns), dict(data.get("extra") or {}))


@dataclass(frozen=True)
class CheckedInput:
    """The frame to predict on (schema columns, schema order) and the unseen columns dropped."""

    frame: Any
    unseen: list[str]


def column_kind(dtype: Any) -> str:
    """How the preprocessing treats a dtype: bools are categories, datetimes and durations
    are times, other numbers numeric, anything else categorical."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return TIME
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    return CATEGORICAL


def infer_schema(X: Any) -> InputSchema:
    """The schema of a training feature frame."""
    columns = []
    for name in X.columns:
        column = X[name]
        kind = column_kind(column.dtype)
        categories = None
        if kind == CATEGORICAL:
            seen = column.dropna().astype(str).unique()
            if len(seen) <= MAX_CATEGORIES:
                categories = tuple(sorted(map(str, seen)))
        columns.append(
            ColumnSchema(
                name=str(name),
                kind=kind,
                dtype=str(column.dtype),
                nullable=bool(column.isna().any()),
                categories=categories,
            )
        )
    return InputSchema(tuple(columns))


def records_frame(records: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Any:
    """One record (a mapping) or a list of them as a DataFrame; anything else is refused."""
    import pandas as pd

    rows = [records] if isinstance(records, Mapping) else records
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes) or not rows:
        raise SchemaError({"body": "expected a record (an object) or a non-empty list of them"})
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SchemaError({f"record {position}": "is not an object of feature values"})
    return pd.DataFrame.from_records(list(rows))


def check_frame(schema: InputSchema, frame: Any) -> CheckedInput:
    """`frame` reduced to the schema's columns, with every value of the right kind; raises
    SchemaError naming each missing or mistyped field."""
    import pandas as pd

    problems: dict[str, str] = {}
    present = {str(c) for c in frame.columns}
    for column in schema.columns:
        if column.name not in present:
            problems[column.name] = "required feature is missing"
    unseen = [str(c) for c in frame.columns if str(c) not in set(schema.names)]
    if problems:
        raise SchemaError(problems)
    checked = {}
    for column in schema.columns:
        values = frame[column.name]
        checked[column.name], problem = _checked_column(column, values)
        if problem:
            problems[column.name] = problem
    if problems:
        raise SchemaError(problems)
    return CheckedInput(pd.DataFrame(checked, index=frame.index), unseen)


def _checked_column(column: ColumnSchema, values: Any) -> tuple[Any, str | None]:
    """The column converted to what training saw, or the first value that cannot be."""
    import pandas as pd

    missing = values.isna()
    if column.kind == NUMERIC:
        if pd.api.types.is_bool_dtype(values.dtype):
            return values, "expected a number, got a boolean"
        if pd.api.types.is_numeric_dtype(values.dtype):
            return values, None
        bad = values[~missing].map(lambda v: isinstance(v, bool) or not _is_number(v))
        if bad.any():
            return values, f"expected a number, got {_shown(values[bad.index[bad]].iloc[0])}"
        return pd.to_numeric(values), None
    if column.kind == TIME:
        if pd.api.types.is_datetime64_any_dtype(values.dtype) or pd.api.types.is_timedelta64_dtype(
            values.dtype
        ):
            return values, None
        if column.dtype.startswith("timedelta"):
            parsed = pd.to_timedelta(values, errors="coerce")
        else:
            parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        bad = parsed.isna() & ~missing
        if bad.any():
            return values, f"expected a date/time, got {_shown(values[bad].iloc[0])}"
        return parsed, None
    if pd.api.types.infer_dtype(values, skipna=True) in _SCALAR_KINDS:
        return values, None  # one C pass instead of a Python call per value
    bad = values[~missing].map(lambda v: isinstance(v, dict | list | tuple | set))
    if bad.any():
        return values, f"expected a single value, got {_shown(values[bad.index[bad]].iloc[0])}"
    return values, None


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Number)


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
