"""The App's one live layer, over real sweeps: a background worker process records trials,
the layer polls the database and posts messages, and the sweep screens (which own no timer)
show the new trials; nothing is polled while no screen watches, and a screen shown again is
watched again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen

from pipelines.sweeps.lifecycle import DONE, create_sweep, get_sweep, start_sweep
from pipelines.sweeps.worker import run_worker
from screens.datasets import DatasetsScreen
from screens.formatting import number
from screens.live_messages import SweepFinished, SweepProgressed, TrialsUpdated
from screens.sweep_detail import SweepDetailScreen
from screens.sweep_state import finished_trials
from screens.sweeps import SweepsScreen
from storage import sweeps as repo
from storage.handle import Workspace, open_workspace
from storage.models_sweeps import SweepRow
from tests.app_helpers import screen_text, settle
from tests.sweep_helpers import add_sample, kill_workers
from workbench.app import WorkbenchApp

SIZE = (160, 48)
SWEEP = {"dataset": "wine", "target": "cultivar", "model": "random_forest", "folds": 2}


async def until(
    pilot: Pilot[object], condition: Callable[[], object], what: str, timeout_s: float = 90
) -> None:
    """Let the App run (its live layer polls) until the condition holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{screen_text(pilot)}"
        await pilot.pause(0.2)


def own_timers(screen: Screen[object]) -> list[str]:
    """Timers the screen set itself (Textual's own screen_update timer aside)."""
    return [t.name for t in screen._timers if t.name != "screen_update"]


def workspace_with_wine(root: Path) -> Workspace:
    ws = open_workspace(root)
    add_sample(ws, "wine", "cultivar")
    return ws


