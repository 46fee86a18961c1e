"""Snapshots of the deployment half's screens (Models, Images, Deployments), wide and at
80×24, on the fixed sweep with two registered versions, two image builds (one built, one
failed) and two deployments (one stopped, one failed). Nothing here is live: stopped and
failed deployments are not polled over HTTP, and finished builds are read from their
records, so every value on screen is fixed. Update with `--snapshot-update` and look."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_helpers import FIXED_TIME
from tests.test_snapshots import SIZE, SMALL, after, fixed_sweep
from workbench.app import WorkbenchApp

__all__ = ["fixed_sweep"]  # fixture


@pytest.fixture
def serving_workspace(fixed_sweep: Path) -> Path:
    from sqlalchemy import update

    from pipelines.registry.versions import register_model, set_alias
    from storage import deployments as repo
    from storage.handle import open_workspace
    from storage.models_registry import ModelVersionRow
    from storage.models_serving import DeploymentRow, ImageBuildRow

    ws = open_workspace(fixed_sweep)
    try:
        first = register_model(ws, 1, "wine", description="the first forest")
        second = register_model(ws, 2, "wine")
        set_alias(ws, "wine", 2, "production")
        logs = ws.paths.logs
        (logs / "image-build-2.log").write_text(
            "Step 7/26 : RUN python3 -m venv /opt/venv\n"
            "ERROR: No matching distribution found for scikit-learn==0.0.0.404\n"
        )
        for version, status, error in [
            (first, "built", None),
            (second, "failed", "build of workbench/wine:2 failed: pip returned a non-zero code"),
        ]:
            build_id = repo.add_build(
                ws.db,
                model_version_id=version.id,
                tag=f"workbench/wine:{version.version}",
                base="workbench-base/python:3.11",
                context_path=str(ws.paths.builds / f"wine-v{version.version}"),
                log_path=str(logs / f"image-build-{version.version}.log"),
            )
            size = 426_000_000 if status == "built" else None
            repo.finish_build(ws.db, build_id, status, error=error, size_bytes=size)
        repo.add_deployment(
            ws.db,
            "wine-prod",
            kind="container",
            model_version_id=first.id,
            image_tag="workbench/wine:1",
            port=8801,
            url="http://127.0.0.1:8801",
        )
        repo.add_deployment(
            ws.db,
            "wine-local",
            kind="local",
            model_version_id=second.id,
            port=8802,
            url="http://127.0.0.1:8802",
        )
        with ws.db.session_scope() as session:
            session.execute(update(ModelVersionRow).values(created_at=FIXED_TIME))
            session.execute(update(ImageBuildRow).values(created_at=FIXED_TIME))
            session.execute(
                update(DeploymentRow)
                .where(DeploymentRow.name == "wine-prod")
                .values(status="stopped", created_at=FIXED_TIME, updated_at=FIXED_TIME)
            )
            session.execute(
                update(DeploymentRow)
                .where(DeploymentRow.name == "wine-local")
                .values(
                    status="failed",
                    error="port 8802 is in use on 127.0.0.1; choose another with --port",
                    created_at=FIXED_TIME,
                    updated_at=FIXED_TIME,
                )
            )
    finally:
        ws.close()
    return fixed_sweep


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["wide", "80x24"])
def test_models_screen(snap_compare, serving_workspace: Path, size: tuple[int, int]) -> None:
    keys = after("m", showing=("wine",))
    assert snap_compare(WorkbenchApp(serving_workspace), terminal_size=size, run_before=keys)


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["wide", "80x24"])
def test_images_screen(snap_compare, serving_workspace: Path, size: tuple[int, int]) -> None:
    keys = after("I", showing=("No",))  # the failed build, its log's last lines below
    assert snap_compare(WorkbenchApp(serving_workspace), terminal_size=size, run_before=keys)


@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["wide", "80x24"])
def test_deployments_screen(snap_compare, serving_workspace: Path, size: tuple[int, int]) -> None:
    keys = after("D")
    assert snap_compare(WorkbenchApp(serving_workspace), terminal_size=size, run_before=keys)
