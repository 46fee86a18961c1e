"""The model registry on real models: a real three-trial random-forest sweep on wine (three
folds) keeps three models; they are registered, aliased, resolved, diffed, loaded only when
their bytes are intact, and they keep their data from being removed."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from pipelines.datasets.versions import browsable_path, remove
from pipelines.registry import versions as registry
from pipelines.registry.diff import diff
from pipelines.sweeps.training import load_frame
from storage import sweeps as sweeps_repo
from storage.artifacts import ArtifactStore
from storage.database import Database
from storage.datasets import get_version
from storage.errors import NotFoundError, WorkbenchError
from storage.handle import Workspace
from tests.registry_helpers import build_template, copy_workspace, kept_run_ids


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    workspace = copy_workspace(template, tmp_path / "ws")
    yield workspace
    workspace.close()


def test_registering_records_schema_metrics_and_lineage_numbered_per_name(ws: Workspace) -> None:
    r1, r2, r3 = kept_run_ids(ws)
    first = registry.register_model(ws, r1, "wine-rf", alias="production", description="first")
    second = registry.register_model(ws, r2, "wine-rf")
    other = registry.register_model(ws, r3, "wine-forest")
    assert (first.ref, second.ref, other.ref) == ("wine-rf:1", "wine-rf:2", "wine-forest:1")
    with pytest.raises(WorkbenchError, match=f"run {r1} is already registered as wine-rf:1"):
        registry.register_model(ws, r1, "wine-rf", alias="staging")
    assert registry.get_model(ws, "wine-rf").aliases == {"production": 1}  # nothing written
    run = sweeps_repo.get_run(ws.db, r1)
    sweep = sweeps_repo.get_sweep(ws.db, run.sweep_id)
    data = get_version(ws.db, "wine")
    assert first.bundle_sha256 == run.artifact_sha and first.manifest_sha == run.manifest_sha
    assert first.params == run.params and first.metrics["accuracy"] == run.metrics["accuracy"]
    assert first.aliases == ("production",) and first.description == "first"
    assert first.dataset_version_id == data.id
    assert first.lineage | {"git_commit": None, "git_dirty": None} == {
        "run": r1,
        "trial": run.trial_number,
        "sweep": sweep.id,
        "sweep_name": "wine-rf",
        "dataset": "wine",
        "dataset_version": "wine@D0",
        "dataset_sha256": data.sha256,
        "git_commit": None,
        "git_dirty": None,
        "family": "random_forest",
        "task": "classification",
        "target": "cultivar",
        "metric": "accuracy",
        "direction": "maximize",
        "seed": run.seed,
    }
    assert first.lineage["git_commit"] == run.environment["git"]["commit"]
    columns = [c["name"] for c in first.input_schema["columns"]]
    assert columns == [c.name for c in data.schema if c.name != "cultivar"]
    assert {c["kind"] for c in first.input_schema["columns"]} == {"numeric"}


def test_references_resolve_and_bad_ones_fail_in_one_line(ws: Workspace) -> None:
    r1, r2, _ = kept_run_ids(ws)
    registry.register_model(ws, r1, "wine-rf", alias="production")
    registry.register_model(ws, r2, "wine-rf")
    assert registry.resolve(ws, "wine-rf").version == 2  # the newest
    assert registry.resolve(ws, "wine-rf:1").run_id == r1
    assert registry.resolve(ws, "wine-rf:v2").run_id == r2
    assert registry.resolve(ws, "wine-rf@production").version == 1
    errors: dict[str, tuple[type[Exception], str]] = {
        "nope": (NotFoundError, "no model named 'nope' (known: wine-rf)"),
        "wine-rf:9": (NotFoundError, "model 'wine-rf' has no version 9 (versions 1-2)"),
        "wine-rf@staging": (NotFoundError, "has no alias 'staging' (aliases: production)"),
    }
    for ref in ("wine-rf:", "wine-rf@", "wine-rf:x", "wine-rf:0", "a:1@b", "", ":1", "@prod"):
        errors[ref] = (WorkbenchError, "is not a model reference: write NAME, NAME:VERSION")
    for ref, (kind, message) in errors.items():
        with pytest.raises(kind) as caught:
            registry.resolve(ws, ref)
        assert message in str(caught.value) and "\n" not in str(caught.value), ref


def test_an_alias_moves_and_is_removed(ws: Workspace) -> None:
    r1, r2, _ = kept_run_ids(ws)
    registry.register_model(ws, r1, "wine-rf", alias="production")
    registry.register_model(ws, r2, "wine-rf", alias="production")  # registering moves it too
    assert registry.resolve(ws, "wine-rf@production").version == 2
    move = registry.set_alias(ws, "wine-rf", 1, "production")
    assert (move.previous, move.version) == (2, 1)
    assert registry.get_model(ws, "wine-rf").aliases == {"production": 1}
    assert registry.remove_alias(ws, "wine-rf", "production") == 1
    with pytest.raises(NotFoundError, match="has no alias 'production'"):
        registry.resolve(ws, "wine-rf@production")
    with pytest.raises(WorkbenchError, match="is not a valid alias"):
        registry.set_alias(ws, "wine-rf", 1, "9lives")


def test_runs_without_a_complete_kept_model_are_refused(ws: Workspace) -> None:
    r1, r2, r3 = kept_run_ids(ws)
    sweeps_repo.set_run_artifact(ws.db, r1, None, None)  # as a refit that kept other trials
    with ws.db.session_scope() as session:  # as a trial whose worker died
        session.execute(text(f"UPDATE wb_run SET status = 'failed' WHERE id = {r2}"))
    sweeps_repo.set_run_artifact(ws.db, r3, sweeps_repo.get_run(ws.db, r3).artifact_sha, None)
    expected = {
        r1: f"run {r1} keeps no model",
        r2: f"run {r2} is failed, not complete",
        r3: f"run {r3} keeps a model stored before bundle manifests were",
        999: "no run with id 999",
    }
    for run_id, message in expected.items():
        with pytest.raises(WorkbenchError) as caught:
            registry.register_model(ws, run_id, "wine-rf")
        assert message in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(WorkbenchError, match="not a valid model name"):
        registry.register_model(ws, r3, "wine:rf")
    assert registry.list_models(ws) == []  # nothing half-written


def test_diff_gives_params_metrics_schema_and_lineage(ws: Workspace) -> None:
    r1, r2, _ = kept_run_ids(ws)
    a = registry.register_model(ws, r1, "wine-rf")
    b = registry.register_model(ws, r2, "wine-rf")
    result = diff(ws, "wine-rf:1", "wine-rf:2")
    differing = {k for k in a.params if a.params[k] != b.params[k]}
    assert {row.key for row in result.params} == differing and differing
    accuracy = next(row for row in result.metrics if row.key == "accuracy")
    assert accuracy.delta == pytest.approx(b.metrics["accuracy"] - a.metrics["accuracy"])
    assert {row.key for row in result.metrics} == set(a.metrics)
    assert result.schema == []  # same data, same columns
    assert [(r.key, r.a, r.b) for r in result.lineage] == [("run", r1, r2)]
    assert diff(ws, "wine-rf:1", "wine-rf:1").identical


def test_a_schema_difference_names_the_columns(ws: Workspace) -> None:
    from pipelines.registry.diff import diff_records

    r1, _, _ = kept_run_ids(ws)
    a = registry.register_model(ws, r1, "wine-rf")
    columns = [dict(c) for c in a.input_schema["columns"]]
    columns[0]["dtype"] = "int64"
    changed = {
        "columns": [*columns[1:], {**columns[0], "name": "vintage"}, columns[0]],
        "extra": {},
    }
    b = dataclasses.replace(a, input_schema=changed, version=2)
    rows = {(r.key, r.note) for r in diff_records(a, b).schema}
    assert rows == {("alcohol.dtype", "changed"), ("vintage", "added")}


def test_a_loaded_version_predicts_and_a_corrupted_bundle_is_refused(ws: Workspace) -> None:
    r1, _, _ = kept_run_ids(ws)
    record = registry.register_model(ws, r1, "wine-rf", alias="production")
    loaded = registry.load_model_version(ws, "wine-rf@production")
    version = get_version(ws.db, "wine")
    X, y = load_frame(browsable_path(ws, version), "cultivar", [])
    assert loaded.manifest.sha256 == record.bundle_sha256
    assert (loaded.model.predict(X) == y.to_numpy()).mean() > 0.8
    path = ArtifactStore(ws.paths.artifacts).path_for(record.bundle_sha256)
    original = path.read_bytes()
    damaged = original[:100] + bytes([original[100] ^ 0xFF]) + original[101:]
    path.write_bytes(damaged)
    with pytest.raises(WorkbenchError) as caught:
        registry.load_model_version(ws, "wine-rf:1")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert message.startswith("wine-rf:1: bundle ") and "refusing to load it" in message
    assert hashlib.sha256(damaged).hexdigest()[:12] in message
    path.unlink()
    with pytest.raises(WorkbenchError, match=f"wine-rf:1: bundle {path} is missing"):
        registry.load_model_version(ws, "wine-rf:1")
    path.write_bytes(original)
    again = registry.load_model_version(ws, "wine-rf:1").model
    np.testing.assert_array_equal(again.predict(X), loaded.model.predict(X))


def test_a_dataset_version_a_model_version_uses_is_not_removed(ws: Workspace) -> None:
    r1, _, _ = kept_run_ids(ws)
    registry.register_model(ws, r1, "wine-rf", alias="production")
    for ref, force in (("wine@D0", False), ("wine", False), ("wine@D0", True)):
        with pytest.raises(WorkbenchError) as caught:
            remove(ws, ref, force=force)
        message = str(caught.value)
        assert f"{ref} is used by model version wine-rf:1: remove them first" in message
        assert "\n" not in message
    assert get_version(ws.db, "wine@D0").label == "D0"
    assert sweeps_repo.get_sweep(ws.db, 1).dataset_ref == "wine@D0"  # not even detached
    with pytest.raises(WorkbenchError, match="wine-rf:1 is wine-rf@production"):
        registry.remove_version(ws, "wine-rf:1")
    registry.remove_alias(ws, "wine-rf", "production")
    assert registry.remove_version(ws, "wine-rf:1").ref == "wine-rf:1"
    assert [v.ref for v in remove(ws, "wine", force=True).removed] == ["wine@D0"]


def test_a_run_a_model_version_uses_is_kept_by_the_database(ws: Workspace) -> None:
    r1, _, _ = kept_run_ids(ws)
    registry.register_model(ws, r1, "wine-rf")
    url = ws.db.engine.url.render_as_string(hide_password=False)
    other = Database(url)  # another client, going around every check of ours
    try:
        for statement in (f"DELETE FROM wb_run WHERE id = {r1}", "DELETE FROM wb_sweep"):
            refused = pytest.raises(WorkbenchError, match=r"(?i)foreign key")
            with refused, other.session_scope() as session:
                session.execute(text(statement))
    finally:
        other.dispose()
    assert sweeps_repo.get_run(ws.db, r1).id == r1


def test_a_run_whose_data_was_removed_is_not_registered(ws: Workspace) -> None:
    r1, _, _ = kept_run_ids(ws)
    remove(ws, "wine", force=True)  # the sweep is detached from its data
    with pytest.raises(WorkbenchError) as caught:
        registry.register_model(ws, r1, "wine-rf")
    assert f"run {r1}: its dataset version wine@D0 is no longer in the workspace" in str(
        caught.value
    )
    assert registry.list_models(ws) == []
