"""Registering a run's model, naming versions (`NAME`, `NAME:3`, `NAME@production`),
moving aliases, and loading a version only when its bytes are the ones registered: the work
behind `workbench model` and the Models screen.

Registration reads the run's bundle manifest and checks the model bytes against it before
anything is written; the version row (and its alias) is then one transaction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from pipelines.serving.bundle import BundleError, BundleManifest, decode_manifest, load_model
from storage import datasets as datasets_repo
from storage import registry as repo
from storage import sweeps as sweeps_repo
from storage.errors import NotFoundError, WorkbenchError
from storage.handle import Workspace
from storage.records import AliasMove, ModelVersionRecord, RegisteredModelRecord

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
REF_FORMS = "NAME, NAME:VERSION or NAME@ALIAS (e.g. churn, churn:3, churn@production)"


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: the newest version, a numbered one, or the one an alias names."""

    name: str
    version: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A registered version's record, its bundle manifest and the fitted pipeline."""

    record: ModelVersionRecord
    manifest: BundleManifest
    model: Any


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise WorkbenchError(
            f"{name!r} is not a valid model name: start with a letter or digit, then use "
            "letters, digits, '_', '-' or '.'"
        )
    return name


def check_alias(alias: str) -> str:
    if not ALIAS_PATTERN.match(alias):
        raise WorkbenchError(
            f"{alias!r} is not a valid alias: start with a letter, then use letters, digits, "
            "'_', '-' or '.' (e.g. production)"
        )
    return alias


def parse_ref(ref: str) -> ModelRef:
    """'churn' / 'churn:3' / 'churn@production', or a one-line error saying the forms."""
    name, sep, rest = ref, "", ""
    for mark in (":", "@"):
        if mark in ref:
            name, sep, rest = ref.partition(mark)
            break
    malformed = WorkbenchError(f"{ref!r} is not a model reference: write {REF_FORMS}")
    if not NAME_PATTERN.match(name) or (sep and not rest):
        raise malformed
    if sep == ":":
        digits = rest[1:] if rest[:1] in ("v", "V") else rest
        if not digits.isdigit() or int(digits) < 1:
            raise malformed
        return ModelRef(name, version=int(digits))
    if sep == "@":
        if not ALIAS_PATTERN.match(rest):
            raise malformed
        return ModelRef(name, alias=rest)
    return ModelRef(name)


def resolve(ws: Workspace, ref: str) -> ModelVersionRecord:
    """The model version `ref` names (a bare name: its newest version)."""
    parsed = parse_ref(ref)
    if parsed.alias is not None:
        return repo.get_alias(ws.db, parsed.name, parsed.alias)
    return repo.get_version(ws.db, parsed.name, parsed.version)


def register_model(
    ws: Workspace,
    run_id: int,
    name: str,
    alias: str | None = None,
    description: str | None = None,
) -> ModelVersionRecord:
    """Register the model a complete run keeps as the next version of `name`."""
    check_name(name)
    if alias is not None:
        check_alias(alias)
    run = sweeps_repo.get_run(ws.db, run_id)
    if run.status != "complete":
        raise WorkbenchError(
            f"run {run_id} is {run.status}, not complete: only a complete run's model can be "
            "registered"
        )
    if not run.artifact_sha:
        raise WorkbenchError(
            f"run {run_id} keeps no model (a sweep refits and keeps only its top trials, "
            "keep_top): register one of those"
        )
    if not run.manifest_sha:
        raise WorkbenchError(
            f"run {run_id} keeps a model stored before bundle manifests were, so its input "
            "schema is unknown: re-run the sweep to register it"
        )
    manifest = _verified_manifest(ws, run_id, run.artifact_sha, run.manifest_sha)
    sweep = sweeps_repo.get_sweep(ws.db, run.sweep_id)
    try:
        dataset_version = datasets_repo.get_version(ws.db, sweep.dataset_ref)
    except NotFoundError:
        dataset_version = None
    if dataset_version is None or dataset_version.sha256 != run.dataset_sha:
        raise WorkbenchError(
            f"run {run_id}: its dataset version {sweep.dataset_ref} is no longer in the "
            "workspace, so a model version could not be traced to its data; nothing registered"
        )
    git = run.environment.get("git") or {}
    metrics = dict(run.metrics)
    if run.value is not None:
        metrics.setdefault(sweep.metric, run.value)
    lineage = {
        "run": run.id,
        "trial": run.trial_number,
        "sweep": sweep.id,
        "sweep_name": sweep.name,
        "dataset": dataset_version.dataset_name,
        "dataset_version": dataset_version.ref,
        "dataset_sha256": dataset_version.sha256,
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "family": sweep.model,
        "task": sweep.task,
        "target": sweep.target,
        "metric": sweep.metric,
        "direction": sweep.direction,
        "seed": run.seed,
    }
    return repo.add_version(
        ws.db,
        name=name,
        run_id=run.id,
        dataset_version_id=dataset_version.id,
        bundle_sha256=run.artifact_sha,
        manifest_sha=run.manifest_sha,
        input_schema=manifest.schema.to_dict(),
        metrics=metrics,
        params=dict(run.params),
        lineage=lineage,
        description=description,
        alias=alias,
    )


