"""Layering as DESIGN.md draws it: workbench -> screens -> pipelines -> storage, with
pipelines/serving standing alone because it is copied into images.

The packages are discovered from the tree (every folder with an `__init__.py`), so a new
package cannot slip past these checks: it must be given a layer or named as outside them.
Checked three ways: no module imports a layer above its own or a library its layer must not
touch (imports inside functions count: screens loaded lazily are screens too); no import
circle among our modules; and fresh interpreters loading the core do not load Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["workbench", "screens", "pipelines", "storage"]  # top to bottom
OUTSIDE_LAYERS = {"assets", "tests", "benchmarks", "scripts"}
FORBIDDEN = {
    "pipelines": {"textual"},
    "storage": {"textual", "docker", "optuna", "sklearn", "lightgbm", "evidently"},
    "screens": {"sqlalchemy"},
}
SERVING = "pipelines.serving"
SERVING_MAY_IMPORT = {"numpy", "pandas", "sklearn", "scipy", "lightgbm", "joblib", "pyarrow"}
SERVING_MAY_IMPORT |= {"fastapi", "starlette", "uvicorn", "pydantic", "anyio", "httpx"}
HEAVY = ["sklearn", "optuna", "evidently", "docker", "lightgbm", "pandas", "sqlalchemy", "duckdb"]
MAX_LINES = 600


def top_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(layer: str) -> list[Path]:
    return sorted(p for p in (ROOT / layer).rglob("*.py") if "migrations" not in p.parts)


def runtime_imports(path: Path) -> set[str]:
    """Dotted names imported anywhere in the module, except under `if TYPE_CHECKING:`;
    `from a import b` yields both `a` and `a.b` (b may be a module)."""
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
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_package_has_a_layer() -> None:
    assert top_packages() - OUTSIDE_LAYERS == set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_a_layer_above_or_a_forbidden_library(layer: str) -> None:
    above = set(LAYERS[: LAYERS.index(layer)])
    problems = []
    for path in modules(layer):
        roots = {name.split(".")[0] for name in runtime_imports(path)}
        bad = roots & (above | FORBIDDEN.get(layer, set()))
        problems += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(bad)]
    assert problems == []


def test_serving_imports_nothing_else_of_workbench() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    problems = []
    for path in (ROOT / "pipelines" / "serving").rglob("*.py"):
        for name in runtime_imports(path):
            ours = name in ("pipelines", SERVING) or name.startswith(SERVING + ".")
            if not ours and name.split(".")[0] not in stdlib | SERVING_MAY_IMPORT:
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []
    assert (ROOT / "pipelines" / "__init__.py").read_text(encoding="utf-8").strip() == ""


def import_graph() -> dict[str, set[str]]:
    """Our modules and the modules of ours each one imports (anywhere in it)."""
    paths = {module_name(p): p for layer in LAYERS for p in modules(layer)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = {n for n in runtime_imports(path) if n in paths and n != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    assert circles(import_graph()) == []


def screen_classes(path: Path) -> list[str]:
    """Full screens (not modal dialogs) a module defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).split(".")[-1].startswith("Screen") for base in node.bases)
    ]


def test_screens_do_not_import_each_other() -> None:
    """Navigation goes through the App, shared helpers live outside the screen modules:
    a module defining a screen never imports another one that does."""
    screen_modules = {module_name(p) for p in modules("screens") if screen_classes(p)}
    graph = import_graph()
    problems = [
        f"{name} imports {target}"
        for name in sorted(screen_modules)
        for target in sorted(graph[name] & screen_modules)
    ]
    assert problems == []


def test_workers_hand_back_messages_not_call_from_thread() -> None:
    """Issue 9 §4: a thread worker posts a message (thread-safe, dropped once its screen is
    closed) and returns; `call_from_thread` blocks it on the UI and outlives the screen."""
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for layer in ("screens", "workbench")
        for path in modules(layer)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "call_from_thread" in line
    ]
    assert found == []


def run_fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_the_headless_core_never_loads_textual() -> None:
    names = [module_name(p) for layer in ("pipelines", "storage") for p in modules(layer)]
    code = f"import importlib, sys; [importlib.import_module(n) for n in {names!r}]; "
    assert run_fresh(code + "print('textual' in sys.modules)") == "False"


def test_startup_imports_nothing_heavy() -> None:
    code = (
        "import sys; import workbench.app, workbench.cli; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert run_fresh(code) == "[]"


@pytest.mark.parametrize("layer", LAYERS)
def test_modules_stay_small(layer: str) -> None:
    assert [p.name for p in modules(layer) if p.read_text().count("\n") > MAX_LINES] == []


CLI_MAY_USE_STORAGE = {"storage.errors", "storage.handle", "storage.workspace", "storage.records"}
CLI_MAY_USE_STORAGE |= {"storage.scratch"}  # signal handling, no data


def storage_modules_used(path: Path) -> set[str]:
    """The storage modules a module imports (type-only ones too), and `storage.db` for any
    use of a workspace's database (`ws.db`)."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            used.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            used.add(node.module)
            used.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute) and node.attr == "db":
            used.add("storage.db")
    return {".".join(n.split(".")[:2]) for n in used if n.startswith("storage.")}


def test_the_cli_calls_pipelines_not_repositories(tmp_path: Path) -> None:
    """The CLI goes through pipelines/, so it and the TUI run the same functions; from
    storage/ it takes only the handle, errors, paths and record types."""
    clis = sorted((ROOT / "workbench").glob("cli*.py"))
    assert len(clis) >= 4
    problems = [
        f"{path.name} uses {name}"
        for path in clis
        for name in sorted(storage_modules_used(path) - CLI_MAY_USE_STORAGE)
    ]
    assert problems == []
    breach = tmp_path / "cli_breach.py"  # the check sees each way of reaching storage
    breach.write_text(
        "from storage import sweeps as repo\nimport storage.datasets\n"
        "def f(ws):\n    from storage.database import Database\n    return ws.db\n"
    )
    assert storage_modules_used(breach) == {
        "storage.sweeps", "storage.datasets", "storage.database", "storage.db"
    }  # fmt: skip
