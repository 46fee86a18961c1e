"""Removing a dataset version that sweeps trained on: refused, naming them, unless forced;
the database itself refuses the delete (foreign key, revision 0005), and the migration to it
keeps every sweep and run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage.database import Database
from storage.errors import StorageError
from storage.handle import Workspace
from storage.models import Base
from tests.conftest import POSTGRES_URL
from tests.sweep_helpers import add_sample
from workbench.cli import main


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def trained(workspace: Workspace) -> Workspace:
    """wine@D0 with a real two-trial sweep on it (runs recorded by a real worker)."""
    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(
        workspace, {"dataset": "wine", "model": "linear", "trials": 2, "folds": 2, "name": "w"}
    )
    run_worker(workspace, created.sweep.id)
    return workspace


def test_removing_a_version_a_sweep_used_is_refused_naming_the_sweep(
    capsys: pytest.CaptureFixture[str], trained: Workspace
) -> None:
    for ref in ("wine@D0", "wine"):
        code, out, err = cli(capsys, trained, "data", "rm", ref)
        assert code == 1 and out == ""
        assert err.count("\n") == 1
        assert "is used by sweep 1 'w' (2 runs, on wine@D0)" in err and "--force" in err
    code, out, _ = cli(capsys, trained, "data", "ls", "--json")
    assert '"version_count": 1' in out
    code, out, err = cli(capsys, trained, "runs", "reproduce", "1")
    assert code == 0, err


def test_force_removes_it_and_says_what_it_orphans(
    capsys: pytest.CaptureFixture[str], trained: Workspace
) -> None:
    frozen = list((trained.root / "datasets").glob("*.parquet"))
    code, out, err = cli(capsys, trained, "data", "rm", "wine@D0", "--force")
    assert code == 0, err
    assert out.startswith("removed wine@D0; orphaned sweep 1 'w' (2 runs, on wine@D0)")
    assert not any(p.exists() for p in frozen)
    code, out, _ = cli(capsys, trained, "sweep", "show", "1", "--json")
    assert code == 0  # the sweep and its runs stay, detached from the data
    code, out, _ = cli(capsys, trained, "runs", "show", "1", "--json")
    assert code == 0


def test_an_unused_version_is_removed_without_force(
    capsys: pytest.CaptureFixture[str], trained: Workspace, tmp_path: Path
) -> None:
    other = tmp_path / "wine_small.csv"
    lines = (Path(__file__).parent.parent / "assets/sample_data/wine.csv").read_text().splitlines()
    other.write_text("\n".join(lines[:60]) + "\n")
    cli(capsys, trained, "data", "add", str(other), "--name", "wine")
    code, out, err = cli(capsys, trained, "data", "rm", "wine@D1")
    assert (code, out.strip()) == (0, "removed wine@D1"), err


def reset_postgres(url: str) -> None:
    import storage.models_sweeps  # noqa: F401  (all tables on Base.metadata)

    db = Database(url)
    with db.engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS wb_alembic_version"))
    db.dispose()


BACKENDS = ["sqlite-file"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        assert POSTGRES_URL
        reset_postgres(POSTGRES_URL)
        yield POSTGRES_URL
        reset_postgres(POSTGRES_URL)
    else:
        yield f"sqlite:///{tmp_path / 'fk.db'}"


def _insert_sweep_on_a_version(db: Database) -> None:
    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO wb_dataset (id, name, created_at) VALUES (1, 'p', :t)"),
            {"t": "2024-01-01"},
        )
        c.execute(
            text(
                'INSERT INTO wb_dataset_version (id, dataset_id, "index", sha256, source_path,'
                " file_format, read_options, size_bytes, row_count, column_count, created_at,"
                " schema_json, profile_json, validation_json, validation_status) VALUES"
                " (1, 1, 0, 'a', 's', 'csv', '{}', 1, 1, 1, :t, '[]', '{}', '{}', 'pass')"
            ),
            {"t": "2024-01-01"},
        )
        c.execute(
            text(
                "INSERT INTO wb_sweep (id, name, dataset_version_id, dataset_ref, dataset_sha,"
                " target, task, model, metric, direction, spec, study_name, optuna_storage,"
                " status, created_at) VALUES (1, 's', 1, 'p@D0', 'a', 'y', 'classification',"
                " 'linear', 'accuracy', 'maximize', '{}', 'st', 'x', 'finished', :t)"
            ),
            {"t": "2024-01-01"},
        )
        c.execute(
            text(
                "INSERT INTO wb_run (id, sweep_id, trial_number, status, params, fold_scores,"
                " metrics, started_at, seed, dataset_sha, environment) VALUES"
                " (1, 1, 0, 'complete', '{}', '[]', '{}', :t, 1, 'a', '{}')"
            ),
            {"t": "2024-01-01"},
        )


def test_the_database_refuses_a_raw_delete_of_a_version_in_use(database_url: str) -> None:
    db = Database(database_url)
    db.ensure_schema()
    _insert_sweep_on_a_version(db)
    for statement in ("DELETE FROM wb_dataset_version WHERE id = 1", "DELETE FROM wb_dataset"):
        with pytest.raises(StorageError, match=r"(?i)foreign key"), db.session_scope() as s:
            s.execute(text(statement))
    with db.engine.connect() as c:
        assert c.execute(text("SELECT dataset_version_id FROM wb_sweep")).scalar() == 1
    db.dispose()


def test_upgrading_from_0004_keeps_every_sweep_and_run(database_url: str) -> None:
    """The SQLite table rebuild must not cascade: dropping the old wb_sweep with foreign keys
    on would delete every run with it."""
    db = Database(database_url)
    db.upgrade("0004")
    _insert_sweep_on_a_version(db)
    db.upgrade()
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM wb_run")).scalar() == 1
        assert c.execute(text("SELECT dataset_version_id FROM wb_sweep")).scalar() == 1
    with pytest.raises(StorageError, match=r"(?i)foreign key"), db.session_scope() as s:
        s.execute(text("DELETE FROM wb_dataset_version"))
    db.dispose()


async def test_the_tui_confirmation_names_the_sweeps_it_would_orphan(trained: Workspace) -> None:
    from tests.app_helpers import screen_text, settle
    from workbench.app import WorkbenchApp

    app = WorkbenchApp(trained.root)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        text = screen_text(pilot)  # the dialog wraps the question
        assert "Remove dataset wine and all its versions? It is used by sweep 1" in text
        assert "'w' (2 runs, on wine@D0); they would be orphaned." in text
        await pilot.press("y")
        await settle(pilot)
        assert app.datasets_screen.summaries == []  # removed, as the person agreed
    assert sweeps.get_sweep(trained, 1).name == "w"  # the sweep stays, detached
