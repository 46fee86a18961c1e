"""The registry's part of the storage contract, on every backend of test_storage_contract
(SQLite file, SQLite in memory, PostgreSQL when WORKBENCH_TEST_POSTGRES_URL is set):
numbering per name, racing clients, one alias per name moved atomically, and the
foreign keys that keep a model version's run and dataset version alive."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from storage import registry
from storage.database import HEAD_REVISION, Database
from storage.errors import NotFoundError, StorageError, WorkbenchError
from tests.conftest import POSTGRES_URL
from tests.test_storage_contract import BACKENDS, _reset_postgres, add


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The contract suite's backends, each fresh."""
    url = {
        "sqlite-file": f"sqlite:///{tmp_path / 'contract.db'}",
        "sqlite-memory": "sqlite://",
        "postgresql": POSTGRES_URL,
    }[request.param]
    database = Database(url or "")
    if request.param == "postgresql":
        _reset_postgres(database)
    database.ensure_schema()
    yield database
    if request.param == "postgresql":
        _reset_postgres(database)
    database.dispose()


def sweep_with_runs(database: Database, runs: int = 3) -> tuple[int, list[int]]:
    """A dataset version, a sweep on it and `runs` complete runs, as a worker records them."""
    version = add(database, "wine", "c" * 64)
    with database.engine.begin() as c:
        sweep_id = c.execute(
            text(
                "INSERT INTO wb_sweep (name, dataset_version_id, dataset_ref, dataset_sha,"
                " target, task, model, metric, direction, spec, study_name, optuna_storage,"
                " status, created_at) VALUES ('s', :v, 'wine@D0', :sha, 'y', 'classification',"
                " 'linear', 'accuracy', 'maximize', '{}', 'st', 'x', 'finished', :t)"
                " RETURNING id"
            ),
            {"v": version.id, "sha": version.sha256, "t": "2024-01-01"},
        ).scalar_one()
        run_ids = [
            c.execute(
                text(
                    "INSERT INTO wb_run (sweep_id, trial_number, status, params, fold_scores,"
                    " metrics, started_at, seed, dataset_sha, environment) VALUES"
                    " (:s, :n, 'complete', '{}', '[]', '{}', :t, 1, :sha, '{}') RETURNING id"
                ),
                {"s": sweep_id, "n": n, "t": "2024-01-01", "sha": version.sha256},
            ).scalar_one()
            for n in range(runs)
        ]
    return version.id, run_ids


def register(database: Database, name: str, run_id: int, dataset_version_id: int, **extra: Any):
    return registry.add_version(
        database,
        name=name,
        run_id=run_id,
        dataset_version_id=dataset_version_id,
        bundle_sha256="b" * 64,
        manifest_sha="m" * 64,
        input_schema={"columns": []},
        metrics={"accuracy": 0.9},
        params={"C": 1.0},
        lineage={"run": run_id},
        **extra,
    )


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[0]
    return results


def clients(database: Database, count: int) -> list[Database]:
    """Separate engines on the same database, as separate processes would have."""
    url = database.engine.url.render_as_string(hide_password=False)
    if url in ("sqlite://", "sqlite:///:memory:"):
        pytest.skip("an in-memory database has a single connection: nothing can race")
    return [Database(url) for _ in range(count)]


def test_versions_are_numbered_per_name_and_alias_follows_registration(db: Database) -> None:
    dv, (r1, r2, r3) = sweep_with_runs(db)
    first = register(db, "wine-rf", r1, dv, alias="production", description="baseline")
    second = register(db, "wine-rf", r2, dv)
    other = register(db, "wine-lin", r3, dv)
    assert [(first.ref, first.aliases), (second.ref, second.aliases)] == [
        ("wine-rf:1", ("production",)),
        ("wine-rf:2", ()),
    ]
    assert other.ref == "wine-lin:1"
    models = registry.list_models(db)
    assert [(m.name, m.version_count, m.latest_version, m.aliases) for m in models] == [
        ("wine-lin", 1, 1, {}),
        ("wine-rf", 2, 2, {"production": 1}),
    ]
    assert registry.get_version(db, "wine-rf") == second  # the newest
    assert registry.get_alias(db, "wine-rf", "production") == first
    assert models[1].description == "baseline"


def test_racing_registrations_get_distinct_consecutive_numbers(db: Database) -> None:
    dv, runs = sweep_with_runs(db, runs=6)
    handles = clients(db, len(runs))
    try:
        made = in_threads(len(runs), lambda i: register(handles[i], "race", runs[i], dv))
    finally:
        for handle in handles:
            handle.dispose()
    assert sorted(v.version for v in made) == [1, 2, 3, 4, 5, 6]
    assert sorted(v.run_id for v in made) == sorted(runs)
    assert registry.get_model(db, "race").version_count == 6


