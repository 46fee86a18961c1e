"""Model bundles: hash-verified loading, legacy models, and the input-schema check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.serving.bundle import (
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    dump_model,
    load_model,
    make_manifest,
    read_bundle,
    write_bundle,
)
from pipelines.serving.schema import (
    InputSchema,
    SchemaError,
    check_frame,
    infer_schema,
    records_frame,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def legacy() -> tuple[bytes, pd.DataFrame]:
    data = (FIXTURES / "legacy_model.joblib").read_bytes()
    frame = pd.read_csv(FIXTURES / "legacy_model_inputs.csv", parse_dates=["signup"])
    return data, frame


def test_a_legacy_model_loads_and_predicts_as_it_did(legacy: tuple[bytes, pd.DataFrame]) -> None:
    data, frame = legacy
    model = load_model(data, hashlib.sha256(data).hexdigest())
    expected = json.loads((FIXTURES / "legacy_model_proba.json").read_text(encoding="utf-8"))
    np.testing.assert_allclose(model.predict_proba(frame), expected, rtol=0, atol=1e-9)


def test_bytes_that_do_not_match_their_hash_are_refused(legacy: tuple[bytes, pd.DataFrame]) -> None:
    data, _ = legacy
    sha = hashlib.sha256(data).hexdigest()
    damaged = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(BundleError, match=r"model\.pkl: sha256 .* does not match"):
        load_model(damaged, sha, "model.pkl")


def test_bundle_round_trip_and_tampering(
    tmp_path: Path, legacy: tuple[bytes, pd.DataFrame]
) -> None:
    data, frame = legacy
    model = load_model(data, hashlib.sha256(data).hexdigest())
    model_bytes = dump_model(model)
    manifest = make_manifest(
        model, model_bytes, "classification", infer_schema(frame), family="lightgbm"
    )
    folder = write_bundle(tmp_path / "bundle", model_bytes, manifest)
    read_manifest, loaded = read_bundle(folder)
    assert read_manifest == manifest
    assert read_manifest.classes == ["no", "yes"]
    assert {"python", "scikit-learn", "lightgbm", "numpy", "pandas"} <= set(read_manifest.libraries)
    assert loaded.predict_proba(frame).tolist() == model.predict_proba(frame).tolist()

    (folder / MODEL_FILE).write_bytes(model_bytes + b"\0")
    with pytest.raises(BundleError, match=str(folder / MODEL_FILE)):
        read_bundle(folder)
    (folder / MANIFEST_FILE).write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(BundleError, match="not a workbench-model-bundle/1 manifest"):
        read_bundle(folder)


def test_schema_round_trips_through_json(legacy: tuple[bytes, pd.DataFrame]) -> None:
    _, frame = legacy
    schema = infer_schema(frame)
    assert InputSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds["tenure_months"] == "numeric"
    assert kinds["contract"] == "categorical"
    assert kinds["signup"] == "time"


def test_schema_check_names_missing_and_mistyped_fields(legacy: tuple[bytes, pd.DataFrame]) -> None:
    _, frame = legacy
    schema = infer_schema(frame)
    record = frame.iloc[0].to_dict() | {"signup": "2024-03-01"}
    with pytest.raises(SchemaError) as missing:
        check_frame(schema, records_frame({k: v for k, v in record.items() if k != "region"}))
    assert missing.value.problems == {"region": "required feature is missing"}
    with pytest.raises(SchemaError) as mistyped:
        check_frame(schema, records_frame(record | {"tenure_months": "abc", "signup": "soon"}))
    assert set(mistyped.value.problems) == {"tenure_months", "signup"}
    assert "expected a number, got 'abc'" in str(mistyped.value)
    with pytest.raises(SchemaError, match="expected a number, got a boolean"):
        check_frame(schema, records_frame(record | {"tenure_months": True}))
    with pytest.raises(SchemaError, match="record 1"):
        records_frame([record, 3])


def test_unseen_columns_are_accepted_and_reported(legacy: tuple[bytes, pd.DataFrame]) -> None:
    data, frame = legacy
    model = load_model(data, hashlib.sha256(data).hexdigest())
    schema = infer_schema(frame)
    records = [r | {"signup": str(r["signup"]), "new_feature": 1} for r in frame.to_dict("records")]
    checked = check_frame(schema, records_frame(records))
    assert checked.unseen == ["new_feature"]
    assert list(checked.frame.columns) == schema.names
    np.testing.assert_allclose(
        model.predict_proba(checked.frame), model.predict_proba(frame), rtol=0, atol=1e-12
    )
