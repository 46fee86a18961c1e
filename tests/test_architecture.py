"""Layering as DESIGN.md draws it: workbench -> screens -> pipelines -> storage.

Checked two ways: a fresh interpreter importing the headless core must not load Textual,
and no module imports a layer above its own (or a library its layer must not touch)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["workbench", "screens", "pipelines", "storage"]
FORBIDDEN = {
    "pipelines": {"textual"},
    "storage": {"textual", "docker", "optuna", "sklearn", "lightgbm", "evidently"},
    "screens": {"sqlalchemy"},
}
HEAVY = ["sklearn", "optuna", "evidently", "docker", "lightgbm", "pandas", "sqlalchemy", "duckdb"]


def modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def runtime_imports(path: Path) -> set[str]:
    """Top-level names imported anywhere in the module, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_a_layer_above_or_a_forbidden_library(layer: str) -> None:
    above = set(LAYERS[: LAYERS.index(layer)])
    problems = []
    for path in modules(layer):
        bad = runtime_imports(path) & (above | FORBIDDEN.get(layer, set()))
        problems += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(bad)]
    assert problems == []


def run_fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_the_headless_core_never_loads_textual() -> None:
    names = [
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        for layer in ("pipelines", "storage")
        for p in modules(layer)
        if "migrations" not in p.parts  # Alembic scripts run only inside a migration
    ]
    code = f"import importlib, sys; [importlib.import_module(n) for n in {names!r}]; "
    assert run_fresh(code + "print('textual' in sys.modules)") == "False"


def test_screens_never_load_sqlalchemy_and_startup_imports_nothing_heavy() -> None:
    code = (
        "import sys; import workbench.app, workbench.cli; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert run_fresh(code) == "[]"


@pytest.mark.parametrize("layer", LAYERS)
def test_modules_stay_small(layer: str) -> None:
    assert [p.name for p in modules(layer) if p.read_text().count("\n") > 600] == []
