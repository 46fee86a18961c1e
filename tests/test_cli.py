"""The headless commands, run as a person would type them (in-process for speed; one
end-to-end check goes through the installed console script)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storage.database import HEAD_REVISION
from tests.bad_files import BAD_FILES
from workbench.cli import main


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def workspace_files(ws: Path) -> list[str]:
    """Every file under datasets/ and artifacts/: frozen copies, temporaries, orphans."""
    return sorted(
        str(p.relative_to(ws))
        for folder in ("datasets", "artifacts", "cache")
        for p in (ws / folder).rglob("*")
        if p.is_file()
    )


def test_add_list_show_and_the_same_content_again(
    capsys, tmp_path: Path, samples_dir: Path
) -> None:
    ws = tmp_path / "ws"
    code, out, _ = run(
        capsys, ws, "data", "add", str(samples_dir / "wine.csv"), "--target", "cultivar"
    )
    assert code == 0 and "added wine@D0" in out and "178 rows" in out
    code, out, _ = run(capsys, ws, "data", "add", str(samples_dir / "wine.csv"))
    assert code == 0 and "same content as wine@D0" in out and "nothing added" in out

    code, out, _ = run(capsys, ws, "data", "ls", "--json")
    [wine] = json.loads(out)
    assert wine["name"] == "wine" and wine["version_count"] == 1
    assert wine["latest"]["row_count"] == 178 and len(wine["latest"]["sha256"]) == 64

    code, out, _ = run(capsys, ws, "data", "show", "wine@D0", "--json")
    shown = json.loads(out)
    assert shown["target"] == "cultivar" and shown["label"] == "D0"
    alcohol = next(c for c in shown["profile"]["columns"] if c["name"] == "alcohol")
    assert (alcohol["min"], alcohol["max"]) == (11.03, 14.83)  # the bundled file's own range
    assert alcohol["mean"] == pytest.approx(13.000618, abs=1e-6)
    assert sum(alcohol["histogram"]) == 178
    assert shown["validation"]["status"] == "pass"
    assert workspace_files(ws) == [f"datasets/{shown['sha256']}.parquet"]

    code, out, _ = run(capsys, ws, "data", "show", "wine")
    assert code == 0 and "schema and profile" in out and "alcohol" in out


def test_second_churn_version_is_validated_against_the_first(
    capsys, tmp_path: Path, samples_dir: Path
) -> None:
    ws = tmp_path / "ws"
    run(
        capsys,
        ws,
        "data",
        "add",
        str(samples_dir / "churn_v1.csv"),
        "--name",
        "churn",
        "--target",
        "churned",
    )
    code, out, _ = run(
        capsys, ws, "data", "add", str(samples_dir / "churn_v2.csv"), "--name", "churn"
    )
    assert code == 0 and "added churn@D1" in out
    assert "time_spent_on_video_tutorials" in out  # the warnings are printed with the add

    code, out, _ = run(capsys, ws, "data", "validate", "churn", "--json")
    result = json.loads(out)
    checks = {(c["check"], c["column"]) for c in result["checks"]}
    assert ("columns added", "time_spent_on_video_tutorials") in checks
    assert any(check == "new missing values" for check, _ in checks)
    assert result["against"] == "D0" and result["status"] in ("warn", "fail")
    assert code == (1 if result["status"] == "fail" else 0)
    _, out, _ = run(capsys, ws, "data", "show", "churn", "--json")
    assert json.loads(out)["target"] == "churned"  # inherited from D0


def test_validate_a_candidate_file_fails_when_a_column_disappears(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (tmp_path / "a.csv").write_text("x,y,label\n1,2.5,a\n2,3.5,b\n3,4.5,a\n")
    (tmp_path / "b.csv").write_text("x,label\n1,a\n2,b\n")
    run(capsys, ws, "data", "add", str(tmp_path / "a.csv"), "--name", "toy")
    code, out, _ = run(capsys, ws, "data", "validate", "toy", "--file", str(tmp_path / "b.csv"))
    assert code == 1 and "columns removed" in out and "fail" in out
    _, out, _ = run(capsys, ws, "data", "ls", "--json")
    assert json.loads(out)[0]["version_count"] == 1  # validating did not register it


def test_rows_filter_and_sort_headless(capsys, tmp_path: Path, samples_dir: Path) -> None:
    ws = tmp_path / "ws"
    run(capsys, ws, "data", "add", str(samples_dir / "wine.csv"))
    code, out, _ = run(
        capsys,
        ws,
        "data",
        "rows",
        "wine",
        "--where",
        "alcohol > 14",
        "--order-by",
        "alcohol DESC",
        "--limit",
        "3",
        "--json",
    )
    page = json.loads(out)
    alcohols = [row["alcohol"] for row in page["rows"]]
    assert code == 0 and page["row_count"] > 3 and alcohols == sorted(alcohols, reverse=True)
    assert alcohols[0] > 14
    code, _, err = run(capsys, ws, "data", "rows", "wine", "--where", "no_such_column > 1")
    assert code == 1 and "no_such_column" in err and err.count("\n") == 1


def test_remove_a_version_and_a_dataset_and_their_frozen_copies(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("x,y\n1,2\n3,4\n5,6\n")
    run(capsys, ws, "data", "add", str(tmp_path / "a.csv"), "--name", "toy")
    run(capsys, ws, "data", "add", str(tmp_path / "b.csv"), "--name", "toy")
    run(capsys, ws, "data", "add", str(tmp_path / "a.csv"), "--name", "other")  # shares a copy
    assert len(workspace_files(ws)) == 2
    code, out, _ = run(capsys, ws, "data", "rm", "toy@D1")
    assert code == 0 and "removed toy@D1" in out and len(workspace_files(ws)) == 1
    run(capsys, ws, "data", "rm", "toy")
    assert len(workspace_files(ws)) == 1  # still used by "other"
    run(capsys, ws, "data", "rm", "other")
    assert workspace_files(ws) == []
    code, _, err = run(capsys, ws, "data", "rm", "other")
    assert code == 1 and "no dataset named 'other'" in err


def test_reference_keeps_only_path_and_hash_and_warns_on_change(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    source = tmp_path / "live.csv"
    source.write_text("x,y\n1,2\n3,4\n")
    code, out, _ = run(capsys, ws, "data", "add", str(source), "--reference")
    assert code == 0 and "kept by reference" in out and workspace_files(ws) == []
    code, out, err = run(capsys, ws, "data", "rows", "live", "--json")
    assert json.loads(out)["row_count"] == 2
    source.write_text("x,y\n1,2\n3,4\n5,6\n")
    code, out, err = run(capsys, ws, "data", "show", "live")
    assert code == 0 and "has changed since it was registered" in err


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_is_refused_with_one_line_and_nothing_written(
    capsys, tmp_path: Path, case: str
) -> None:
    ws = tmp_path / "ws"
    name, write, phrase = BAD_FILES[case]
    path = tmp_path / name
    write(path)
    code, out, err = run(capsys, ws, "data", "add", str(path), "--name", "bad")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("workbench: error: ")
    assert name in err and phrase.lower() in err.lower()
    assert workspace_files(ws) == []
    code, out, _ = run(capsys, ws, "data", "ls", "--json")
    assert json.loads(out) == []


def test_a_target_that_does_not_exist_is_refused(capsys, tmp_path: Path, samples_dir: Path) -> None:
    ws = tmp_path / "ws"
    code, _, err = run(
        capsys, ws, "data", "add", str(samples_dir / "wine.csv"), "--target", "price"
    )
    assert code == 1 and "wine.csv" in err and "target column 'price' not found" in err
    assert err.count("\n") == 1 and workspace_files(ws) == []


def test_an_invalid_dataset_name_is_refused(capsys, tmp_path: Path, samples_dir: Path) -> None:
    code, _, err = run(
        capsys, tmp_path / "ws", "data", "add", str(samples_dir / "wine.csv"), "--name", "a b@c"
    )
    assert code == 1 and "not a valid dataset name" in err


def test_db_commands_and_an_old_database(capsys, tmp_path: Path) -> None:
    from storage.database import Database

    ws = tmp_path / "ws"
    ws.mkdir()
    old = Database(f"sqlite:///{ws / 'workbench.db'}")
    old.upgrade("0001")
    old.dispose()
    code, _, err = run(capsys, ws, "data", "ls")
    assert code == 1 and "run `workbench db upgrade`" in err and err.count("\n") == 1
    code, out, _ = run(capsys, ws, "db", "current")
    assert out.strip() == "0001"
    code, out, _ = run(capsys, ws, "db", "upgrade")
    assert code == 0 and f"0001 -> {HEAD_REVISION}" in out
    code, out, _ = run(capsys, ws, "data", "ls", "--json")
    assert code == 0 and json.loads(out) == []


def test_demo_fills_the_workspace_once_and_serves_its_model(capsys, tmp_path: Path) -> None:
    """...also when an older Workbench left the demo at an older schema: it is ours. It ends
    with the best churn model deployed locally and simulated traffic reaching it; run again,
    it only says where that deployment serves."""
    from pipelines.demo_serving import DEPLOYMENT, stop_demo_traffic
    from pipelines.deploy import deployments
    from pipelines.monitoring.feed import RecordFeed
    from storage.database import Database
    from storage.handle import open_workspace
    from tests.sweep_helpers import wait_until

    ws = tmp_path / "demo"
    ws.mkdir()
    old = Database(f"sqlite:///{ws / 'workbench.db'}")
    old.upgrade("0003")
    old.dispose()
    try:
        code, _, err = run(capsys, ws, "demo", "--no-tui")
        assert code == 0 and "demo workspace ready" in err
        assert "registered run" in err and "as churn:1 (@production)" in err
        assert f"{DEPLOYMENT} serves at http://127.0.0.1:" in err
        code, out, _ = run(capsys, ws, "db", "current")
        assert out.strip() == HEAD_REVISION
        _, out, _ = run(capsys, ws, "data", "ls", "--json")
        listed = {d["name"]: d for d in json.loads(out)}
        assert {"wine", "diabetes", "breast_cancer", "churn"} <= set(listed)
        assert listed["churn"]["version_count"] == 2
        _, out, _ = run(capsys, ws, "sweep", "ls", "--json")
        [sweep] = json.loads(out)
        assert sweep["status"] == "finished" and sum(sweep["counts"].values()) == 20
        assert sweep["dataset_ref"] == "churn@D1" and sweep["best_value"] > 0.6
        _, out, _ = run(capsys, ws, "deploy", "ls", "--json")
        [deployment] = json.loads(out)
        assert deployment["status"] == "running" and deployment["model_ref"] == "churn:1"
        feed = RecordFeed(deployment["url"])
        wait_until(lambda: len(feed.pull()) > 0, "simulated traffic reaching the demo", 30)
        code, _, err = run(capsys, ws, "demo", "--no-tui")
        assert code == 0 and err.startswith(f"{DEPLOYMENT} serves at")  # nothing else to do
        assert err.count("\n") == 1
    finally:
        workspace = open_workspace(ws)
        try:
            stop_demo_traffic(workspace)
            for record in deployments.list_deployments(workspace, check=False):
                deployments.remove_deployment(workspace, record.name)
        finally:
            workspace.close()


def test_workspace_from_the_environment_and_the_console_script(
    tmp_path: Path, samples_dir: Path
) -> None:
    script = shutil.which("workbench", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed with the package"
    env = {
        "WORKBENCH_WORKSPACE": str(tmp_path / "env-ws"),
        "PATH": str(Path(sys.executable).parent),
    }
    added = subprocess.run(
        [script, "data", "add", str(samples_dir / "diabetes.csv")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "env-ws" / "workbench.db").is_file()
    listed = subprocess.run(
        [script, "data", "ls", "--json"], env=env, capture_output=True, text=True
    )
    assert json.loads(listed.stdout)[0]["name"] == "diabetes"


@pytest.mark.parametrize(
    ("args", "code", "out", "err"),
    [
        (("data", "ls", "--json"), 0, "[]", ""),
        (("data", "show", "nope"), 1, "", "workbench: error: "),
        (("--version-of-nothing",), 2, "", "unrecognized arguments"),
    ],
)
def test_the_command_exits_without_teardown_yet_flushes_and_runs_exit_handlers(
    tmp_path: Path, args: tuple[str, ...], code: int, out: str, err: str
) -> None:
    """`workbench` ends with os._exit after `main` (cli.entry): what it printed still
    reaches a pipe whole, its exit code is the command's, exit handlers still run."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
        "from workbench.cli import entry\n"
        f"sys.argv = ['workbench', '--workspace', {str(tmp_path / 'ws')!r}, *{list(args)!r}]\n"
        "entry()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stderr
    assert done.stdout.strip() == out
    assert err in done.stderr
    assert done.stderr.rstrip().endswith("exit handler ran")
    buffered = script.replace("entry()", "sys.stdout.write('x' * 2_000_000)\nentry()")
    whole = subprocess.run([sys.executable, "-c", buffered], capture_output=True, timeout=120)
    assert whole.returncode == code
    assert whole.stdout.startswith(b"x" * 2_000_000)  # still in the buffer at os._exit
