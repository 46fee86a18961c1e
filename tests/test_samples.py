"""The bundled sample data: present, readable, with its target, and churn v2 drifts from v1."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from pipelines.datasets.profiling import profile_parquet
from pipelines.datasets.samples import SampleDataset, sample_datasets
from pipelines.datasets.validation import validate_against
from storage.records import ColumnSchema, DatasetProfile, ValidationResult


def read(sample: SampleDataset):
    # blank cells are missing values, as the ingest pipeline treats them
    return pa_csv.read_csv(
        sample.path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True)
    )


def profiled(sample: SampleDataset, tmp_path: Path) -> tuple[list[ColumnSchema], DatasetProfile]:
    path = tmp_path / f"{sample.path.stem}.parquet"
    pq.write_table(read(sample), path)
    return profile_parquet(path)


def test_registration_order_and_names() -> None:
    samples = sample_datasets()
    assert [s.name for s in samples] == ["wine", "breast_cancer", "diabetes", "churn", "churn"]
    assert [s.path.name for s in samples[-2:]] == ["churn_v1.csv", "churn_v2.csv"]
    assert {s.task for s in samples} == {"classification", "regression"}
    assert all(s.description for s in samples)


@pytest.mark.parametrize("sample", sample_datasets(), ids=lambda s: s.path.name)
def test_every_file_exists_reads_and_has_its_target(sample: SampleDataset) -> None:
    assert sample.path.is_file()
    assert sample.path.stat().st_size < 300_000
    table = read(sample)
    assert table.num_rows > 100
    assert sample.target in table.column_names
    assert table[sample.target].null_count == 0


def test_targets_look_right() -> None:
    tables = {s.path.name: read(s) for s in sample_datasets()}
    assert set(tables["wine.csv"]["cultivar"].to_pylist()) == {"class_0", "class_1", "class_2"}
    assert set(tables["breast_cancer.csv"]["diagnosis"].to_pylist()) == {"malignant", "benign"}
    progression = tables["diabetes.csv"]["disease_progression"]
    assert pa.types.is_integer(progression.type) or pa.types.is_floating(progression.type)
    for name in ("churn_v1.csv", "churn_v2.csv"):
        churned = tables[name]["churned"].to_pylist()
        assert set(churned) == {"yes", "no"}
        assert 0.1 < churned.count("yes") / len(churned) < 0.6


@pytest.fixture(scope="module")
def churn_validation(tmp_path_factory: pytest.TempPathFactory) -> ValidationResult:
    folder = tmp_path_factory.mktemp("churn")
    v1, v2 = (s for s in sample_datasets() if s.name == "churn")
    schema, profile = profiled(v1, folder)
    return validate_against(("D0", schema, profile), profiled(v2, folder))


def test_churn_v2_against_v1_has_real_findings(churn_validation: ValidationResult) -> None:
    result = churn_validation
    assert result.status in ("warn", "fail")
    by_check: dict[str, set[str | None]] = {}
    for check in result.checks:
        by_check.setdefault(check.check, set()).add(check.column)
    assert "time_spent_on_video_tutorials" in by_check["columns added"]
    assert {"total_charges", "payment_method"} <= by_check["new missing values"]
    assert "monthly_charges" in by_check["out of range"]
    assert "payment_method" in by_check["new categories"]
    assert "monthly_charges" in by_check["distribution shift"]


def test_churn_new_category_is_named(churn_validation: ValidationResult) -> None:
    check = next(c for c in churn_validation.checks if c.check == "new categories")
    assert "'digital wallet'" in check.reason and check.status == "warn"
