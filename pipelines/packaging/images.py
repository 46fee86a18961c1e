"""Build a serving image for one model: write its context under the workspace's `builds/`,
build it through the engine, label it with what it serves.

The caller says which model (the registry resolves a version to its bytes, manifest and
metadata); this module only turns that into an image, so the CLI, the TUI and a supervised
build process share it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.packaging import engine
from pipelines.packaging.context import oci_labels, write_context
from pipelines.serving.bundle import BundleManifest

DEFAULT_BASE = "python:3.11-slim"
TAG_PART = re.compile(r"[^a-z0-9_.-]+")


def default_tag(name: str, version: int) -> str:
    """workbench/NAME:vVERSION, NAME lower-cased to what a Docker repository allows."""
    repository = TAG_PART.sub("-", name.lower()).strip("-.") or "model"
    return f"workbench/{repository}:v{version}"


@dataclass(frozen=True)
class ImageSource:
    """One model version, as an image serves it."""

    name: str
    version: int
    model_bytes: bytes
    manifest: BundleManifest
    metadata: Mapping[str, Any] = field(default_factory=dict)  # /metadata: metrics, lineage…

    def default_tag(self) -> str:
        return default_tag(self.name, self.version)

    def labels(self) -> dict[str, str]:
        extra = self.manifest.extra
        fields: dict[str, object] = {
            "model": self.name,
            "version": self.version,
            "run": extra.get("run_id"),
            "dataset": extra.get("dataset"),
            "dataset-sha256": extra.get("dataset_sha"),
            "model-sha256": self.manifest.sha256,
            "task": self.manifest.task,
        }
        metrics = self.metadata.get("metrics")
        if isinstance(metrics, Mapping):
            fields["metrics"] = json.dumps(metrics, sort_keys=True, default=str)
        labels = oci_labels(fields)
        labels["org.opencontainers.image.title"] = f"{self.name} v{self.version}"
        return labels


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    tag: str
    size_bytes: int
    context: Path


def build_serving_image(
    builds: Path,
    source: ImageSource,
    *,
    tag: str | None = None,
    base: str = DEFAULT_BASE,
    wheelhouse: Path | None = None,
    on_line: Callable[[str], None] = lambda line: None,
) -> BuiltImage:
    """Write the context in `builds/<name>-v<version>` and build it; EngineError or
    ContextError (one line) when it cannot be done."""
    client = engine.connect()
    try:
        tag = tag or source.default_tag()
        folder = builds / f"{TAG_PART.sub('-', source.name)}-v{source.version}"
        metadata = {"name": source.name, "version": source.version, **dict(source.metadata)}
        ctx = write_context(
            folder,
            source.model_bytes,
            source.manifest,
            json.dumps(metadata, indent=2, sort_keys=True, default=str).encode(),
            wheelhouse=wheelhouse,
        )
        engine.ensure_image(client, base)
        image_id = engine.build(
            client,
            str(ctx.folder),
            tag,
            buildargs={"BASE": base, "PIP_FLAGS": ctx.pip_flags()},
            labels=source.labels(),
            on_line=on_line,
        )
        info = engine.image_info(client, image_id)
        return BuiltImage(image_id, tag, info.size_bytes if info else 0, ctx.folder)
    finally:
        client.close()
