"""The CLI as part of a shell: pipes that close early, queries that never end, options in any
place, hostile text in users' files, a workspace from a newer Workbench, and file modes."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.database import HEAD_REVISION, VERSION_TABLE
from workbench.cli import BROKEN_PIPE_EXIT, build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"


def script() -> str:
    found = shutil.which("workbench", path=str(Path(sys.executable).parent))
    assert found, "the console script is installed with the package"
    return found


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_csv(path: Path, rows: int) -> Path:
    lines = ["id,city,note"] + [f"{i},city-{i % 7},note number {i:06d}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- a reader that stops early ------------------------------------------------------------------


def pipe_to_head(*argv: str) -> tuple[int, str, str]:
    """`workbench ARGV | head -1`: workbench's exit status, head's output, workbench's stderr."""
    producer = subprocess.Popen([script(), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=producer.stdout, stdout=subprocess.PIPE)
    assert producer.stdout is not None and producer.stderr is not None
    producer.stdout.close()  # head alone holds the read end: when it exits, the pipe is broken
    first, _ = head.communicate(timeout=120)
    err = producer.stderr.read().decode()
    return producer.wait(timeout=120), first.decode(), err


def into_a_closed_pipe(*argv: str) -> tuple[int, str]:
    """Run workbench with stdout on a pipe whose reader has already gone, so that its first
    write fails whatever its size (a reader that stops early, without the race of when)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [script(), *argv], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.fixture(scope="module")
def big_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding 20,000 rows: far more output than a pipe buffers (64 KiB)."""
    root = tmp_path_factory.mktemp("pipe")
    csv = write_csv(root / "big.csv", 20_000)
    added = subprocess.run(
        [script(), "--workspace", str(root / "ws"), "data", "add", str(csv)],
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    return root / "ws"


def test_head_of_a_long_listing_ends_quietly_like_a_unix_tool(big_workspace: Path) -> None:
    argv = ("--workspace", str(big_workspace), "data", "rows", "big", "--limit", "20000", "--json")
    code, first, err = pipe_to_head(*argv)
    assert err == ""  # no BrokenPipeError traceback
    assert code == BROKEN_PIPE_EXIT == 141  # what a shell shows for `seq 1e9 | head -1`
    assert first == "{\n"


@pytest.mark.parametrize(
    "argv",
    [
        ("data", "rows", "big", "--limit", "5000", "--json"),  # json.dump to sys.stdout
        ("data", "rows", "big", "--limit", "5000"),  # one large write of a Rich table
        ("data", "ls", "--json"),  # small: still buffered when the command returns
        ("data", "ls"),
        ("runs", "ls", "--json"),
    ],
    ids=["rows-json", "rows-table", "ls-json", "ls-table", "runs-json"],
)
def test_a_reader_that_went_away_ends_any_command_quietly(big_workspace: Path, argv: tuple) -> None:
    code, err = into_a_closed_pipe("--workspace", str(big_workspace), *argv)
    assert (code, err) == (BROKEN_PIPE_EXIT, "")


# -- a --where that would run forever -------------------------------------------------------------


def test_an_endless_where_is_stopped_at_the_time_limit(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run(capsys, ws, "data", "add", str(write_csv(tmp_path / "t.csv", 10)))
    endless = "(SELECT count(*) FROM range(1000000000000)) > 0"
    started = time.monotonic()
    code, out, err = run(capsys, ws, "data", "rows", "t", "--where", endless, "--time-limit", "0.5")
    assert time.monotonic() - started < 15
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("workbench: error: --where took longer than 0.5 s and was stopped; ")
    assert "--time-limit" in err
    code, out, _ = run(capsys, ws, "data", "rows", "t", "--where", "id > 7", "--json")
    assert code == 0 and json.loads(out)["row_count"] == 2  # an ordinary filter still answers


def test_the_time_limit_has_a_default() -> None:
    assert build_parser().parse_args(["data", "rows", "x"]).time_limit == 30


# -- global options after the command, and every command the README shows ---------------------


PLACEHOLDERS = {"ID": "1", "RUN": "1", "SWEEP": "1", "FILE": "out.txt", "RUN…": "2"}


def readme_commands() -> list[str]:
    """Every `workbench …` line in the README's shell blocks, without its comment."""
    commands, in_shell = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_shell = line.strip() == "```sh"
            continue
        if in_shell and line.startswith("workbench"):
            commands.append(re.sub(r"\s+#\s.*$", "", line).strip())
    return commands


def concrete(synopsis: str) -> list[list[str]]:
    """The argument lists a synopsis stands for: `a|b` picks either (a verb's whole clause,
    `ls|show ID [--json]|stop ID`, or an option's value, `--format csv|json`), `[...]` is
    given or left out, and placeholders such as ID, RUN or FILE get a value."""
    words = synopsis.split(" ")
    for i, word in enumerate(words):
        if "|" in word:
            if i > 0 and words[i - 1].startswith("-"):  # an option's values
                return [
                    argv
                    for choice in word.split("|")
                    for argv in concrete(" ".join([*words[:i], choice, *words[i + 1 :]]))
                ]
            head, tail = " ".join(words[:i]), " ".join(words[i:])  # a verb's clauses
            return [argv for clause in tail.split("|") for argv in concrete(f"{head} {clause}")]
    optional = re.findall(r"\[[^\]]*\]", synopsis)
    found = []
    for given in itertools.product((True, False), repeat=len(optional)):
        text = synopsis
        for group, keep in zip(optional, given, strict=True):
            text = text.replace(group, group[1:-1] if keep else "", 1)
        argv = [PLACEHOLDERS.get(token, token) for token in shlex.split(text)[1:]]
        found.append(argv)
    return found


def test_the_readme_shows_commands_to_check() -> None:
    commands = readme_commands()
    assert len(commands) >= 15
    assert any(c.startswith("workbench worker SWEEP --database-url") for c in commands)
    assert ["sweep", "stop", "1"] in concrete("workbench sweep ls|show ID [--json]|stop ID")
    assert ["runs", "export", "--format", "json"] in concrete(
        "workbench runs export --format csv|json"
    )


@pytest.mark.parametrize("synopsis", readme_commands())
def test_every_readme_command_parses_as_written(capsys, synopsis: str) -> None:
    for argv in concrete(synopsis):
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{argv}: {capsys.readouterr().err.strip().splitlines()[-1]}")


def test_global_options_work_before_and_after_the_command() -> None:
    parse = build_parser().parse_args
    url = "postgresql+psycopg://u@h/db"
    assert parse(["worker", "3", "--database-url", url]).database_url == url
    assert parse(["--database-url", url, "worker", "3"]).database_url == url
    assert parse(["--workspace", "a", "data", "ls"]).workspace == "a"  # not reset by the verb
    assert parse(["data", "ls", "--workspace", "b"]).workspace == "b"
    assert parse(["--workspace", "a", "data", "ls", "--workspace", "b"]).workspace == "b"
    assert parse(["data", "ls"]).workspace is None


def test_a_workspace_given_after_the_command_is_used(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "after"
    code = main(["data", "add", str(write_csv(tmp_path / "a.csv", 3)), "--workspace", str(ws)])
    assert code == 0 and (ws / "workbench.db").is_file()
    capsys.readouterr()
    assert main(["data", "ls", "--json", "--workspace", str(ws)]) == 0
    assert [d["name"] for d in json.loads(capsys.readouterr().out)] == ["a"]


# -- hostile text in users' files -------------------------------------------------------------

HOSTILE_COLUMN = "\x1b[31mred[bold]col"
HOSTILE_VALUE = "\x1b[2Jwiped[bold]x[/bold][link=http://example.com]click[/link]"


def test_escape_sequences_and_markup_in_data_are_shown_not_obeyed(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    csv = tmp_path / "hostile.csv"
    csv.write_text(f"id,{HOSTILE_COLUMN}\n1,{HOSTILE_VALUE}\n2,plain\n")
    code, _, err = run(capsys, ws, "data", "add", str(csv), "--target", HOSTILE_COLUMN)
    assert code == 0, err
    for args in (("data", "rows", "hostile"), ("data", "show", "hostile"), ("data", "ls")):
        code, out, err = run(capsys, ws, *args)
        assert code == 0, err
        assert "\x1b" not in out, args
        assert "\\x1b[31mred[bold]col" in out, args  # visible, and the markup kept literally
    _, out, _ = run(capsys, ws, "data", "rows", "hostile")
    assert "\\x1b[2Jwiped[bold]x[/bold][link=http://example.com]click[/link]" in out
    code, _, err = run(capsys, ws, "data", "add", str(csv), "--name", "h2", "--target", "\x1bx")
    assert code == 1 and "\x1b" not in err and "\\x1bx" in err  # error lines too


def test_escapes_stay_inert_on_a_colour_terminal(tmp_path: Path) -> None:
    """With colours forced on, Rich emits its own SGR codes; the file's must still not pass."""
    ws = tmp_path / "ws"
    csv = tmp_path / "hostile.csv"
    csv.write_text(f"id,{HOSTILE_COLUMN}\n1,{HOSTILE_VALUE}\n")
    env = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    base = [script(), "--workspace", str(ws), "data"]
    subprocess.run([*base, "add", str(csv)], env=env, check=True, capture_output=True)
    shown = subprocess.run([*base, "rows", "hostile"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "\x1b[1m" in shown.stdout  # the table header really is styled: colours are on
    assert "\x1b[31m" not in shown.stdout and "\x1b[2J" not in shown.stdout
    assert "\x1b]8;" not in shown.stdout  # no hyperlink made from [link=…]
    assert "[bold]x[/bold]" in shown.stdout


# -- a workspace written by a newer Workbench ----------------------------------------------------


def test_a_database_from_a_newer_workbench_asks_to_upgrade_workbench(
    capsys, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert run(capsys, ws, "data", "ls")[0] == 0
    with sqlite3.connect(ws / "workbench.db") as db:
        db.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0099'")
    for args in (("data", "ls"), ("db", "upgrade"), ("runs", "ls")):
        code, out, err = run(capsys, ws, *args)
        assert code == 1 and out == "" and err.count("\n") == 1, (args, err)
        assert f"this Workbench (0.1.0, schema {HEAD_REVISION}) is older than the workspace" in err
        assert "at schema 0099" in err and "upgrade Workbench" in err
        assert "db upgrade" not in err
    with sqlite3.connect(ws / "workbench.db") as db:
        assert db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [("0099",)]


def test_an_unknown_revision_through_the_installed_script(tmp_path: Path) -> None:
    """The real process: one line on stderr, no Alembic traceback, a nonzero status."""
    ws = tmp_path / "ws"
    subprocess.run([script(), "--workspace", str(ws), "data", "ls"], check=True)
    with sqlite3.connect(ws / "workbench.db") as db:
        db.execute(f"UPDATE {VERSION_TABLE} SET version_num = 'ffffffffffff'")
    done = subprocess.run(
        [script(), "--workspace", str(ws), "db", "upgrade"], capture_output=True, text=True
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and "upgrade Workbench" in done.stderr


# -- file modes -------------------------------------------------------------------------------


def modes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)) or ".": oct(stat.S_IMODE(p.stat().st_mode))
        for p in [root, *root.rglob("*")]
    }


def test_a_new_workspace_is_private_to_its_owner_under_umask_022(
    tmp_path: Path, samples_dir: Path
) -> None:
    ws = tmp_path / "ws"
    added = subprocess.run(
        [script(), "--workspace", str(ws), "data", "add", str(samples_dir / "wine.csv")],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert added.returncode == 0, added.stderr
    found = modes(ws)
    assert "workbench.db" in found and any(p.startswith("datasets/") for p in found)
    assert {p: m for p, m in found.items() if (ws / p).is_dir() and m != "0o700"} == {}
    assert {p: m for p, m in found.items() if (ws / p).is_file() and m != "0o600"} == {}


def test_the_database_journal_files_are_private_too(tmp_path: Path) -> None:
    """WAL and SHM exist only while the database is open: look from inside a process."""
    ws = tmp_path / "ws"
    probe = (
        "import json, os, stat, sys\n"
        "from pathlib import Path\n"
        "from storage.handle import open_workspace\n"
        "ws = open_workspace(Path(sys.argv[1]))\n"
        "with ws.db.engine.connect() as c:\n"
        "    c.exec_driver_sql('CREATE TABLE probe (x)')\n"
        "    c.exec_driver_sql('INSERT INTO probe VALUES (1)')\n"
        "    c.commit()\n"
        "    print(json.dumps({p.name: oct(stat.S_IMODE(p.stat().st_mode))\n"
        "                      for p in ws.root.glob('workbench.db*')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(ws)],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0o022),
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "workbench.db": "0o600",
        "workbench.db-wal": "0o600",
        "workbench.db-shm": "0o600",
    }


def test_add_warnings_naming_hostile_columns_are_inert(capsys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first, second = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_text("id,x\n1,2\n2,3\n")
    second.write_text(f"id,x,{HOSTILE_COLUMN}\n1,2,a\n2,3,b\n")
    assert run(capsys, ws, "data", "add", str(first), "--name", "h")[0] == 0
    code, out, err = run(capsys, ws, "data", "add", str(second), "--name", "h")
    assert code == 0, err
    assert "warn:" in out and "\\x1b[31m" in out
    assert "\x1b" not in out + err


def test_first_commands_racing_on_a_new_workspace_all_succeed(tmp_path: Path) -> None:
    ws = tmp_path / "fresh"
    commands = [[script(), "--workspace", str(ws), "data", "ls", "--json"] for _ in range(6)]
    running = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in running]
    assert [code for code, _ in results] == [0] * 6, results