def _verified_manifest(
    ws: Workspace, run_id: int, model_sha: str, manifest_sha: str
) -> BundleManifest:
    """The run's manifest, after checking it and the model bytes it names are intact."""
    store = ws.artifacts
    try:
        manifest = decode_manifest(store.get_bytes(manifest_sha), f"run {run_id} manifest")
    except BundleError as exc:
        raise WorkbenchError(str(exc)) from None
    if manifest.sha256 != model_sha:
        raise WorkbenchError(
            f"run {run_id}: its manifest names model {manifest.sha256[:12]}…, but the run "
            f"keeps {model_sha[:12]}…; nothing registered"
        )
    store.get_bytes(model_sha)  # refuses bytes that no longer hash to their name
    return manifest


def set_alias(ws: Workspace, name: str, version: int, alias: str) -> AliasMove:
    """Point `alias` at `name:version`, moving it from where it was, atomically."""
    return repo.set_alias(ws.db, name, version, check_alias(alias))


def remove_alias(ws: Workspace, name: str, alias: str) -> int:
    """Remove an alias; returns the version it pointed at."""
    return repo.remove_alias(ws.db, name, alias)


def list_models(ws: Workspace) -> list[RegisteredModelRecord]:
    return repo.list_models(ws.db)


def get_model(ws: Workspace, name: str) -> RegisteredModelRecord:
    return repo.get_model(ws.db, name)


def list_versions(ws: Workspace, name: str) -> list[ModelVersionRecord]:
    repo.get_model(ws.db, name)  # an unknown name is an error, not an empty list
    return repo.list_versions(ws.db, name)


def remove_version(ws: Workspace, ref: str) -> ModelVersionRecord:
    """Remove one numbered version (`NAME:3`); refused while an alias points at it."""
    parsed = parse_ref(ref)
    if parsed.version is None:
        raise WorkbenchError(f"{ref!r}: name the version to remove, as NAME:VERSION")
    return repo.delete_version(ws.db, parsed.name, parsed.version)


def describe_model_users(users: list[repo.ModelVersionUser], limit: int = 3) -> str:
    """'model version churn:1, churn:2' for the first few, then a count."""
    refs = [u.ref for u in users[:limit]]
    if len(users) > limit:
        refs.append(f"{len(users) - limit} more")
    return f"model version{'s' * (len(users) != 1)} {', '.join(refs)}"


def load_model_version(ws: Workspace, ref: str) -> LoadedModel:
    """The registered version's fitted pipeline, only if its bytes hash to the sha256 the
    registry recorded; anything else is refused in one line naming the file."""
    record = resolve(ws, ref)
    store = ws.artifacts
    path = store.path_for(record.bundle_sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WorkbenchError(f"{record.ref}: bundle {path} is missing from the workspace") from None
    except OSError as exc:
        raise WorkbenchError(
            f"{record.ref}: bundle {path} cannot be read ({exc.strerror or exc})"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != record.bundle_sha256:
        raise WorkbenchError(
            f"{record.ref}: bundle {path} hashes to {actual[:12]}…, not the registered "
            f"{record.bundle_sha256[:12]}…; the file was changed or damaged, refusing to load it"
        )
    try:
        manifest = decode_manifest(store.get_bytes(record.manifest_sha), f"{record.ref} manifest")
        if manifest.sha256 != record.bundle_sha256:
            raise BundleError(
                f"{record.ref}: manifest {store.path_for(record.manifest_sha)} names model "
                f"{manifest.sha256[:12]}…, not the registered {record.bundle_sha256[:12]}…"
            )
        model = load_model(data, record.bundle_sha256, f"{record.ref} bundle {path}")
    except BundleError as exc:
        raise WorkbenchError(str(exc)) from None
    return LoadedModel(record, manifest, model)
