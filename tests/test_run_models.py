"""Kept models as bundles: what a fitted pipeline's pickle references, the manifest stored
beside it, and loading that verifies the bytes (or refuses in one line)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickletools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.datasets.versions import browsable_path
from pipelines.runs.models import load_run_bundle, load_run_model
from pipelines.serving.bundle import dump_model, encode_manifest
from pipelines.serving.schema import check_frame
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.families import get_family
from pipelines.sweeps.training import fit_final, load_frame
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.artifacts import ArtifactStore
from storage.datasets import get_version
from storage.errors import WorkbenchError
from storage.handle import Workspace
from tests.sweep_helpers import SAMPLES, add_sample

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL_LIBRARIES = {"sklearn", "lightgbm", "numpy", "pandas"}
QUICK: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 5},
    "random_forest": {"n_estimators": 5},
    "extra_trees": {"n_estimators": 5},
    "hist_gradient_boosting": {"max_iter": 5},
    "linear": {},
}


def pickled_globals(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) a pickle refers to: GLOBAL ops, and STACK_GLOBAL ops with the
    two strings pushed (or fetched from the memo) just before them."""
    memo: dict[int, Any] = {}
    pushed: list[Any] = []
    found: set[tuple[str, str]] = set()
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            pushed.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = pushed[-1] if pushed else None
        elif op.name in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(int(arg)))
        elif op.name == "GLOBAL":
            module, name = str(arg).split(" ", 1)
            found.add((module, name))
            pushed.append(None)
        elif op.name == "STACK_GLOBAL":
            module, name = pushed[-2], pushed[-1]
            assert isinstance(module, str) and isinstance(name, str), (module, name)
            found.add((module, name))
            pushed.append(None)
        else:
            pushed.append(None)
    return found