async def test_a_running_sweep_shows_its_new_trials_through_the_live_layer(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    ws = workspace_with_wine(root)
    raw = {**SWEEP, "trials": 400, "params": {"n_estimators": 80}}  # stopped long before
    sweep_id = create_sweep(ws, raw).sweep.id
    seen: list[Message] = []
    app = WorkbenchApp(root)
    try:
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert "created" in screen_text(pilot)
            start_sweep(ws, sweep_id, workers=1)  # a real background worker process
            sweeps = app.screen
            assert isinstance(sweeps, SweepsScreen) and not own_timers(sweeps)

            def listed() -> bool:
                sweep = sweeps.sweeps[0]
                done = finished_trials(sweep)
                return (
                    sweep.status == "running" and done > 0 and f"{done}/400" in screen_text(pilot)
                )

            await until(pilot, listed, "a running sweep's first trials on the list", 120)

            await pilot.press("enter")
            await settle(pilot)
            detail = app.screen
            assert isinstance(detail, SweepDetailScreen) and not own_timers(detail)

            def finished() -> int:
                return len([r for r in detail.runs if r.status != "running"])

            shown = finished()
            await until(pilot, lambda: finished() > shown, "a new trial on the sweep's screen", 120)
            await pilot.press("x")  # stop: the App does it, the live layer shows it
            await until(pilot, lambda: get_sweep(ws, sweep_id).status in DONE, "the stop", 120)
            total = repo.count_runs(ws.db, sweep_id=sweep_id)
            text = f"Trials ({total})"
            await until(
                pilot,
                lambda: text in screen_text(pilot) and "stopped" in screen_text(pilot),
                "every trial of the stopped sweep",
            )
            assert len(detail.runs) == total

            updates = [m for m in seen if isinstance(m, TrialsUpdated) and m.sweep_id == sweep_id]
            assert updates[0].complete  # everything first, then only what changed
            later = [m for m in updates[1:] if not m.complete]
            assert later and all(len(m.runs) < total for m in later)
            assert any(isinstance(m, SweepFinished) and m.sweep.id == sweep_id for m in seen)
            progress = [m for m in seen if isinstance(m, SweepProgressed)]
            assert progress[-1].sweep.status == "stopped"

            await pilot.press("escape")
            await settle(pilot)
            line = next(ln for ln in screen_text(pilot).splitlines() if "wine@D0" in ln)
            assert "stopped" in line and f"{finished()}/400" in line, line
    finally:
        kill_workers(ws, sweep_id)
        ws.close()


def recorded_trial(ws: Workspace, sweep_id: int, trial: int, value: float) -> int:
    """A trial as a worker of another process records it."""
    run = repo.start_run(
        ws.db,
        sweep_id=sweep_id,
        trial_number=trial,
        params={},
        seed=trial,
        dataset_sha="0" * 64,
        environment={},
        worker="elsewhere:1",
    )
    repo.finish_run(ws.db, run, status="complete", value=value)
    return run


async def test_polls_stop_when_no_screen_watches_and_resume_when_one_is_back(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    ws = workspace_with_wine(root)
    try:
        sweep_id = create_sweep(ws, {**SWEEP, "trials": 10}).sweep.id
        soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
        with ws.db.session_scope() as session:  # running, its worker elsewhere beating
            session.execute(update(SweepRow).values(status="running", heartbeat_at=soon))
        recorded_trial(ws, sweep_id, 0, 0.5)
        app = WorkbenchApp(root)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert not app.live.polling and app.live.polls == 0  # nothing watched yet
            await pilot.press("s")
            await settle(pilot)
            assert app.live.polling and app.live.polls >= 1
            await pilot.press("enter")
            await settle(pilot)
            assert "Trials (1)" in screen_text(pilot)
            detail = app.screen
            await pilot.press("question_mark")  # a modal over it: still shown, still watched
            await settle(pilot)
            recorded_trial(ws, sweep_id, 1, 0.8)
            await until(pilot, lambda: len(detail.runs) == 2, "the trial behind the modal", 10)
            await pilot.press("escape")
            await settle(pilot)
            assert "Trials (2)" in screen_text(pilot)

            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("escape")  # back to datasets: nothing live is shown
            await settle(pilot)
            assert isinstance(app.screen, DatasetsScreen)
            assert not app.live.polling
            polls = app.live.polls
            await pilot.pause(2.5)  # more than two active intervals
            assert app.live.polls == polls

            await pilot.press("s")
            await settle(pilot)
            await pilot.press("enter")  # the same sweep's screen again
            await settle(pilot)
            assert "Trials (2)" in screen_text(pilot)
            recorded_trial(ws, sweep_id, 2, 0.9)
            await until(pilot, lambda: "Trials (3)" in screen_text(pilot), "the new trial", 10)
            assert f"Best accuracy {number(0.9)}" in screen_text(pilot)
            await pilot.press("escape")
            await settle(pilot)
            recorded_trial(ws, sweep_id, 3, 0.7)  # the list, shown again, is watched again
            await until(pilot, lambda: "4/10" in screen_text(pilot), "the list's new count", 10)
    finally:
        ws.close()


async def test_a_report_asked_on_a_sweeps_screen_is_written_after_the_screen_closes(
    tmp_path: Path,
) -> None:
    """Writing is the App's work: escape right after asking still writes it and says where."""
    root = tmp_path / "ws"
    ws = workspace_with_wine(root)
    try:
        sweep_id = create_sweep(ws, {**SWEEP, "trials": 2, "pruner": "none"}).sweep.id
        run_worker(ws, sweep_id)
    finally:
        ws.close()
    app = WorkbenchApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        polls = app.live.polls
        await pilot.pause(2.5)  # nothing runs: the idle interval (15 s), not every second
        assert app.live.polling and app.live.polls == polls
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e", "m", "escape")  # Markdown, and the sweep's screen is gone
        assert isinstance(app.screen, SweepsScreen)
        await settle(pilot)
        said = [n.message for n in app._notifications if n.message.startswith("wrote ")]
        assert said, [n.message for n in app._notifications]
        path = Path(said[-1].removeprefix("wrote "))
        assert path.is_file() and path.suffix == ".md" and path.stat().st_size > 0


def test_the_live_layer_loads_neither_sqlalchemy_nor_pipelines_at_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, workbench.live; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'pipelines')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
