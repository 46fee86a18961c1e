"""The image build and deployment records on every backend: state changes that two
clients race are one conditional update, and a model version in use cannot be removed."""

from __future__ import annotations

import pytest

from storage import deployments as repo
from storage import registry
from storage.database import Database
from storage.errors import NotFoundError, StorageError, WorkbenchError
from tests.test_storage_contract_registry import (
    clients,
    db,
    in_threads,
    register,
    sweep_with_runs,
)

__all__ = ["db"]  # fixture


def version_id(database: Database) -> int:
    dataset_version_id, run_ids = sweep_with_runs(database, runs=1)
    return register(database, "churn", run_ids[0], dataset_version_id).id


def test_a_build_finishes_once_and_the_newest_built_one_is_found(db: Database) -> None:
    vid = version_id(db)
    first = repo.add_build(
        db, model_version_id=vid, tag="t:v1", base="b", context_path="c", log_path="l"
    )
    assert repo.finish_build(db, first, "built", image_id="sha256:1", size_bytes=10)
    assert not repo.finish_build(db, first, "failed", error="late")  # already finished
    second = repo.add_build(
        db, model_version_id=vid, tag="t:v1", base="b", context_path="c", log_path="l"
    )
    repo.finish_build(db, second, "failed", error="boom")
    newest = repo.latest_build_of_version(db, vid)
    assert newest is not None and newest.id == first and newest.status == "built"
    assert [b.status for b in repo.list_builds(db)] == ["failed", "built"]
    assert repo.get_build(db, second).model_ref == "churn:1"


def test_racing_stops_move_a_deployment_once(db: Database) -> None:
    vid = version_id(db)
    repo.add_deployment(db, "churn", kind="local", model_version_id=vid, port=1, url="u")
    repo.move_deployment(db, "churn", ("starting",), status="running")
    engines = clients(db, 4)
    moved = in_threads(
        4, lambda i: repo.move_deployment(engines[i], "churn", ("running",), status="stopping")
    )
    assert sorted(moved) == [False, False, False, True]
    assert repo.get_deployment(db, "churn").status == "stopping"


def test_a_name_is_taken_once_and_a_version_in_use_is_kept(db: Database) -> None:
    vid = version_id(db)
    repo.add_deployment(db, "churn", kind="local", model_version_id=vid, port=1, url="u")
    with pytest.raises(WorkbenchError, match="a deployment named 'churn' exists"):
        repo.add_deployment(db, "churn", kind="local", model_version_id=vid, port=2, url="u")
    with pytest.raises(StorageError):
        registry.delete_version(db, "churn", 1)
    repo.delete_deployment(db, "churn")
    with pytest.raises(NotFoundError, match="no deployment named 'churn'"):
        repo.get_deployment(db, "churn")
