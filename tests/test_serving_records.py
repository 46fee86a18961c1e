"""The server's plain-Python check of JSON records reaches the fitted pipeline with the same
values as `check_frame` on the frame they came from: every kind of column (numbers, text
with gaps, booleans, categories, datetimes, durations), through real fitted models."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.serving.bundle import dump_model, make_manifest
from pipelines.serving.records import check_records, frame_of
from pipelines.serving.schema import SchemaError, check_frame, infer_schema
from pipelines.serving.scoring import score
from pipelines.sweeps.families import get_family
from pipelines.sweeps.training import fit_final
from tests.test_run_models import mixed_frame


def as_json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """What a client sends: ISO times, durations as text, null for gaps (through JSON)."""
    rows = []
    for record in frame.to_dict(orient="records"):
        row = {}
        for name, value in record.items():
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif isinstance(value, pd.Timedelta):
                value = str(value)
            elif isinstance(value, float) and math.isnan(value):
                value = None
            row[name] = value.item() if isinstance(value, np.generic) else value
        rows.append(row)
    return json.loads(json.dumps(rows))


@pytest.mark.parametrize(
    ("task", "family"), [("classification", "lightgbm"), ("regression", "linear")]
)
def test_records_score_exactly_as_the_frame_they_came_from(task: str, family: str) -> None:
    X = mixed_frame()
    rng = np.random.default_rng(3)
    y = pd.Series(rng.choice(["yes", "no"], len(X)) if task == "classification" else X["size"] * 2)
    params = {"n_estimators": 5} if family == "lightgbm" else {}
    model = fit_final(X, y, task=task, family=get_family(family), params=params, seed=0)
    manifest = make_manifest(model, dump_model(model), task, infer_schema(X))
    records = as_json_records(X)

    from_frame = score(model, manifest, check_frame(manifest.schema, X).frame)
    checked = check_records(manifest.schema, records)
    from_records = score(model, manifest, frame_of(manifest.schema, [checked]))
    assert from_records.prediction_list() == from_frame.prediction_list()
    assert from_records.probability_list() == from_frame.probability_list()
    # Split into parts (as the batcher combines requests), the rows score the same.
    parts = [check_records(manifest.schema, records[i : i + 7]) for i in range(0, len(records), 7)]
    combined = score(model, manifest, frame_of(manifest.schema, parts))
    assert combined.prediction_list() == from_frame.prediction_list()


def test_bad_values_are_refused_naming_the_field() -> None:
    schema = infer_schema(mixed_frame())
    good = as_json_records(mixed_frame(3))[0]
    cases = {
        "size": ["big", True, 1e308 * 10, 10**400, [1]],
        "seen": ["not a date", {"y": 2024}, True],
        "city": [["paris"], {"a": 1}],
    }
    for name, values in cases.items():
        for value in values:
            with pytest.raises(SchemaError) as refused:
                check_records(schema, {**good, name: value})
            assert list(refused.value.problems) == [name], (name, value)
    with pytest.raises(SchemaError) as missing:
        check_records(schema, [good, {k: v for k, v in good.items() if k != "waited"}])
    assert missing.value.problems == {"waited": "required feature is missing (record 1)"}
    checked = check_records(schema, {**good, "size": None, "new": 1})
    assert math.isnan(checked.columns["size"][0]) and checked.unseen == ["new"]


@pytest.mark.parametrize("labels", [[0, 1, 2], [True, False], ["a", "b"]])
def test_predictions_are_the_models_own_labels(labels: list[Any]) -> None:
    X = mixed_frame()
    y = pd.Series(np.random.default_rng(5).choice(np.array(labels, dtype=object), len(X)))
    y = y.astype(type(labels[0]))
    model = fit_final(X, y, task="classification", family=get_family("linear"), params={}, seed=0)
    manifest = make_manifest(model, dump_model(model), "classification", infer_schema(X))
    scored = score(model, manifest, check_frame(manifest.schema, X).frame)
    expected = model.predict(X).tolist()
    assert scored.prediction_list() == expected
    assert [type(v) for v in scored.prediction_list()] == [type(v) for v in expected]
    json.dumps(scored.prediction_list())  # plain values, answerable as JSON
