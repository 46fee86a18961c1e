"""The workspace's Optuna journal on a real full disk (a small tmpfs): a failed write is
reported in one line and never damages the journal; a journal an older Workbench damaged
that way (a cut-off record with the next one glued to it) opens again, repaired."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.studies import open_storage, storage_kind_for
from storage import sweeps as repo
from storage.handle import Workspace
from tests.sweep_helpers import add_sample, kill_workers, wait_until, write_sweep
from workbench.cli import main

SWEEP = 'dataset = "wine"\nmodel = "linear"\nmetric = "accuracy"\ntrials = 15\nfolds = 2\n'


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real small disk, unmounted afterwards; skipped only where mounting is not allowed."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "256k") as folder:
        yield folder


def fill(disk: Path, leave: int) -> Path:
    """Take all the free space of `disk` but about `leave` bytes."""
    stats = os.statvfs(disk)
    filler = disk / "filler"
    with contextlib.suppress(OSError):  # a running worker took some first: full all the same
        filler.write_bytes(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave))
    return filler


def whole_records(journal: Path) -> list[dict]:
    data = journal.read_bytes()
    assert data.endswith(b"\n"), data[-120:]
    return [json.loads(line) for line in data.splitlines()]


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def journal_on(disk: Path, ws: Workspace) -> Path:
    """Put the workspace's journal folder (made empty when it opened) on the small disk."""
    ws.paths.optuna.rmdir()
    ws.paths.optuna.symlink_to(disk, target_is_directory=True)
    return ws.paths.optuna / "journal.log"


def test_a_full_disk_fails_the_sweep_with_its_cause_and_leaves_the_journal_whole(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, tmp_path: Path, small_disk: Path
) -> None:
    journal = journal_on(small_disk, workspace)
    add_sample(workspace, "wine", "cultivar")
    path = write_sweep(tmp_path, SWEEP)
    other = sweeps.read_and_create(workspace, path).sweep  # a second study in the same file
    filler = fill(small_disk, leave=6000)

    code, out, err = cli(capsys, workspace, "sweep", "start", str(path), "--wait")
    assert code == 1
    sweep = repo.get_sweep(workspace.db, 2)
    assert sweep.status == "failed", sweep
    assert sweep.error == f"{journal}: cannot write the Optuna journal (no space left on device)"
    assert "no space left on device" in out  # `sweep show` prints the error
    log = (workspace.root / "logs" / "sweep-2-worker-0.log").read_text()
    assert "no space left on device" in log and "Traceback" not in log
    assert len(log.strip().splitlines()) == 1, log
    whole_records(journal)  # nothing cut off: the failed write was taken back

    filler.unlink()
    code, out, err = cli(capsys, workspace, "sweep", "resume", "2", "--wait")
    assert code == 0, err
    assert repo.get_sweep(workspace.db, 2).status == "finished"
    code, out, err = cli(capsys, workspace, "report", "sweep", "2", "--format", "md")
    assert code == 0, err
    code, out, err = cli(capsys, workspace, "sweep", "start", str(path), "--wait")
    assert code == 0, err
    sweeps.start_sweep(workspace, other.id)
    assert sweeps.wait_for_sweep(workspace, other.id, poll_s=0.2).status == "finished"
    assert len({r["study_name"] for r in whole_records(journal) if r["op_code"] == 0}) == 3


def test_a_journal_damaged_by_plain_optuna_on_a_full_disk_opens_repaired(
    workspace: Workspace, small_disk: Path
) -> None:
    """Optuna's own file backend on a full disk leaves a record cut off; the next record is
    glued to it, and once anything follows, every read fails (a new sweep, a resume, a
    report). The workspace's storage repairs the journal on open, keeping every record that
    was written whole, the glued one included."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    def plain() -> JournalStorage:
        return JournalStorage(JournalFileBackend(str(journal)))

    journal = journal_on(small_disk, workspace)
    study = optuna.create_study(study_name="old", storage=plain())
    filler = fill(small_disk, leave=3000)
    with pytest.raises(OSError):
        for _ in range(1000):
            trial = study.ask()
            for step in range(20):
                trial.report(float(step), step)
            study.tell(trial, 1.0)
    assert not journal.read_bytes().endswith(b"\n")  # a record was cut off
    complete = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    filler.unlink()
    # Plain Optuna fails in its own ways from here on (it cannot read what it wrote).
    with contextlib.suppress(Exception):
        optuna.load_study(study_name="old", storage=plain()).ask()  # glued to the cut-off one
    with contextlib.suppress(Exception):
        optuna.create_study(study_name="new", storage=plain())  # and now something follows
    with pytest.raises(ValueError):
        plain()  # every later read fails: the state older Workbenches were left in

    storage = open_storage(workspace, storage_kind_for(workspace))
    assert {s.study_name for s in optuna.get_all_study_summaries(storage)} == {"old", "new"}
    old = optuna.load_study(study_name="old", storage=storage).get_trials()
    assert [t.state.name for t in old].count("COMPLETE") == complete
    assert len(old) == complete + 2  # the one cut off while running, and the glued one
    whole_records(journal)
    assert len(optuna.get_all_study_summaries(plain())) == 2  # plain Optuna reads it again


def test_a_workspace_on_a_full_disk_says_so_when_nothing_could_be_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Database, journal and logs on one disk that fills up while a sweep runs: the worker
    may record nothing, not even in its log. The sweep then reads as stalled (not 'running'
    for ever), and one line names the cause."""
    with tmpfs(tmp_path / "disk", "4m") as disk:
        run_until_the_disk_is_full(capsys, tmp_path, disk)


def run_until_the_disk_is_full(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, disk: Path
) -> None:
    from storage.handle import open_workspace

    ws = open_workspace(disk / "ws")
    try:
        add_sample(ws, "wine", "cultivar")
        path = write_sweep(tmp_path, SWEEP.replace("trials = 15", "trials = 5000"))
        code, _, err = cli(capsys, ws, "sweep", "start", str(path))
        assert code == 0, err
        wait_until(lambda: repo.count_runs(ws.db, sweep_id=1, status="complete"), "a trial")
        fill(disk, leave=0)
        sweep = sweeps.wait_for_sweep(ws, 1, poll_s=0.2)
        assert sweep.status in ("failed", "stalled")
        code, out, err = cli(capsys, ws, "sweep", "show", "1")
        said = [line for line in out.splitlines() if "error" in line or "stalled:" in line]
        assert len(said) == 1, out
        causes = ("no space left on device", "database or disk is full", f"{ws.root} is full")
        assert any(cause in said[0] for cause in causes), said
    finally:
        kill_workers(ws, 1)
        ws.close()
