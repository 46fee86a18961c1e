"""validate_against on profiles of real Parquet files: each check fires, with its numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.datasets.profiling import profile_parquet
from pipelines.datasets.validation import validate_against
from storage.records import ColumnSchema, DatasetProfile, ValidationCheck, ValidationResult

ROWS = 500


def profiled(tmp_path: Path, columns: dict[str, Any]) -> tuple[list[ColumnSchema], DatasetProfile]:
    path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.parquet"
    pq.write_table(pa.table(columns), path)
    return profile_parquet(path)


def validate(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> ValidationResult:
    schema, profile = profiled(tmp_path, old)
    return validate_against(("D0", schema, profile), profiled(tmp_path, new))


def found(result: ValidationResult, check: str, column: str | None = None) -> ValidationCheck:
    matches = [
        c for c in result.checks if c.check == check and (column is None or c.column == column)
    ]
    assert len(matches) == 1, f"{check!r} on {column!r}: {result.checks}"
    return matches[0]


def named(result: ValidationResult) -> set[str]:
    return {c.check for c in result.checks}


@pytest.fixture
def base() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    return {
        "age": rng.integers(18, 70, ROWS),
        "income": rng.normal(50_000.0, 10_000.0, ROWS).round(2),
        "plan": np.array(["basic", "pro", "team"])[rng.integers(0, 3, ROWS)],
        "active": rng.random(ROWS) < 0.5,
    }


def test_first_version_passes_with_nothing_to_compare(tmp_path: Path, base) -> None:
    result = validate_against(None, profiled(tmp_path, base))
    assert result.against is None and result.status == "pass"
    assert len(result.checks) == 1
    check = result.checks[0]
    assert (check.check, check.status) == ("first version", "pass")
    assert "nothing to compare against" in check.reason


def test_identical_data_passes(tmp_path: Path, base) -> None:
    result = validate(tmp_path, base, base)
    assert result.against == "D0" and result.status == "pass"
    assert named(result) == {"row count", "schema"}
    assert "500 rows in D0, 500 now" in found(result, "row count").reason
    assert "same 4 columns" in found(result, "schema").reason


def test_removed_column_fails(tmp_path: Path, base) -> None:
    new = {k: v for k, v in base.items() if k != "income"}
    result = validate(tmp_path, base, new)
    check = found(result, "columns removed", "income")
    assert check.status == "fail" and "'income' (float)" in check.reason
    assert result.status == "fail" and "schema" not in named(result)


def test_added_column_warns(tmp_path: Path, base) -> None:
    new = {**base, "tutorial_minutes": np.arange(ROWS, dtype=float)}
    result = validate(tmp_path, base, new)
    check = found(result, "columns added", "tutorial_minutes")
    assert check.status == "warn" and "'tutorial_minutes' (float) is new" in check.reason
    assert result.status == "warn"


def test_rename_by_similar_name(tmp_path: Path, base) -> None:
    new = {("annual_income" if k == "income" else k): v for k, v in base.items()}
    new["annual_income"] = new["annual_income"] * 1.5  # different values: only the name is alike
    result = validate(tmp_path, base, new)
    removed = found(result, "columns removed", "income")
    assert removed.status == "fail" and "looks renamed to 'annual_income'" in removed.reason
    renamed = found(result, "renamed?", "annual_income")
    assert renamed.status == "warn" and "similar name" in renamed.reason
    assert "columns added" not in named(result)


def test_rename_by_identical_statistics(tmp_path: Path, base) -> None:
    new = {("plan_name" if k == "plan" else k): v for k, v in base.items()}
    new = {("x7" if k == "income" else k): v for k, v in new.items()}
    result = validate(tmp_path, base, new)
    assert "near-identical statistics" in found(result, "renamed?", "x7").reason
    assert "looks renamed to 'x7'" in found(result, "columns removed", "income").reason
    assert "looks renamed to 'plan_name'" in found(result, "columns removed", "plan").reason


def test_unrelated_columns_are_not_a_rename(tmp_path: Path, base) -> None:
    new = {k: v for k, v in base.items() if k != "income"}
    new["zzz"] = np.array(["a", "b"] * (ROWS // 2))
    result = validate(tmp_path, base, new)
    assert "renamed?" not in named(result)
    assert found(result, "columns added", "zzz").status == "warn"


def test_type_change_fails(tmp_path: Path, base) -> None:
    new = {**base, "age": np.array([f"{a} years" for a in base["age"]])}
    result = validate(tmp_path, base, new)
    check = found(result, "type changed", "age")
    assert check.status == "fail" and check.reason.startswith("was integer, now string")


def test_integer_to_float_only_warns(tmp_path: Path, base) -> None:
    new = {**base, "age": base["age"].astype(float) + 0.5}
    check = found(validate(tmp_path, base, new), "type changed", "age")
    assert check.status == "warn" and "was integer, now float" in check.reason


def test_new_missing_values(tmp_path: Path, base) -> None:
    mask = np.zeros(ROWS, dtype=bool)
    mask[:50] = True  # 10 %
    new = {**base, "plan": pa.array(base["plan"], mask=mask)}
    check = found(validate(tmp_path, base, new), "new missing values", "plan")
    assert check.status == "warn"
    assert "0.0% missing in D0, now 10.0% (50 of 500 rows)" in check.reason


def test_missing_share_rising_a_little_is_fine_but_a_lot_warns(tmp_path: Path, base) -> None:
    def with_missing(count: int) -> dict[str, Any]:
        mask = np.zeros(ROWS, dtype=bool)
        mask[:count] = True
        return {**base, "income": pa.array(base["income"], mask=mask)}

    little = validate(tmp_path, with_missing(50), with_missing(60))  # 10 % -> 12 %
    assert "new missing values" not in named(little)
    a_lot = validate(tmp_path, with_missing(50), with_missing(100))  # 10 % -> 20 %
    assert "10.0% missing in D0, now 20.0%" in found(a_lot, "new missing values").reason


def test_out_of_range(tmp_path: Path, base) -> None:
    old = {**base, "age": np.clip(base["age"], 20, 60)}
    new = {**base, "age": np.clip(base["age"], 20, 60)}
    new["age"][0] = 95
    check = found(validate(tmp_path, old, new), "out of range", "age")
    assert check.status == "warn"
    assert check.reason == "D0 range was [20, 60]; now min 20, max 95 (above the old maximum)"


def test_new_categories_lists_up_to_five(tmp_path: Path, base) -> None:
    plan = base["plan"].copy()
    plan[:7] = ["gold", "silver", "bronze", "iron", "tin", "lead", "zinc"]
    check = found(validate(tmp_path, base, {**base, "plan": plan}), "new categories", "plan")
    assert check.status == "warn"
    assert check.reason.startswith("7 values not seen in D0: ")
    assert check.reason.endswith("and 2 more") and check.reason.count("'") == 10


def test_numeric_distribution_shift(tmp_path: Path, base) -> None:
    income = base["income"]
    new = {**base, "income": income + 0.8 * income.std()}
    check = found(validate(tmp_path, base, new), "distribution shift", "income")
    assert check.status == "warn" and "moved 0.80 × the std in D0" in check.reason
    small = {**base, "income": income + 0.2 * income.std()}
    assert "distribution shift" not in named(validate(tmp_path, base, small))


def test_categorical_distribution_shift(tmp_path: Path, base) -> None:
    plan = np.array(["basic"] * 400 + ["pro"] * 50 + ["team"] * 50)
    result = validate(tmp_path, base, {**base, "plan": plan})
    check = found(result, "distribution shift", "plan")
    assert check.status == "warn" and "total variation distance" in check.reason
    assert "'basic'" in check.reason and "→ 80%" in check.reason


def test_fails_then_warns_then_passes(tmp_path: Path, base) -> None:
    new = {k: v for k, v in base.items() if k != "active"}
    new["extra"] = np.ones(ROWS)
    new["income"] = base["income"] * 3
    result = validate(tmp_path, base, new)
    order = [c.status for c in result.checks]
    assert order == sorted(order, key=["fail", "warn", "pass"].index)
    assert order[0] == "fail" and order[-1] == "pass" and result.status == "fail"
    assert found(result, "row count").status == "pass"
