"""The live drift panel as a person uses it: from the Deployments screen, w opens the panel
of a real local deployment that the simulator feeds; it says plainly that the window is
too small, shows no drift on the data's own rows, flips to DATASET DRIFT when shifted rows
fill the window (the alert rule fires as a notification), shows the histogram of the
column under the cursor, scrolls back through the stored snapshots, and keeps running
when the deployment stops answering. At 80×24 and wide."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.pilot import Pilot

from pipelines.alerts.rules import add_rule, list_rules, remove_rule
from pipelines.deploy import deployments
from tests.app_helpers import screen_text
from tests.watch_helpers import Deployed, deployed, send, send_shifted
from workbench.app import WorkbenchApp

__all__ = ["deployed"]  # fixture


async def showing(pilot: Pilot[object], *needles: str, timeout_s: float = 30) -> str:
    """The screen once it shows every needle (the live layer refreshes every 3 s)."""
    deadline = time.monotonic() + timeout_s
    text = screen_text(pilot)
    while not all(n in text for n in needles) and time.monotonic() < deadline:
        await pilot.pause(0.2)
        text = screen_text(pilot)
    assert all(n in text for n in needles), text
    return text


async def open_panel(pilot: Pilot[object]) -> None:
    deadline = time.monotonic() + 30  # navigation waits for the workspace to be open
    while getattr(pilot.app, "workspace", None) is None and time.monotonic() < deadline:
        await pilot.pause(0.1)
    await pilot.press("D")
    await showing(pilot, "wine-watch", "running")
    await pilot.press("w")
    await showing(pilot, "Drift — wine-watch")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_the_panel_flips_to_drift_when_the_traffic_shifts(
    deployed: Deployed, size: tuple[int, int]
) -> None:
    for rule in list_rules(deployed.ws, deployed.name):
        remove_rule(deployed.ws, rule.id)
    add_rule(deployed.ws, deployed.name, "dataset_drift")
    notified: list[str] = []
    app = WorkbenchApp(deployed.root)
    async with app.run_test(size=size) as pilot:
        original = app.notify

        def notify(message: str, **kwargs: object) -> None:
            notified.append(message)
            original(message, **kwargs)  # type: ignore[arg-type]

        app.notify = notify  # type: ignore[method-assign]
        await open_panel(pilot)
        await pilot.press("minus", "minus")  # a window of 250 rows, not 1000
        await asyncio.to_thread(send, deployed, "none", 250)
        text = await showing(pilot, "no drift:", "250 rows (last 250 rows) vs wine@D0")
        assert "K-S p" in text and "share per bin" in text  # a column's histogram drawn
        assert "DATASET DRIFT" not in text

        await asyncio.to_thread(send_shifted, deployed, 250)
        text = await showing(pilot, "DATASET DRIFT")
        assert "yes" in text
        deadline = time.monotonic() + 10
        while not any("drift" in m for m in notified) and time.monotonic() < deadline:
            await pilot.pause(0.2)
        assert any("dataset drift" in m.lower() for m in notified), notified

        await pilot.press("h")
        text = await showing(pilot, "stored snapshots, newest first", "window end")
        await pilot.press("h")
        await showing(pilot, "past windows")


async def test_a_deployment_that_stops_answering_is_said_and_the_panel_keeps_running(
    deployed: Deployed,
) -> None:
    app = WorkbenchApp(deployed.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_panel(pilot)
        await showing(pilot, "rows (last 1000 rows) vs")
        deployments.stop_deployment(deployed.ws, deployed.name)
        try:
            await showing(pilot, "not answering:", "(the window is kept)")
            await pilot.press("minus")  # keys still work: a smaller window
            await showing(pilot, "last 500 rows")
        finally:
            deployments.start_deployment(deployed.ws, deployed.name)


async def test_e_exports_evidentlys_report_R_retrains_and_a_shows_the_jobs_steps(
    deployed: Deployed,
) -> None:
    from pipelines.retrain.jobs import list_jobs

    send(deployed, "none", 100)
    app = WorkbenchApp(deployed.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_panel(pilot)
        await pilot.press("e")  # Evidently's report of this window, from a child process
        deadline = time.monotonic() + 120
        reports = deployed.root / "reports"
        while not list(reports.glob("drift-wine-watch-*.html")) and time.monotonic() < deadline:
            await pilot.pause(0.5)
        [report] = list(reports.glob("drift-wine-watch-*.html"))
        html = report.read_text(errors="replace")
        assert "Drifted Columns" in html and "alcohol" in html  # its drift table, our columns
        await pilot.press("R")
        await showing(pilot, "Retrain wine-watch's model")
        await pilot.press("y")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = list_jobs(deployed.ws, deployed.name)
            if jobs and jobs[0].status != "running":
                break
            await pilot.pause(0.5)
        [job] = list_jobs(deployed.ws, deployed.name)
        assert job.status in ("kept", "registered"), job
        await pilot.press("a")
        text = await showing(pilot, "Alerts and retraining of wine-watch", f"job {job.id}")
        assert "evaluate:" in text or "train:" in text, text
