"""What `workbench` with no command loads before its first frame, and the datasets glance
that frame is drawn from. Structure only: how long it takes is benchmarks/startup.py's."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

from pipelines.datasets.versions import list_datasets
from storage.first_look import DatasetGlance, glance_workspace
from storage.handle import open_workspace
from storage.schema_version import HEAD_REVISION, VERSION_TABLE
from tests.app_helpers import build_demo_workspace, settle
from workbench.app import WorkbenchApp
from workbench.cli import build_parser, parse_args

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "pyarrow", "duckdb", "sklearn", "scipy")
HEAVY += ("optuna", "docker", "evidently", "httpx", "lightgbm")

FIRST_FRAME_PROBE = """
import sys
from pathlib import Path

from workbench import cli

args = cli.parse_args(["--workspace", sys.argv[1]])
assert args.command is None
from workbench.app import WorkbenchApp

HEAVY = {heavy!r}


def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)


class Probe(WorkbenchApp):
    def on_mount(self):
        # Registered before the App's own: it runs ahead of the worker opening the workspace.
        self.call_after_refresh(self.first_frame)
        super().on_mount()

    def first_frame(self):
        print("first frame:", loaded(), len(self.screen.query("DataTable")))
        print("cli modules:", sorted(m for m in sys.modules if m.startswith("workbench.cli_")))
        self.exit()


print("before the App:", loaded())
Probe(Path(args.workspace)).run(headless=True, size=(140, 40))
"""


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("startup")
    return build_demo_workspace(base / "ws", base / "data")


def test_no_command_draws_its_first_frame_without_heavy_imports(demo_root: Path) -> None:
    """A fresh interpreter on the path `workbench` takes: no command's parser built, no
    database library (or any heavy one) loaded on the main thread before the first frame."""
    done = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME_PROBE.format(heavy=HEAVY), str(demo_root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "before the App: []" in lines
    assert "first frame: [] 2" in lines  # the datasets screen, with its two tables, drawn
    assert "cli modules: []" in lines


def test_building_every_commands_parser_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom workbench.cli import build_parser\nbuild_parser()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--workspace", "w"],
        ["--workspace=w"],
        ["--database-url", "sqlite:///x.db", "--workspace", "w"],
        ["--workspace", "a", "--workspace", "b"],
    ],
)
def test_the_tuis_short_parse_gives_what_the_full_parser_gives(argv: list[str]) -> None:
    assert vars(parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["--workspace"], ["--bogus"], ["--workspace", "-x"]])
def test_anything_else_meets_the_full_parsers_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        parse_args(argv)
    assert raised.value.code == 2
    assert "usage: workbench" in capsys.readouterr().err


def test_the_glance_shows_what_the_listing_shows(demo_root: Path) -> None:
    ws = open_workspace(demo_root)
    try:
        listed = [
            DatasetGlance(
                s.name,
                s.latest.validation.status if s.latest else None,
                s.latest.row_count if s.latest else None,
                s.version_count,
            )
            for s in list_datasets(ws)
        ]
    finally:
        ws.close()
    glanced = glance_workspace(demo_root)
    assert glanced == listed
    assert {g.name for g in listed} >= {"breast_cancer", "churn", "diabetes", "wine"}


def test_the_glance_of_an_empty_workspace_is_empty(tmp_path: Path) -> None:
    open_workspace(tmp_path / "ws").close()
    assert glance_workspace(tmp_path / "ws") == []


def test_the_glance_reads_only_its_own_sqlite_file_at_this_schema(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert glance_workspace(root) is None  # no workspace yet: nothing is created either
    assert not root.exists()
    open_workspace(root).close()
    assert glance_workspace(root, database_url=f"sqlite:///{tmp_path / 'other.db'}") is None
    with sqlite3.connect(root / "workbench.db") as db:
        db.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0001'")
    assert glance_workspace(root) is None  # an older schema: the open says to upgrade
    with sqlite3.connect(root / "workbench.db") as db:
        db.execute(f"UPDATE {VERSION_TABLE} SET version_num = ?", (HEAD_REVISION,))
    assert glance_workspace(root) == []


async def test_the_datasets_table_is_drawn_from_the_glance_then_the_listing(
    demo_root: Path,
) -> None:
    glanced_rows: list[list[object]] = []
    open_when_glanced: list[bool] = []

    class Probe(WorkbenchApp):
        def __init__(self, root: Path) -> None:
            super().__init__(root)
            screen = self.datasets_screen
            show_glance = screen.show_glance

            def recorded(glances: list[DatasetGlance]) -> None:  # the real one, then a look
                show_glance(glances)
                table = screen.query_one("#datasets-table", DataTable)
                glanced_rows.extend(table.get_row_at(i) for i in range(table.row_count))
                open_when_glanced.append(self.workspace is not None)

            screen.show_glance = recorded  # type: ignore[method-assign]

    app = Probe(demo_root)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.workspace is not None
        table = app.datasets_screen.query_one("#datasets-table", DataTable)
        listed_rows = [table.get_row_at(i) for i in range(table.row_count)]
        versions = app.datasets_screen.query_one("#versions-table", DataTable)
        assert versions.row_count >= 1  # the listing selected a dataset and loaded its versions
    assert open_when_glanced == [False]  # drawn once, before the workspace was open
    assert [list(map(str, r)) for r in glanced_rows] == [list(map(str, r)) for r in listed_rows]
    assert len(glanced_rows) >= 4


def test_the_schema_constants_name_the_tables_storage_makes() -> None:
    from storage.models import TABLE_PREFIX

    assert f"{TABLE_PREFIX}alembic_version" == VERSION_TABLE
