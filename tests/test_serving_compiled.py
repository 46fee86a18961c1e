"""The compiled scoring path (pipelines.serving.compiled) against the fitted Pipeline: every
model family the sweeps train, both tasks, real fits on the sample data, and records that
mix every fitted category, unseen ones, missing values and extremes. The answers must be
identical to the bit, and anything the compiled path does not reproduce must fall back."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.serving.bundle import dump_model, make_manifest
from pipelines.serving.compiled import Scoring, checked_scorer
from pipelines.serving.records import check_records, frame_of
from pipelines.serving.schema import NUMERIC, infer_schema
from pipelines.serving.scoring import score
from pipelines.sweeps.families import get_family
from pipelines.sweeps.preprocessing import build_pipeline
from tests.sweep_helpers import SAMPLES

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
FAMILIES = ["lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting", "linear"]


def churn(target: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(SAMPLES / "churn_v1.csv").drop(columns=["customer_id"])
    rng = np.random.default_rng(3)
    for name in ("monthly_charges", "contract", "region"):  # some missing values to impute
        frame.loc[rng.random(len(frame)) < 0.1, name] = None
    if target == "monthly_charges":
        frame = frame[frame[target].notna()]
    return frame.drop(columns=[target]), frame[target]


def fitted(family: str, X: pd.DataFrame, y: pd.Series, task: str) -> tuple[Any, Any]:
    model = build_pipeline(X, task, get_family(family), {}, seed=0)
    model.fit(X, y)
    return model, make_manifest(model, dump_model(model), task, infer_schema(X))


def random_records(X: pd.DataFrame, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    schema = infer_schema(X)
    records = []
    for _ in range(count):
        record: dict[str, Any] = {}
        for column in schema.columns:
            seen = X[column.name].dropna().tolist()
            if column.kind == NUMERIC:
                odd = [None, 0, -1e300, 1e300, rng.uniform(-1e6, 1e6)]
            else:
                odd = [None, "never seen", 7, 2.5, True, ""]
            record[column.name] = rng.choice(odd) if rng.random() < 0.3 else rng.choice(seen)
        records.append(record)
    return records


def assert_identical(scoring: Scoring, model: Any, manifest: Any, records: list[Any]) -> None:
    sizes = [1, 2, 7, 16, 64]
    start = 0
    while start < len(records):
        size = sizes[start % len(sizes)]
        parts = [check_records(manifest.schema, r) for r in records[start : start + size]]
        start += size
        got = scoring.score_parts(parts)
        expected = score(model, manifest, frame_of(manifest.schema, parts))
        assert got.classes == expected.classes
        assert np.array_equal(got.predictions, expected.predictions)
        if expected.probabilities is None:
            assert got.probabilities is None
        else:
            assert np.array_equal(got.probabilities, expected.probabilities)  # to the bit


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_family_scores_compiled_with_the_pipelines_answers(family: str, task: str) -> None:
    X, y = churn("churned" if task == "classification" else "monthly_charges")
    model, manifest = fitted(family, X, y, task)
    scoring = checked_scorer(model, manifest)
    assert scoring.compiled, scoring.note
    assert scoring.note.startswith("compiled, identical on")
    assert_identical(scoring, model, manifest, random_records(X, 300, seed=len(family)))


def test_a_multiclass_model_on_numbers_only() -> None:
    frame = pd.read_csv(SAMPLES / "wine.csv")
    target = frame.columns[-1]
    X, y = frame.drop(columns=[target]), frame[target]
    model, manifest = fitted("lightgbm", X, y, "classification")
    scoring = checked_scorer(model, manifest)
    assert scoring.compiled and len(manifest.classes or []) == 3
    assert_identical(scoring, model, manifest, random_records(X, 200, seed=5))


def test_a_time_column_keeps_the_pipeline_and_says_why() -> None:
    X, y = churn("churned")
    X = X.assign(signed_up=pd.date_range("2024-01-01", periods=len(X), freq="h"))
    model, manifest = fitted("lightgbm", X, y, "classification")
    scoring = checked_scorer(model, manifest)
    assert not scoring.compiled
    assert scoring.note == "through the Pipeline: a branch over ['time'] columns"
    records = random_records(X.drop(columns=["signed_up"]), 20, seed=1)
    for record in records:
        record["signed_up"] = "2024-03-01T10:00:00"
    assert_identical(scoring, model, manifest, records)


def test_grouped_infrequent_categories_keep_the_pipeline() -> None:
    """The linear family one-hot encodes at most 50 categories per column, grouping the
    rest: that grouping is not reproduced, so the Pipeline scores."""
    X, y = churn("churned")
    X = X.assign(postcode=[f"P{i % 80}" for i in range(len(X))])
    model, manifest = fitted("linear", X, y, "classification")
    scoring = checked_scorer(model, manifest)
    assert not scoring.compiled
    assert "infrequent" in scoring.note
    assert_identical(scoring, model, manifest, random_records(X, 30, seed=2))


def test_a_model_that_is_not_a_pipeline_keeps_it() -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = churn("churned")
    numbers = X[["tenure_months", "support_tickets"]]
    model = LogisticRegression().fit(numbers, y)
    manifest = make_manifest(model, dump_model(model), "classification", infer_schema(numbers))
    scoring = checked_scorer(model, manifest)
    assert not scoring.compiled and "not a two-step pipeline" in scoring.note