def mixed_frame(rows: int = 120) -> pd.DataFrame:
    """Every kind of column the preprocessing converts: numbers, text with gaps, booleans,
    categories, datetimes and durations."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "size": rng.normal(size=rows),
            "city": rng.choice(["paris", "oslo", None], size=rows),
            "member": rng.choice([True, False], size=rows),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], size=rows)),
            "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 99, rows), "D"),
            "waited": pd.to_timedelta(rng.integers(0, 99, rows), unit="h"),
        }
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", sorted(QUICK))
def test_a_fitted_model_pickles_with_references_only_to_model_libraries_and_serving(
    name: str, task: str
) -> None:
    X = mixed_frame()
    rng = np.random.default_rng(1)
    y = pd.Series(rng.choice(["yes", "no"], len(X)) if task == "classification" else X["size"])
    model = fit_final(X, y, task=task, family=get_family(name), params=QUICK[name], seed=0)
    modules = {module for module, _ in pickled_globals(dump_model(model))}
    assert any(m.startswith("pipelines.serving.") for m in modules)  # the converters
    outside = sorted(
        m
        for m in modules
        if m.split(".")[0] not in MODEL_LIBRARIES
        and not m.startswith("pipelines.serving.")
        and m.split(".")[0] not in sys.stdlib_module_names  # builtins.slice, OrderedDict
    )
    assert outside == []


def kept_sweep(ws: Workspace) -> tuple[int, pd.DataFrame, pd.Series]:
    """A finished churn sweep keeping one model, and the features and target it saw."""
    from pipelines.datasets.versions import register_dataset

    register_dataset(ws, SAMPLES / "churn_v1.csv", name="churn", target="churned")
    spec = {"dataset": "churn", "model": "random_forest", "trials": 2, "folds": 2}
    created = sweeps.create_sweep(ws, {**spec, "keep_top": 1, "pruner": "none"})
    run_worker(ws, created.sweep.id)
    [kept] = [r for r in repo.list_runs(ws.db, sweep_id=created.sweep.id) if r.artifact_sha]
    version = get_version(ws.db, "churn")
    X, y = load_frame(browsable_path(ws, version), "churned", ["customer_id"])
    return kept.id, X, y


def test_a_kept_runs_bundle_loads_and_predicts_with_its_manifest(workspace: Workspace) -> None:
    run_id, X, y = kept_sweep(workspace)
    run = repo.get_run(workspace.db, run_id)
    sweep = repo.get_sweep(workspace.db, run.sweep_id)
    manifest, model = load_run_bundle(workspace, run_id)
    assert manifest is not None and manifest.sha256 == run.artifact_sha
    assert manifest.task == "classification" and manifest.classes == sorted(set(y))
    assert manifest.schema.names == list(X.columns) and "customer_id" not in manifest.schema.names
    assert {"python", "scikit-learn", "numpy", "pandas"} <= set(manifest.libraries)
    assert manifest.extra["family"] == "random_forest" and manifest.extra["metric"] == "accuracy"
    assert manifest.extra["run_id"] == run_id and manifest.extra["dataset_sha"] == run.dataset_sha
    assert manifest.extra["sweep_id"] == sweep.id and manifest.extra["params"] == run.params
    stored = ArtifactStore(workspace.paths.artifacts).get_bytes(run.manifest_sha or "")
    assert json.loads(stored)["sha256"] == run.artifact_sha
    checked = check_frame(manifest.schema, X.head(50))  # serving's input check passes
    assert (model.predict(checked.frame) == y.head(50).to_numpy()).mean() > 0.7
    assert (load_run_model(workspace, run_id).predict(X) == model.predict(X)).all()


def test_a_tampered_model_or_manifest_is_refused_in_one_line(workspace: Workspace) -> None:
    run_id, X, _ = kept_sweep(workspace)
    run = repo.get_run(workspace.db, run_id)
    store = ArtifactStore(workspace.paths.artifacts)
    model_path = store.path_for(run.artifact_sha or "")
    original = model_path.read_bytes()

    model_path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(WorkbenchError) as damaged:
        load_run_model(workspace, run_id)
    assert "damaged or was replaced" in str(damaged.value) and "\n" not in str(damaged.value)
    model_path.write_bytes(original)

    manifest_path = store.path_for(run.manifest_sha or "")
    manifest_bytes = manifest_path.read_bytes()
    manifest_path.write_bytes(manifest_bytes.replace(b"classification", b"regression"))
    with pytest.raises(WorkbenchError, match="damaged or was replaced") as edited:
        load_run_model(workspace, run_id)
    assert "\n" not in str(edited.value)
    manifest_path.write_bytes(manifest_bytes)

    # A manifest that is itself intact but names other bytes than the run keeps.
    other = dump_model(fit_final(X, X["monthly_charges"] > 50, task="classification",
                                 family=get_family("linear"), params={}, seed=0))  # fmt: skip
    manifest, _ = load_run_bundle(workspace, run_id)
    assert manifest is not None
    other_sha = hashlib.sha256(other).hexdigest()
    swapped = store.put_bytes(encode_manifest(dataclasses.replace(manifest, sha256=other_sha)))
    repo.set_run_artifact(workspace.db, run_id, run.artifact_sha, swapped)
    with pytest.raises(WorkbenchError, match=f"run {run_id} model .*: the manifest names model"):
        load_run_model(workspace, run_id)

    unkept = next(r for r in repo.list_runs(workspace.db, sweep_id=run.sweep_id) if r.id != run_id)
    with pytest.raises(WorkbenchError, match=f"run {unkept.id} keeps no model"):
        load_run_model(workspace, unkept.id)


def test_a_model_kept_before_manifests_still_loads(workspace: Workspace) -> None:
    """Runs kept by an older Workbench hold joblib bytes that reference
    `pipelines.preprocessing` and no manifest: they load, verified by their own hash."""
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(workspace, {"dataset": "wine", "model": "linear", "trials": 1,
                                              "folds": 2, "keep_top": 0})  # fmt: skip
    run_worker(workspace, created.sweep.id)
    [run] = repo.list_runs(workspace.db, sweep_id=created.sweep.id)
    legacy = (FIXTURES / "legacy_model.joblib").read_bytes()
    assert b"pipelines.preprocessing" in legacy
    sha = ArtifactStore(workspace.paths.artifacts).put_bytes(legacy)
    repo.set_run_artifact(workspace.db, run.id, sha)
    manifest, model = load_run_bundle(workspace, run.id)
    frame = pd.read_csv(FIXTURES / "legacy_model_inputs.csv", parse_dates=["signup"])
    expected = json.loads((FIXTURES / "legacy_model_proba.json").read_text(encoding="utf-8"))
    assert manifest is None
    np.testing.assert_allclose(model.predict_proba(frame), expected, rtol=0, atol=1e-9)
