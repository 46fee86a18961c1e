"""The model a server answers with: the verified bundle, plus what `/metadata` tells about it
(name, version, metrics, lineage) and the request schema its OpenAPI document shows.

A bundle folder may carry a `metadata.json` beside the manifest, written by whoever built the
bundle (the registry: name, version, metrics, lineage). It is descriptive only, never
trusted for prediction; without it the manifest's own facts stand in (the run, the sweep,
the dataset) and the version is the model's sha256 prefix."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.serving.bundle import BundleError, BundleManifest, read_bundle
from pipelines.serving.schema import CATEGORICAL, LARGEST, NUMERIC, TIME, InputSchema

METADATA_FILE = "metadata.json"
LARGEST_ID = 2**53 - 1  # ids past this are refused (a float keeps every integer up to it)
LINEAGE_KEYS = ("run_id", "sweep_id", "dataset", "dataset_sha", "seed", "family", "target")


@dataclass(frozen=True)
class ServedModel:
    manifest: BundleManifest
    model: Any
    name: str
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What `/metadata` answers."""
        extra = self.manifest.extra
        lineage = self.metadata.get("lineage") or {k: extra[k] for k in LINEAGE_KEYS if k in extra}
        return {
            "name": self.name,
            "version": self.version,
            "task": self.manifest.task,
            "classes": self.manifest.classes,
            "target": extra.get("target"),
            "schema": self.manifest.schema.to_dict(),
            "metrics": self.metadata.get("metrics") or extra.get("metrics") or {},
            "lineage": lineage,
            "sha256": self.manifest.sha256,
            "libraries": self.manifest.libraries,
            "created_at": self.manifest.created_at,
            "description": self.metadata.get("description"),
            "aliases": self.metadata.get("aliases") or [],
        }


def load_served(folder: Path) -> ServedModel:
    """The bundle in `folder`, hash-verified, with its optional metadata; BundleError (one
    line naming the file) when either cannot be used."""
    folder = Path(folder)
    manifest, model = read_bundle(folder)
    metadata = read_metadata(folder)
    extra = manifest.extra
    run_id = extra.get("run_id")
    name = metadata.get("name") or extra.get("name") or (f"run-{run_id}" if run_id else None)
    version = metadata.get("version") or extra.get("version") or manifest.sha256[:12]
    return ServedModel(manifest, model, str(name or folder.name), str(version), metadata)


def read_metadata(folder: Path) -> dict[str, Any]:
    path = Path(folder) / METADATA_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path}: not a JSON object")
    return data


def write_metadata(folder: Path, metadata: dict[str, Any]) -> Path:
    """`folder/metadata.json` (name, version, metrics, lineage, …), for bundle builders."""
    path = Path(folder) / METADATA_FILE
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str), "utf-8")
    return path


def record_schema(schema: InputSchema) -> dict[str, Any]:
    """One record as JSON Schema: every feature required (a missing value is sent as null
    and imputed), extra properties allowed (they are ignored and logged as unseen)."""
    kinds: dict[str, dict[str, Any]] = {
        NUMERIC: {"type": ["number", "null"], "minimum": -LARGEST, "maximum": LARGEST},
        TIME: {"type": ["string", "null"], "format": "date-time"},
        CATEGORICAL: {"type": ["string", "number", "boolean", "null"]},
    }
    properties = {}
    for column in schema.columns:
        spec = dict(kinds.get(column.kind, {}))
        if column.categories:
            spec["examples"] = list(column.categories[:5])
        properties[column.name] = spec
    return {
        "type": "object",
        "properties": properties,
        "required": schema.names,
        "additionalProperties": True,
    }


def predict_body_schema(schema: InputSchema) -> dict[str, Any]:
    record = record_schema(schema)
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [record, {"type": "array", "items": record, "minItems": 1}],
                }
            }
        },
    }


def feedback_body_schema(manifest: BundleManifest) -> dict[str, Any]:
    """The body of /feedback: a logged request's id and its true label (one per record: a
    value, or a list for a request of several records). A classifier's label is one of its
    classes (or the class as text, as a CSV would carry it); a regressor's a number."""
    if manifest.classes is not None:
        values = list(manifest.classes) + [str(c) for c in manifest.classes]
        label: dict[str, Any] = {"enum": list(dict.fromkeys(values))}
    else:
        label = {"type": "number", "minimum": -LARGEST, "maximum": LARGEST}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "request_id": {"type": "integer", "minimum": 1, "maximum": LARGEST_ID},
                        "label": {
                            "description": "the true label; a list, one per record",
                            "anyOf": [label, {"type": "array", "items": label, "minItems": 1}],
                        },
                    },
                    "required": ["request_id", "label"],
                }
            }
        },
    }
