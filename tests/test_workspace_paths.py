"""The Workspace handle owns every folder of a workspace and its artifact store: the folders
exist and are private once it is open, and no module spells a workspace path by hand (a
source scan, checked against snippets it must catch so that it cannot pass by missing them)."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

import pytest

from storage.artifacts import ArtifactError, ArtifactStore
from storage.handle import open_workspace
from storage.workspace import WorkspacePaths

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("pipelines", "screens", "workbench", "storage", "benchmarks")
OWNERS = {"storage/workspace.py"}  # where the names are spelled
STORE_MAKERS = {"storage/handle.py"}  # where the one ArtifactStore is made


def workspace_names() -> set[str]:
    """Every folder and file name the handle gives out, read from WorkspacePaths itself, so
    a folder added there is checked here too."""
    paths = WorkspacePaths(Path("/w"))
    named = {
        getattr(paths, name)
        for name, value in vars(WorkspacePaths).items()
        if isinstance(value, property)
    }
    return {p.name for p in named if p != paths.root}


def hand_spelled(source: str, layer: str, names: set[str]) -> list[str]:
    """`x.root / ...` and `x.artifacts / ...` outside storage/ (artifacts/ is the store's
    alone: content-addressed), `... / "cache"` (any name the handle owns) and
    `ArtifactStore(...)`: the ways a module can bypass the handle."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = node.left, node.right
            by_root = isinstance(left, ast.Attribute) and left.attr in ("root", "artifacts")
            by_name = isinstance(right, ast.Constant) and str(right.value).split("/")[0] in names
            if (by_root and layer != "storage") or by_name:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("ArtifactStore"):
            found.append(ast.unparse(node))
    return found


def test_the_scan_catches_every_way_of_spelling_a_workspace_path() -> None:
    names = workspace_names()
    assert {"artifacts", "datasets", "reports", "builds", "cache", "logs", "optuna"} <= names
    assert {"sweeps", "workbench.db", "settings.toml"} <= names
    bad = [
        'ws.root / "cache"',
        'ws.paths.root / "cache" / "x.parquet"',
        'self.workspace.root / "sweeps"',
        'ws.root / kind.removeprefix("journal:")',
        'Path(somewhere) / "logs"',
        'folder / "optuna/journal.log"',
        'ws.paths.artifacts / "insight" / f"permutation-{digest}.json"',
        "ArtifactStore(ws.paths.artifacts)",
        "storage.artifacts.ArtifactStore(root)",
    ]
    for snippet in bad:
        assert hand_spelled(snippet, "pipelines", names), snippet
    good = [
        'ws.paths.cache / f"{sha}.parquet"',
        "ws.paths.resolve(version.stored_path)",
        'ws.paths.logs / "sweep-1-worker-0.log"',
        "ws.artifacts.get_bytes(sha)",
        'folder / "journal.log"',
        "shutil.disk_usage(ws.root)",
    ]
    assert [s for s in good if hand_spelled(s, "pipelines", names)] == []


def test_no_module_spells_a_workspace_path_by_hand() -> None:
    names = workspace_names()
    problems = []
    scanned = 0
    for layer in SCANNED:
        for path in sorted((ROOT / layer).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in OWNERS or "migrations" in path.parts:
                continue
            scanned += 1
            for spelled in hand_spelled(path.read_text(encoding="utf-8"), layer, names):
                if relative in STORE_MAKERS and spelled.startswith("ArtifactStore("):
                    continue
                problems.append(f"{relative}: {spelled}")
    assert scanned > 50  # the tree was really read
    assert problems == []


def test_opening_a_workspace_makes_every_folder_private(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = open_workspace(root)
    try:
        folders = ws.paths.folders()
        properties = {
            getattr(ws.paths, name)
            for name, value in vars(WorkspacePaths).items()
            if isinstance(value, property)
        }
        # every folder-valued name is created: only the two files are not folders
        assert properties - set(folders) == {ws.paths.database_file, ws.paths.settings_file}
        assert len(folders) == len(set(folders)) == 9
        for folder in folders:
            assert folder.is_dir(), folder
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert ws.paths.resolve("datasets/x.parquet") == ws.paths.datasets / "x.parquet"
        assert ws.paths.relative(ws.paths.optuna / "journal.log") == "optuna/journal.log"
    finally:
        ws.close()


def test_the_workspace_has_one_artifact_store_that_verifies_what_it_reads(
    tmp_path: Path,
) -> None:
    ws = open_workspace(tmp_path / "ws")
    try:
        store = ws.artifacts
        assert isinstance(store, ArtifactStore) and store is ws.artifacts
        assert store.root == ws.paths.artifacts
        sha = store.put_bytes(b"model bytes")
        assert ws.artifacts.get_bytes(sha) == b"model bytes"
        store.path_for(sha).write_bytes(b"other bytes")
        with pytest.raises(ArtifactError, match="damaged or was replaced"):
            ws.artifacts.get_bytes(sha)
    finally:
        ws.close()
