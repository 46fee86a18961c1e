"""What a dataset version records is what was stored: a file replaced while it is being added
is refused, concurrent adds of one file end with one version and its frozen copy, and
temporary files do not outlive a command killed by SIGTERM, SIGHUP or SIGKILL. Real files,
real processes, real signals."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.datasets.versions import list_datasets, register_dataset
from storage.errors import DatasetInputError
from storage.handle import Workspace
from storage.scratch import is_scratch

WORKBENCH = [sys.executable, "-m", "workbench"]
ROOT = Path(__file__).resolve().parent.parent


def workbench(ws: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WORKBENCH, "--workspace", str(ws), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a signal reaches this command only
    )


def scratch_files(ws: Path) -> list[Path]:
    return [p for p in (ws / "datasets").glob(".*") if is_scratch(p.name)]


def stored_files(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "datasets").iterdir())


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 30 MB: long enough to convert that a signal lands mid-add."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with path.open("wb") as f:
        f.write(b"id,score,name\n")
        for start in range(0, 1_500_000, 100_000):
            f.write(
                b"".join(b"%d,%d.5,n%d\n" % (i, i % 97, i) for i in range(start, start + 100_000))
            )
    return path


# --- the recorded hash is the stored content -----------------------------------------------


@pytest.mark.parametrize("stage", ["reading", "profiling"])
@pytest.mark.parametrize("how", ["replaced", "rewritten in place"])
def test_a_file_changed_during_add_is_refused_and_nothing_recorded(
    workspace: Workspace, tmp_path: Path, stage: str, how: str
) -> None:
    source = tmp_path / "data.csv"
    source.write_text("x,y\n1,2\n3,4\n")
    other = "x,y\n9,9\n8,8\n"  # same size: only the content differs

    def change(reached: str, _fraction: float | None) -> None:
        if reached != stage:
            return
        if how == "replaced":
            (tmp_path / "new.csv").write_text(other)
            os.replace(tmp_path / "new.csv", source)
        else:
            with source.open("r+") as f:
                f.write(other)

    with pytest.raises(DatasetInputError, match="changed while it was being added") as caught:
        register_dataset(workspace, source, name="d", progress=change)
    assert str(caught.value).startswith(f"{source}: ") and "\n" not in str(caught.value)
    assert list_datasets(workspace) == []
    assert stored_files(workspace.root) == []
    again = register_dataset(workspace, source, name="d")  # now unchanged: the new content
    assert again.version.sha256 == hashlib.sha256(other.encode()).hexdigest()
    assert again.version.row_count == 2


# --- concurrent adds ------------------------------------------------------------------------


def _add_at_once(ws: Path, files: list[Path]) -> list[tuple[int, str, str]]:
    procs = [workbench(ws, "data", "add", str(f), "--name", "same") for f in files]
    return [(p.wait(timeout=180), *p.communicate()) for p in procs]


def test_concurrent_adds_of_one_file_end_with_one_version_and_its_copy(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    source = tmp_path / "one.csv"
    source.write_bytes(b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i) for i in range(300_000)))
    subprocess.run([*WORKBENCH, "--workspace", str(ws), "data", "ls"], cwd=ROOT, check=True)
    results = _add_at_once(ws, [source] * 4)
    assert [code for code, _, _ in results] == [0] * 4, results
    outs = [out for _, out, _ in results]
    assert sum(o.startswith("added same@D0") for o in outs) == 1, outs
    assert sum("same content as same@D0" in o for o in outs) == 3, outs
    listing = subprocess.run(
        [*WORKBENCH, "--workspace", str(ws), "data", "ls", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    [dataset] = json.loads(listing.stdout)
    assert dataset["version_count"] == 1
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored_files(ws) == [f"{digest}.parquet"]
    rows = subprocess.run(
        [*WORKBENCH, "--workspace", str(ws), "data", "rows", "same", "--json", "--limit", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert rows.returncode == 0 and json.loads(rows.stdout)["row_count"] == 300_000, rows.stderr


def test_concurrent_adds_of_different_files_get_one_index_each(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    files = []
    for k in range(3):
        path = tmp_path / f"f{k}.csv"
        path.write_bytes(b"a,b\n" + b"".join(b"%d,%d\n" % (i, k) for i in range(100_000)))
        files.append(path)
    subprocess.run([*WORKBENCH, "--workspace", str(ws), "data", "ls"], cwd=ROOT, check=True)
    results = _add_at_once(ws, files)
    assert [code for code, _, _ in results] == [0, 0, 0], results
    labels = sorted(out.split(":")[0] for _, out, _ in results)
    assert labels == ["added same@D0", "added same@D1", "added same@D2"]


# --- temporary files and signals ------------------------------------------------------------


def _start_add_and_wait_for_scratch(ws: Path, source: Path) -> subprocess.Popen[str]:
    proc = workbench(ws, "data", "add", str(source), "--name", "big")
    deadline = time.monotonic() + 120
    while not scratch_files(ws):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no temporary file appeared"
        time.sleep(0.01)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_terminated_add_removes_its_temporary_files(
    tmp_path: Path, big_csv: Path, signum: int
) -> None:
    ws = tmp_path / "ws"
    proc = _start_add_and_wait_for_scratch(ws, big_csv)
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == 128 + signum, proc.communicate()
    assert scratch_files(ws) == []
    assert stored_files(ws) == []


def test_a_killed_adds_leftovers_are_removed_by_the_next_add_but_a_live_one_is_kept(
    tmp_path: Path, big_csv: Path
) -> None:
    ws = tmp_path / "ws"
    killed = _start_add_and_wait_for_scratch(ws, big_csv)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    left = scratch_files(ws)
    assert left  # SIGKILL cannot be caught: the next command cleans up

    live = _start_add_and_wait_for_scratch(ws, big_csv)
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,2\n")
    done = subprocess.run(
        [*WORKBENCH, "--workspace", str(ws), "data", "add", str(small)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in left)
    assert live.wait(timeout=180) == 0, live.communicate()  # its own file was left alone
    assert scratch_files(ws) == []
