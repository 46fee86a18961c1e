"""The build context of a serving image: a Dockerfile, the pinned requirements, the serving
code and the model bundle, in one folder under the workspace's `builds/`.

Requirements are pinned to the versions the model's manifest says trained it (scikit-learn,
LightGBM, numpy, pandas, SciPy), plus the web stack at the versions installed here. Nothing
else of Workbench goes in: the image imports `pipelines.serving` alone (its package is
copied file by file, so caches and tests stay out)."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from pipelines.serving.bundle import MANIFEST_FILE, BundleManifest, encode_manifest
from storage.errors import WorkbenchError

DOCKERFILE_TEMPLATE = "serve.Dockerfile"
# Besides the `serve` extra, pinned where the web stack's own dependencies could drift.
WEB_STACK = ("starlette", "pydantic-core", "h11", "anyio", "httptools")
MODEL_LIBRARIES = ("scikit-learn", "lightgbm", "numpy", "pandas", "scipy")
SERVE_EXTRA = re.compile(r"""^([A-Za-z0-9][A-Za-z0-9._-]*).*;.*extra\s*==\s*["']serve["']""")
METADATA_FILE = "metadata.json"


class ContextError(WorkbenchError):
    """A build context that cannot be written (a missing library version, a bad wheelhouse)."""


@dataclass(frozen=True)
class BuildContext:
    folder: Path
    requirements: dict[str, str]
    offline: bool

    @property
    def dockerfile(self) -> Path:
        return self.folder / "Dockerfile"

    def pip_flags(self) -> str:
        return "--no-index --find-links /tmp/wheels" if self.offline else ""


def serve_extra() -> list[str]:
    """The distributions `workbench[serve]` names: what `pipelines.serving` needs to run."""
    try:
        requires = metadata.requires("workbench") or []
    except metadata.PackageNotFoundError:
        raise ContextError("workbench is not installed as a package (pip install -e .)") from None
    return [m.group(1) for r in requires if (m := SERVE_EXTRA.match(r))]


def pinned_requirements(manifest: BundleManifest) -> dict[str, str]:
    """name -> exact version: the model's libraries as its manifest recorded them (the
    versions that trained it), everything else the serving code needs as installed here."""
    pins: dict[str, str] = {}
    for name in MODEL_LIBRARIES:
        version = manifest.libraries.get(name)
        if version:
            pins[name] = version
    missing = [n for n in ("scikit-learn", "numpy", "pandas") if n not in pins]
    if missing:
        raise ContextError(
            f"the model's manifest records no version of {', '.join(missing)}; "
            "it cannot be pinned (re-register the model from a run of this Workbench)"
        )
    for name in serve_extra():
        if name not in pins:
            try:
                pins[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                raise ContextError(
                    f"{name} is not installed here; install workbench[serve]"
                ) from None
    for name in WEB_STACK:
        try:
            pins.setdefault(name, metadata.version(name))
        except metadata.PackageNotFoundError:
            continue
    return pins


def write_context(
    folder: Path,
    model_bytes: bytes,
    manifest: BundleManifest,
    metadata_json: bytes,
    *,
    wheelhouse: Path | None = None,
) -> BuildContext:
    """Write (or rewrite) the context in `folder`; returns what the build needs to know."""
    pins = pinned_requirements(manifest)
    if wheelhouse is not None and not any(wheelhouse.glob("*.whl")):
        raise ContextError(f"{wheelhouse}: no wheels in this folder (make it with `pip download`)")
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "model").mkdir(parents=True)
    (folder / "Dockerfile").write_bytes(_template())
    lines = [f"{name}=={version}" for name, version in sorted(pins.items())]
    (folder / "requirements.txt").write_text("\n".join(lines) + "\n")
    _copy_serving_code(folder / "app")
    (folder / "model" / "model.pkl").write_bytes(model_bytes)
    (folder / "model" / MANIFEST_FILE).write_bytes(encode_manifest(manifest))
    (folder / "model" / METADATA_FILE).write_bytes(metadata_json)
    wheels = folder / "wheels"
    wheels.mkdir()
    if wheelhouse is not None:
        for wheel in sorted(wheelhouse.iterdir()):
            if wheel.is_file():
                shutil.copyfile(wheel, wheels / wheel.name)
    (folder / ".dockerignore").write_text("**/__pycache__\n")
    _make_readable(folder)
    return BuildContext(folder, pins, offline=wheelhouse is not None)


def context_digest(ctx: BuildContext) -> str:
    """A short hash of everything in the context, for naming and comparing builds."""
    digest = hashlib.sha256()
    for path in sorted(p for p in ctx.folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(ctx.folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def oci_labels(fields: Mapping[str, object]) -> dict[str, str]:
    """Image labels: the OCI ones plus ours under `org.workbench.` (values as text)."""
    labels = {"org.opencontainers.image.vendor": "workbench"}
    for key, value in fields.items():
        if value is not None:
            labels[f"org.workbench.{key}"] = str(value)
    return labels


def _make_readable(folder: Path) -> None:
    """Modes the image's non-root user can read: the workspace writes files private to
    their owner, and COPY keeps modes (root-owned 0600 files would be unreadable)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _template() -> bytes:
    return resources.files("assets.docker").joinpath(DOCKERFILE_TEMPLATE).read_bytes()


def _copy_serving_code(app: Path) -> None:
    """`pipelines/__init__.py` (empty, so importing it pulls nothing) and the serving package."""
    import pipelines.serving as serving

    source = Path(serving.__file__).parent
    target = app / "pipelines" / "serving"
    target.mkdir(parents=True)
    (app / "pipelines" / "__init__.py").write_text("")
    for module in sorted(source.rglob("*.py")):
        copy = target / module.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, copy)
