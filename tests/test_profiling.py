"""profile_parquet on real Parquet files: exact numbers on small tables, sane ones on big."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.datasets.profiling import profile_parquet
from storage.errors import DatasetInputError
from storage.records import ColumnProfile, ColumnSchema, DatasetProfile

ROWS = 1_000


def write(tmp_path: Path, table: pa.Table, name: str = "data.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def by_name(
    result: tuple[list[ColumnSchema], DatasetProfile],
) -> tuple[dict[str, ColumnSchema], dict[str, ColumnProfile]]:
    schema, profile = result
    return {c.name: c for c in schema}, {c.name: c for c in profile.columns}


@pytest.fixture
def known(tmp_path: Path) -> tuple[pa.Table, tuple[list[ColumnSchema], DatasetProfile]]:
    """1,000 rows of every logical type, with missing values where it matters."""
    rng = np.random.default_rng(3)
    ages = rng.integers(18, 80, ROWS)
    age_missing = rng.random(ROWS) < 0.1
    amount = rng.gamma(2.0, 50.0, ROWS)
    amount_missing = rng.random(ROWS) < 0.2
    plans = np.array(["basic", "pro", "team"])[rng.integers(0, 3, ROWS)]
    table = pa.table(
        {
            "age": pa.array(ages, mask=age_missing),
            "amount": pa.array(amount, mask=amount_missing),
            "tickets": pa.array(rng.poisson(1.5, ROWS).astype(np.int32)),
            "plan": pa.array(plans),
            "tier": pa.array(plans).dictionary_encode(),
            "customer_id": pa.array([f"C{i:05d}" for i in range(ROWS)]),
            "active": pa.array(rng.random(ROWS) < 0.3, mask=rng.random(ROWS) < 0.05),
            "signed_up": pa.array(
                [datetime(2024, 1, 1 + i % 28, tzinfo=UTC) for i in range(ROWS)],
                pa.timestamp("us", tz="UTC"),
            ),
            "birthday": pa.array([date(1990, 1 + i % 12, 1) for i in range(ROWS)]),
            "tags": pa.array([[i % 3] for i in range(ROWS)]),
        }
    )
    return table, profile_parquet(write(tmp_path, table))


def test_logical_and_physical_types(known) -> None:
    schema, _ = by_name(known[1])
    assert {name: c.logical_type for name, c in schema.items()} == {
        "age": "integer",
        "amount": "float",
        "tickets": "integer",
        "plan": "categorical",
        "tier": "categorical",
        "customer_id": "string",
        "active": "boolean",
        "signed_up": "datetime",
        "birthday": "datetime",
        "tags": "other",
    }
    assert schema["age"].physical_type == "int64"
    assert schema["tickets"].physical_type == "int32"
    assert schema["tier"].physical_type.startswith("dictionary<values=string")
    assert schema["age"].nullable and schema["amount"].nullable and schema["active"].nullable
    assert not schema["plan"].nullable and not schema["customer_id"].nullable


def test_counts_and_moments_match_numpy(known) -> None:
    table, result = known
    schema, columns = by_name(result)
    assert result[1].rows == ROWS
    for name in ("age", "amount", "tickets"):
        values = table[name].to_numpy(zero_copy_only=False).astype(float)
        present = values[~np.isnan(values)]
        col = columns[name]
        assert col.missing == ROWS - len(present) == table[name].null_count
        assert col.missing_pct == pytest.approx(100 * col.missing / ROWS)
        assert col.min == float(present.min()) and col.max == float(present.max())
        assert col.mean == pytest.approx(present.mean())
        assert col.std == pytest.approx(present.std(ddof=1))
        assert col.distinct == len(np.unique(present)) == schema[name].cardinality
        assert type(col.min) is float and type(col.mean) is float


def test_quantiles_are_exact_interpolated_on_small_files(known) -> None:
    table, result = known
    amount = by_name(result)[1]["amount"]
    present = table["amount"].drop_null().to_numpy()
    assert list(amount.quantiles) == ["p05", "p25", "p50", "p75", "p95"]
    for key, q in zip(amount.quantiles, (5, 25, 50, 75, 95), strict=True):
        assert amount.quantiles[key] == pytest.approx(np.percentile(present, q))


def test_histograms_cover_every_present_value(known) -> None:
    table, result = known
    columns = by_name(result)[1]
    amount = columns["amount"]
    assert len(amount.histogram) == 20 and len(amount.histogram_edges) == 21
    assert sum(amount.histogram) == ROWS - amount.missing
    assert amount.histogram_edges[0] == amount.min and amount.histogram_edges[-1] == amount.max
    present = table["amount"].drop_null().to_numpy()
    expected, _ = np.histogram(present, bins=np.array(amount.histogram_edges))
    assert sum(abs(a - b) for a, b in zip(amount.histogram, expected, strict=True)) <= 2

    age = columns["age"]  # integers: whole-width bins, edges on whole numbers
    assert sum(age.histogram) == ROWS - age.missing
    widths = {b - a for a, b in zip(age.histogram_edges, age.histogram_edges[1:], strict=False)}
    assert len(widths) == 1 and next(iter(widths)).is_integer()
    assert age.histogram_edges[0] == age.min and age.histogram_edges[-1] > age.max

    tickets = columns["tickets"]  # a small range: one bin per value
    counts = np.bincount(table["tickets"].to_numpy(), minlength=int(tickets.max) + 1)
    assert tickets.histogram == counts[int(tickets.min) :].tolist()


def test_histogram_bins_option(tmp_path: Path) -> None:
    table = pa.table({"x": np.linspace(0.0, 1.0, 101)})
    _, profile = profile_parquet(write(tmp_path, table), histogram_bins=4)
    x = profile.column("x")
    assert x.histogram_edges == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert sum(x.histogram) == 101


def test_constant_and_extreme_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "constant": pa.array([2.5, None, 2.5, 2.5]),
            "wide": pa.array([-2_000_000_000, None, 0, 2_000_000_000], pa.int32()),
            "huge": pa.array([0, 2**63 - 1, None, 5], pa.int64()),
        }
    )
    _, profile = profile_parquet(write(tmp_path, table))
    constant = profile.column("constant")
    assert constant.histogram == [3] and constant.histogram_edges == [2.5, 2.5]
    assert constant.std == 0.0
    for name in ("wide", "huge"):
        col = profile.column(name)
        assert sum(col.histogram) == 3 and len(col.histogram_edges) == len(col.histogram) + 1
    assert profile.column("wide").min == -2e9 and profile.column("huge").max == float(2**63 - 1)


def test_categories_and_top_values(known) -> None:
    table, result = known
    columns = by_name(result)[1]
    plans = table["plan"].value_counts().to_pylist()
    expected = sorted(((p["values"], p["counts"]) for p in plans), key=lambda kv: -kv[1])
    for name in ("plan", "tier"):
        assert columns[name].categories == ["basic", "pro", "team"]
        assert columns[name].top_values == expected
        assert columns[name].distinct == 3
    tickets = columns["tickets"]  # integer with few values: top values, no categories
    assert tickets.categories is None
    top_value, top_count = tickets.top_values[0]
    assert top_count == max(np.bincount(table["tickets"].to_numpy()))
    assert int(top_value) == int(np.argmax(np.bincount(table["tickets"].to_numpy())))
    active = columns["active"]
    true_count = int(np.sum(table["active"].fill_null(False).to_numpy(zero_copy_only=False)))
    assert dict(active.top_values) == {
        "true": true_count,
        "false": ROWS - active.missing - true_count,
    }
    ids = columns["customer_id"]
    assert ids.categories is None and ids.distinct == ROWS
    assert len(ids.top_values) == 10 and all(count == 1 for _, count in ids.top_values)
    assert columns["amount"].top_values == [] and columns["amount"].categories is None


def test_category_limit_decides_categorical(tmp_path: Path) -> None:
    table = pa.table({"code": [f"k{i % 30}" for i in range(300)]})
    path = write(tmp_path, table)
    schema, profile = profile_parquet(path, category_limit=50)
    assert schema[0].logical_type == "categorical" and len(profile.columns[0].categories) == 30
    schema, profile = profile_parquet(path, category_limit=10)
    assert schema[0].logical_type == "string" and profile.columns[0].categories is None
    assert len(profile.columns[0].top_values) == 10


def test_datetimes_as_iso_strings(known) -> None:
    columns = by_name(known[1])[1]
    assert columns["signed_up"].min == "2024-01-01T00:00:00+00:00"
    assert columns["signed_up"].max == "2024-01-28T00:00:00+00:00"
    assert columns["birthday"].min == "1990-01-01" and columns["birthday"].max == "1990-12-01"
    assert columns["signed_up"].mean is None and columns["signed_up"].histogram == []


def test_all_null_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "nothing": pa.nulls(50),
            "no_float": pa.nulls(50, pa.float64()),
            "no_text": pa.nulls(50, pa.string()),
            "no_int": pa.nulls(50, pa.int64()),
            "x": list(range(50)),
        }
    )
    schema, profile = profile_parquet(write(tmp_path, table))
    for name in ("nothing", "no_float", "no_text", "no_int"):
        col = profile.column(name)
        assert (col.missing, col.missing_pct, col.distinct) == (50, 100.0, 0)
        assert col.min is None and col.max is None and col.mean is None and col.std is None
        assert col.quantiles == {} and col.histogram == [] and col.top_values == []
    assert {c.name: c.nullable for c in schema}["nothing"] is True


def test_nan_is_missing_and_infinities_never_leak(tmp_path: Path) -> None:
    table = pa.table({"v": [1.0, float("nan"), 3.0, None, float("inf"), 2.0]})
    _, profile = profile_parquet(write(tmp_path, table))
    v = profile.column("v")
    assert v.missing == 2 and v.min == 1.0
    assert v.max is None and v.mean is None  # inf is not a JSON number
    assert v.histogram_edges[0] == 1.0 and v.histogram_edges[-1] == 3.0
    assert sum(v.histogram) == 3  # the finite values
    json.dumps(asdict(profile), allow_nan=False)


def test_profile_is_json_serialisable(known) -> None:
    schema, profile = known[1]
    json.dumps([asdict(c) for c in schema], allow_nan=False)
    text = json.dumps(asdict(profile), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text


def test_weird_column_names(tmp_path: Path) -> None:
    names = ["total charges ($)", 'say "hi"', "it's", "naïve ✓ 数据", "select", "a.b"]
    table = pa.table({name: [i, i + 1, None] for i, name in enumerate(names)})
    schema, profile = profile_parquet(write(tmp_path, table))
    assert [c.name for c in schema] == names
    for i, name in enumerate(names):
        col = profile.column(name)
        assert (col.min, col.max, col.missing) == (float(i), float(i + 1), 1)


def test_empty_file(tmp_path: Path) -> None:
    table = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    schema, profile = profile_parquet(write(tmp_path, table))
    assert profile.rows == 0 and [c.missing for c in profile.columns] == [0, 0]
    assert [c.logical_type for c in schema] == ["integer", "string"]


def test_not_parquet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "oops.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetInputError, match=r"oops\.parquet"):
        profile_parquet(path)


def test_large_file_uses_approximations_that_stay_close(tmp_path: Path) -> None:
    """Above the exact threshold distinct counts and quantiles are estimates; counts are not."""
    rows = 300_000
    rng = np.random.default_rng(11)
    values = rng.normal(100.0, 15.0, rows)
    ids = np.arange(rows)
    colours = np.array(["red", "green", "blue", "black"])[rng.integers(0, 4, rows)]
    codes = rng.integers(0, 50_000, rows)
    table = pa.table(
        {
            "value": pa.array(values, mask=rng.random(rows) < 0.01),
            "id": ids,
            "colour": colours,
            "code": pa.array([f"X{c}" for c in codes]),
        }
    )
    _, profile = profile_parquet(write(tmp_path, table))
    value = profile.column("value")
    present = table["value"].drop_null().to_numpy()
    assert value.missing == table["value"].null_count
    assert value.mean == pytest.approx(present.mean())
    assert sum(value.histogram) == len(present)
    for key, q in zip(value.quantiles, (5, 25, 50, 75, 95), strict=True):
        assert value.quantiles[key] == pytest.approx(np.percentile(present, q), abs=1.0)
    assert profile.column("id").distinct == pytest.approx(rows, rel=0.05)
    assert profile.column("id").quantiles["p50"] == pytest.approx(rows / 2, rel=0.02)
    colour = profile.column("colour")
    assert colour.categories == ["black", "blue", "green", "red"]
    assert dict(colour.top_values) == dict(
        zip(*np.unique(colours, return_counts=True), strict=True)
    )
    code = profile.column("code")
    assert code.distinct == pytest.approx(len(np.unique(codes)), rel=0.05)
    exact = dict(zip(*np.unique(codes, return_counts=True), strict=True))
    assert all(count == exact[int(v[1:])] for v, count in code.top_values)
    assert math.isclose(sum(colour_count for _, colour_count in colour.top_values), rows)
