"""A model bundle: the fitted pipeline's bytes and a manifest that says what they are.

The manifest records the bytes' sha256, the task, the classes, the input schema and the
library versions that trained the model (an image pins exactly those). Loading refuses
bytes whose hash differs from the one asked for, in one line naming the file, so a
registry's promise of a hash-verified version holds wherever the bundle travels.

Bundles are pickles (protocol 5) whose only references are scikit-learn, LightGBM, numpy,
pandas and `pipelines.serving`. Models stored before this package existed referenced
`pipelines.preprocessing` and were written by joblib; `LEGACY_MODULES` maps their module
paths on load, and joblib's unpickler (scikit-learn's own dependency) reads their arrays."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import platform
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pipelines.serving.schema import InputSchema

FORMAT = "workbench-model-bundle/1"
MODEL_FILE, MANIFEST_FILE = "model.pkl", "manifest.json"
SERVING_LIBRARIES = ("scikit-learn", "lightgbm", "numpy", "pandas", "scipy")
LEGACY_MODULES = {"pipelines.preprocessing": "pipelines.serving.converters"}
_ALIAS_LOCK = threading.Lock()


class BundleError(ValueError):
    """A bundle that cannot be used: bytes that do not match their hash, or a bad manifest."""


@dataclass(frozen=True)
class BundleManifest:
    sha256: str
    task: str  # classification | regression
    schema: InputSchema
    classes: list[Any] | None = None
    libraries: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # family, metric, run id, …

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "sha256": self.sha256,
            "task": self.task,
            "classes": self.classes,
            "schema": self.schema.to_dict(),
            "libraries": dict(self.libraries),
            "created_at": self.created_at,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "manifest") -> BundleManifest:
        if data.get("format") != FORMAT:
            raise BundleError(f"{source}: not a {FORMAT} manifest (format {data.get('format')!r})")
        try:
            return cls(
                sha256=str(data["sha256"]),
                task=str(data["task"]),
                schema=InputSchema.from_dict(data["schema"]),
                classes=data.get("classes"),
                libraries={str(k): str(v) for k, v in (data.get("libraries") or {}).items()},
                created_at=str(data.get("created_at") or ""),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{source}: malformed manifest ({exc})") from None


def library_versions() -> dict[str, str]:
    """Python and the libraries a served model needs, as installed here."""
    versions = {"python": platform.python_version()}
    for name in SERVING_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def dump_model(model: Any) -> bytes:
    return pickle.dumps(model, protocol=5)


def make_manifest(
    model: Any, model_bytes: bytes, task: str, schema: InputSchema, **extra: Any
) -> BundleManifest:
    classes = getattr(model, "classes_", None) if task == "classification" else None
    return BundleManifest(
        sha256=hashlib.sha256(model_bytes).hexdigest(),
        task=task,
        schema=schema,
        classes=None if classes is None else [_plain(c) for c in classes],
        libraries=library_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        extra=extra,
    )


def load_model(model_bytes: bytes, sha256: str, source: str = "model") -> Any:
    """The model in `model_bytes`, only if they hash to `sha256`."""
    actual = hashlib.sha256(model_bytes).hexdigest()
    if actual != sha256:
        raise BundleError(
            f"{source}: sha256 {actual[:12]}… does not match the recorded {sha256[:12]}…; "
            "the model file was changed or damaged, refusing to load it"
        )
    return _unpickle(model_bytes)


def encode_manifest(manifest: BundleManifest) -> bytes:
    """The manifest as the JSON a bundle folder (or an artifact store) keeps."""
    text = json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=str)
    return text.encode("utf-8")


def decode_manifest(data: bytes, source: str = "manifest") -> BundleManifest:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{source}: cannot be read ({exc})") from None
    if not isinstance(parsed, Mapping):
        raise BundleError(f"{source}: not a {FORMAT} manifest (not a JSON object)")
    return BundleManifest.from_dict(parsed, source)


def write_bundle(folder: Path, model_bytes: bytes, manifest: BundleManifest) -> Path:
    """`folder/model.pkl` and `folder/manifest.json`, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / MODEL_FILE, model_bytes)
    _write_atomically(folder / MANIFEST_FILE, encode_manifest(manifest))
    return folder


def read_bundle(folder: Path) -> tuple[BundleManifest, Any]:
    """The manifest and the model of a bundle folder, the model verified against it."""
    manifest_path, model_path = folder / MANIFEST_FILE, folder / MODEL_FILE
    try:
        data = manifest_path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{manifest_path}: no such file") from None
    except OSError as exc:
        raise BundleError(f"{manifest_path}: cannot be read ({exc.strerror or exc})") from None
    manifest = decode_manifest(data, str(manifest_path))
    try:
        model_bytes = model_path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{model_path}: cannot be read ({exc.strerror or exc})") from None
    return manifest, load_model(model_bytes, manifest.sha256, str(model_path))


def _unpickle(model_bytes: bytes) -> Any:
    """joblib's loader (it reads plain pickles and joblib's own array records alike), with
    the legacy module paths aliased to where their functions live now."""
    import importlib
    import sys

    import joblib

    added = []
    with _ALIAS_LOCK:
        for old, new in LEGACY_MODULES.items():
            if old not in sys.modules:
                sys.modules[old] = importlib.import_module(new)
                added.append(old)
        try:
            return joblib.load(io.BytesIO(model_bytes))
        finally:
            for old in added:
                sys.modules.pop(old, None)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _plain(value: Any) -> Any:
    """numpy scalars as plain Python values, so the manifest is JSON."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
