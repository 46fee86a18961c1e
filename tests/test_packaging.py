"""Serving images: the build context (pure files, no engine) and real builds on a real
Docker engine from a model a real sweep trained."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pipelines.packaging.context import ContextError, pinned_requirements, write_context
from pipelines.packaging.engine import EngineError, connect
from pipelines.packaging.images import ImageSource, build_serving_image
from pipelines.serving.bundle import BundleManifest
from tests.docker_helpers import BASE_IMAGE, TrainedModel, docker_client, trained_wine

__all__ = ["docker_client", "trained_wine"]  # fixtures


def wine_source(trained: TrainedModel, version: int = 1, **metadata: object) -> ImageSource:
    from pipelines.runs.details import get_run
    from pipelines.runs.models import load_run_bundle
    from storage.handle import open_workspace

    ws = open_workspace(trained.root)
    try:
        manifest, _ = load_run_bundle(ws, trained.run_id)
        model_bytes = ws.artifacts.get_bytes(get_run(ws, trained.run_id).artifact_sha or "")
    finally:
        ws.close()
    assert manifest is not None
    metadata = {"metrics": {"accuracy": 0.97}, **metadata}
    return ImageSource("wine", version, model_bytes, manifest, metadata)


def test_the_context_pins_the_training_libraries_and_carries_only_the_serving_code(
    trained_wine: TrainedModel, tmp_path: Path
) -> None:
    source = wine_source(trained_wine)
    ctx = write_context(tmp_path / "ctx", source.model_bytes, source.manifest, b"{}")
    requirements = (ctx.folder / "requirements.txt").read_text().split()
    pinned = dict(line.split("==") for line in requirements)
    for library in ("scikit-learn", "numpy", "pandas"):
        assert pinned[library] == source.manifest.libraries[library]
    assert {"fastapi", "uvicorn"} <= set(pinned)
    assert not {"textual", "optuna", "sqlalchemy", "workbench", "duckdb", "pyarrow"} & set(pinned)
    code = sorted(
        p.relative_to(ctx.folder / "app").as_posix() for p in (ctx.folder / "app").rglob("*.py")
    )
    assert code[0] == "pipelines/__init__.py"
    assert (ctx.folder / "app" / "pipelines" / "__init__.py").read_text() == ""
    assert all(path.startswith("pipelines/serving/") for path in code[1:])
    assert not list((ctx.folder / "app").rglob("__pycache__"))
    # The image's non-root user must read what the private workspace wrote.
    for path in ctx.folder.rglob("*"):
        assert path.stat().st_mode & stat.S_IROTH, path


def test_a_manifest_without_library_versions_and_an_empty_wheelhouse_are_refused(
    trained_wine: TrainedModel, tmp_path: Path
) -> None:
    source = wine_source(trained_wine)
    data = source.manifest.to_dict()
    data["libraries"] = {"python": "3.11.0"}
    bare = BundleManifest.from_dict(data)
    with pytest.raises(ContextError, match="no version of scikit-learn, numpy, pandas"):
        pinned_requirements(bare)
    (tmp_path / "wheels").mkdir()
    with pytest.raises(ContextError, match="no wheels in this folder"):
        write_context(
            tmp_path / "ctx",
            source.model_bytes,
            source.manifest,
            b"{}",
            wheelhouse=tmp_path / "wheels",
        )
    assert not (tmp_path / "ctx").exists()  # nothing half-written


def test_no_engine_is_said_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(EngineError) as caught:
        connect(timeout_s=2)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("no Docker engine answers")


@pytest.mark.docker
def test_a_built_image_serves_the_model_as_a_non_root_user_with_its_labels(
    docker_client, trained_wine: TrainedModel, tmp_path: Path
) -> None:
    source = wine_source(trained_wine)
    lines: list[str] = []
    built = build_serving_image(
        tmp_path / "builds",
        source,
        tag="workbench-test/wine:v1",
        base=BASE_IMAGE,
        on_line=lines.append,
    )
    try:
        assert any("Successfully built" in line for line in lines)
        image = docker_client.images.get(built.image_id)
        config = image.attrs["Config"]
        assert config["User"] == "serve"
        assert config["Healthcheck"]["Test"][0] == "CMD"
        labels = config["Labels"]
        assert labels["org.workbench.model"] == "wine"
        assert labels["org.workbench.version"] == "1"
        assert labels["org.workbench.model-sha256"] == source.manifest.sha256
        assert json.loads(labels["org.workbench.metrics"]) == {"accuracy": 0.97}
        probe = (
            "import os, sys, pipelines.serving.bundle as b; from pathlib import Path; "
            "m, model = b.read_bundle(Path('/model')); "
            "heavy = [k for k in sys.modules if k.split('.')[0] in "
            "('storage', 'screens', 'workbench', 'textual', 'sqlalchemy', 'optuna')]; "
            "print(os.getuid(), m.sha256, type(model).__name__, heavy)"
        )
        out = docker_client.containers.run(
            built.image_id, entrypoint=["python", "-c", probe], network_mode="none", remove=True
        )
        uid, sha, kind, heavy = out.decode().split(maxsplit=3)
        assert uid != "0" and sha == source.manifest.sha256 and kind == "Pipeline"
        assert heavy.strip() == "[]"
        assert built.size_bytes < 600 * 10**6, f"image is {built.size_bytes / 1e6:.0f} MB"

        # Only the model changed: every dependency layer comes from the cache.
        again: list[str] = []
        rebuilt = build_serving_image(
            tmp_path / "builds",
            wine_source(trained_wine, metrics={"accuracy": 0.5}),
            tag="workbench-test/wine:v1b",
            base=BASE_IMAGE,
            on_line=again.append,
        )
        docker_client.images.remove(rebuilt.image_id, force=True)
        steps = [i for i, line in enumerate(again) if line.startswith("Step ")]
        pip_step = next(i for i in steps if "pip install" in again[i])
        assert "Using cache" in again[pip_step + 1]
    finally:
        docker_client.images.remove(built.image_id, force=True)


@pytest.mark.docker
def test_a_failing_build_step_is_one_line(
    docker_client, trained_wine: TrainedModel, tmp_path: Path
) -> None:
    source = wine_source(trained_wine)
    data = source.manifest.to_dict()
    data["libraries"]["scikit-learn"] = "0.0.0.404"  # no such release: pip fails
    broken = ImageSource("wine", 2, source.model_bytes, BundleManifest.from_dict(data))
    with pytest.raises(EngineError) as caught:
        build_serving_image(
            tmp_path / "builds", broken, tag="workbench-test/broken:v2", base=BASE_IMAGE
        )
    message = str(caught.value)
    assert message.startswith("build of workbench-test/broken:v2 failed") and "\n" not in message
    assert "returned a non-zero code" in message