def test_racing_alias_moves_end_with_one_alias_and_a_consistent_history(db: Database) -> None:
    dv, runs = sweep_with_runs(db, runs=4)
    for run_id in runs:
        register(db, "champ", run_id, dv)
    handles = clients(db, 4)
    rounds = 5
    try:
        moves = in_threads(
            4,
            lambda i: [
                registry.set_alias(handles[i], "champ", i + 1, "production") for _ in range(rounds)
            ],
        )
    finally:
        for handle in handles:
            handle.dispose()
    flat = [move for per_client in moves for move in per_client]
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT version_id FROM wb_model_alias")).all()
    assert len(rows) == 1  # one alias row, however the moves interleaved
    final = registry.get_alias(db, "champ", "production").version
    # Each move saw the one before it: exactly one started from nothing, and the moves
    # that changed something chain from that first version to the final one.
    assert sum(m.previous is None for m in flat) == 1
    changed = [m for m in flat if m.changed and m.previous is not None]
    arrivals = {m.version for m in flat if m.previous is None} | {m.version for m in changed}
    assert final in arrivals
    assert all(m.previous in {x.version for x in flat} for m in changed)


def test_alias_removal_and_unknown_names_give_readable_errors(db: Database) -> None:
    dv, (r1, r2, _) = sweep_with_runs(db)
    register(db, "wine-rf", r1, dv, alias="staging")
    register(db, "wine-rf", r2, dv)
    move = registry.set_alias(db, "wine-rf", 2, "staging")
    assert (move.previous, move.version, move.changed) == (1, 2, True)
    assert registry.set_alias(db, "wine-rf", 2, "staging").changed is False
    assert registry.remove_alias(db, "wine-rf", "staging") == 2
    with pytest.raises(NotFoundError, match=r"model 'wine-rf' has no alias 'staging' \(it has"):
        registry.get_alias(db, "wine-rf", "staging")
    with pytest.raises(NotFoundError, match=r"no model named 'nope' \(known: wine-rf\)"):
        registry.get_version(db, "nope")
    with pytest.raises(NotFoundError, match=r"has no version 7 \(versions 1-2\)"):
        registry.set_alias(db, "wine-rf", 7, "staging")


def test_a_model_versions_run_and_dataset_version_cannot_be_deleted(db: Database) -> None:
    dv, (r1, _, _) = sweep_with_runs(db)
    register(db, "wine-rf", r1, dv)
    with db.engine.begin() as c:  # the sweep lets go of it, as a forced `data rm` would
        c.execute(text("UPDATE wb_sweep SET dataset_version_id = NULL"))
    for statement in (
        f"DELETE FROM wb_run WHERE id = {r1}",
        f"DELETE FROM wb_dataset_version WHERE id = {dv}",
        "DELETE FROM wb_dataset",
        "DELETE FROM wb_sweep",
    ):
        with (
            pytest.raises(StorageError, match=r"(?i)foreign key") as caught,
            db.session_scope() as s,
        ):
            s.execute(text(statement))
        assert "\n" not in str(caught.value)
    assert [u.ref for u in registry.version_users(db, dataset_version_ids=[dv])] == ["wine-rf:1"]
    assert [u.ref for u in registry.version_users(db, run_ids=[r1])] == ["wine-rf:1"]


def test_a_version_an_alias_names_is_not_removed(db: Database) -> None:
    dv, (r1, r2, _) = sweep_with_runs(db)
    register(db, "wine-rf", r1, dv, alias="production")
    register(db, "wine-rf", r2, dv)
    with pytest.raises(WorkbenchError, match="wine-rf:1 is wine-rf@production: move or remove"):
        registry.delete_version(db, "wine-rf", 1)
    assert registry.delete_version(db, "wine-rf", 2).ref == "wine-rf:2"
    registry.remove_alias(db, "wine-rf", "production")
    registry.delete_version(db, "wine-rf", 1)  # the last version takes the model with it
    assert registry.list_models(db) == []
    assert registry.version_users(db, dataset_version_ids=[dv]) == []


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "sqlite-memory"])
def test_upgrading_from_0006_keeps_every_row_and_the_registry_works(
    backend: str, tmp_path: Path
) -> None:
    url = POSTGRES_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'old.db'}"
    database = Database(url or "")
    if backend == "postgresql":
        _reset_postgres(database)
    try:
        database.upgrade("0006")
        dv, runs = sweep_with_runs(database)
        database.upgrade()
        assert database.current_revision() == HEAD_REVISION
        with database.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM wb_run")).scalar() == len(runs)
            assert c.execute(text("SELECT dataset_version_id FROM wb_sweep")).scalar() == dv
            assert c.execute(text("SELECT count(*) FROM wb_dataset_version")).scalar() == 1
        made = register(database, "wine-rf", runs[0], dv, alias="production")
        assert registry.get_alias(database, "wine-rf", "production") == made
    finally:
        if backend == "postgresql":
            _reset_postgres(database)
        database.dispose()
