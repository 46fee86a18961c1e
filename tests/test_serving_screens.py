"""The Deployments and Images screens as a person uses them, on real deployments: D shows a
live local deployment running a canary, with each version's share of real requests and the
unseen column; x stops it and the screen says so; u starts it again. On the Models screen y
deploys the selected version (locally, no image being built), and I lists image builds."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pipelines.deploy import canary, deployments
from pipelines.deploy.health import free_port
from pipelines.registry import versions as registry
from storage.handle import open_workspace
from tests.app_helpers import screen_text, settle
from tests.registry_helpers import build_template, kept_run_ids
from tests.sweep_helpers import SAMPLES
from workbench.app import WorkbenchApp

SIZE = (150, 45)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_template(tmp_path_factory.mktemp("serving-screens"))
    ws = open_workspace(root)
    try:
        r1, r2, _ = kept_run_ids(ws)
        registry.register_model(ws, r1, "wine", alias="production")
        registry.register_model(ws, r2, "wine")
    finally:
        ws.close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # local processes
    root = Path(shutil.copytree(template, tmp_path / "ws"))
    yield root
    ws = open_workspace(root)
    try:
        for record in deployments.list_deployments(ws, check=False):
            deployments.remove_deployment(ws, record.name)
    finally:
        ws.close()


def unregistered_run(root: Path) -> int:
    ws = open_workspace(root)
    try:
        return kept_run_ids(ws)[2]  # the template registers the first two
    finally:
        ws.close()


def wine_record() -> dict[str, float]:
    header, first = (SAMPLES / "wine.csv").read_text().splitlines()[:2]
    row = dict(zip(header.split(","), first.split(","), strict=True))
    row.pop("cultivar")
    return {k: float(v) for k, v in row.items()} | {"new_sensor": 1.0}


def post(url: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        f"{url}/predict", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


async def text_with(pilot: Pilot[object], *needles: str, timeout_s: float = 20) -> str:
    """The screen once it shows every needle (the live layer polls every few seconds)."""
    deadline = time.monotonic() + timeout_s
    text = screen_text(pilot)
    while not all(n in text for n in needles) and time.monotonic() < deadline:
        await pilot.pause(0.2)
        text = screen_text(pilot)
    return text


async def test_deployments_show_a_canarys_traffic_and_stop_and_start_by_key(
    workspace: Path,
) -> None:
    ws = open_workspace(workspace)
    try:
        record = deployments.deploy(ws, "wine:1", port=free_port(), local=True).record
        canary.start_canary(ws, "wine", "wine:2", 0.25)
    finally:
        ws.close()
    for _ in range(8):
        post(record.url, wine_record())
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("D")
        text = await text_with(pilot, "Traffic of wine (last 8 requests)", "new_sensor (8)")
        assert type(app.screen).__name__ == "DeploymentsScreen"
        assert "wine:1 + wine:2 (25%)" in text and "running" in text
        traffic = text.split("Traffic of wine")[1].split("unseen columns")[0]
        lines = {line.split()[0]: line.split() for line in traffic.splitlines() if line.split()}
        assert lines["1"][1] == "75%" and lines["2"][1] == "25%"  # 6 and 2 of 8 requests

        await pilot.press("x")
        text = await text_with(pilot, "stopped")
        assert "stopped" in text
        await pilot.press("u")
        text = await text_with(pilot, "running", "Traffic of wine")
        assert "running" in text
    ws = open_workspace(workspace)
    try:
        assert deployments.get_deployment(ws, "wine").status == "running"
    finally:
        ws.close()


async def test_y_on_the_models_screen_deploys_the_version_locally(workspace: Path) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("enter")  # into wine's versions
        await settle(pilot)
        chosen = app.screen.current_version()  # type: ignore[attr-defined]
        assert chosen is not None
        await pilot.press("y")
        await pilot.press("D")
        text = await text_with(pilot, "running", "Traffic of wine", timeout_s=60)
        row = next(line for line in text.splitlines() if line.split()[:2] == ["wine", "running"])
        assert chosen.ref in row and "local" in row, text
        await pilot.press("I")
        text = await text_with(pilot, "no images")
        assert "no images" in text


async def test_M_registers_the_run_under_the_cursor_from_runs_and_sweep_screens(
    workspace: Path,
) -> None:
    app = WorkbenchApp(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        run_id = app.screen.highlighted_run()  # type: ignore[attr-defined]
        await pilot.press("M")
        await settle(pilot)
        assert type(app.screen).__name__ == "RegisterModelScreen"
        await pilot.press(*"from-runs", "enter")
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("enter")  # the sweep's own screen
        await settle(pilot)
        trials = app.screen.query_one("#trials-table")
        unregistered = str(unregistered_run(workspace))
        keys = [row.value for row in trials.rows]  # type: ignore[attr-defined]
        trials.move_cursor(row=keys.index(unregistered))  # type: ignore[attr-defined]
        await pilot.press("M")
        await settle(pilot)
        name_field = app.screen.query_one("#register-name")
        assert name_field.value == "wine"  # type: ignore[attr-defined]  # its dataset
        await pilot.press("tab", *"staging", "enter")
        await settle(pilot)
    ws = open_workspace(workspace)
    try:
        assert registry.resolve(ws, "from-runs:1").run_id == run_id
        staged = registry.resolve(ws, "wine@staging")
        assert staged.version == 3 and staged.run_id == int(unregistered)
    finally:
        ws.close()
