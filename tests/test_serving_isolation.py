"""`pipelines/serving` travels into images alone: it must import nothing else of Workbench,
and a stored model must load from a copy of that folder and nothing more."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVING = ROOT / "pipelines" / "serving"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ALLOWED_TOP = {"numpy", "pandas", "sklearn", "lightgbm", "joblib", "scipy", "fastapi", "uvicorn"}
ALLOWED_TOP |= {"pyarrow", "starlette", "pydantic"}
FORBIDDEN = ("storage", "screens", "workbench", "textual", "sqlalchemy", "optuna", "duckdb")
FORBIDDEN += ("plotly", "alembic")  # rich: scikit-learn imports it itself, when installed


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_serving_imports_only_the_standard_library_and_model_libraries() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in SERVING.rglob("*.py"):
        for name in imported_names(path):
            top = name.split(".")[0]
            inside = name == "pipelines.serving" or name.startswith("pipelines.serving.")
            assert inside or top in stdlib | ALLOWED_TOP, f"{path.name} imports {name}"


def test_importing_serving_loads_nothing_else_of_workbench() -> None:
    code = (
        "import sys, json; import pipelines.serving, pipelines.serving.bundle, "
        "pipelines.serving.schema, pipelines.serving.converters; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    ours = [
        m for m in loaded if m.startswith("pipelines.") and not m.startswith("pipelines.serving")
    ]
    assert ours == []
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []
    assert (ROOT / "pipelines" / "__init__.py").read_text(encoding="utf-8").strip() == ""


def test_a_stored_model_loads_from_the_serving_folder_alone(tmp_path: Path) -> None:
    """As in an image: an empty `pipelines/__init__.py` and a copy of `pipelines/serving`."""
    image = tmp_path / "image"
    shutil.copytree(
        SERVING, image / "pipelines" / "serving", ignore=shutil.ignore_patterns("__pycache__")
    )
    (image / "pipelines" / "__init__.py").write_text("", encoding="utf-8")
    code = f"""
import hashlib, json, sys
sys.path.insert(0, {str(image)!r})
import pandas as pd
from pipelines.serving.bundle import load_model
data = open({str(FIXTURES / "legacy_model.joblib")!r}, "rb").read()
model = load_model(data, hashlib.sha256(data).hexdigest())
frame = pd.read_csv({str(FIXTURES / "legacy_model_inputs.csv")!r}, parse_dates=["signup"])
print(json.dumps({{"proba": model.predict_proba(frame).tolist(),
                  "from": sys.modules["pipelines"].__file__,
                  "ours": sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    answer = json.loads(result.stdout)
    assert answer["from"].startswith(str(image))
    assert answer["ours"] == []
    expected = json.loads((FIXTURES / "legacy_model_proba.json").read_text(encoding="utf-8"))
    for got, want in zip(answer["proba"], expected, strict=True):
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-9


def test_the_serve_extra_lists_what_serving_imports() -> None:
    """An image installs only the `serve` extra: every third-party library the serving code
    imports must be in it."""
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]["serve"]
    declared = {re.split(r"[<>=!~\[; ]", requirement)[0].lower() for requirement in extra}
    distribution = {"sklearn": "scikit-learn"}
    stdlib = set(sys.stdlib_module_names) | {"__future__", "pipelines"}
    for path in SERVING.rglob("*.py"):
        for name in imported_names(path):
            top = name.split(".")[0]
            if top not in stdlib:
                assert distribution.get(top, top) in declared, f"{path.name}: {top} not in serve"
