"""A kept run's model as a bundle: the fitted pipeline's bytes and its manifest, both in the
workspace's content-addressed artifact store, named on the run.

`run.artifact_sha` stays the model bytes' sha256 and `run.manifest_sha` names the manifest
(task, classes, input schema, library versions, family, metric, run, dataset). Every read
goes through `load_run_model`, which verifies the bytes against the manifest's hash, so a
registry, an image or a report gets exactly the model the sweep kept, or a one-line refusal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.serving.bundle import (
    BundleError,
    BundleManifest,
    decode_manifest,
    dump_model,
    encode_manifest,
    load_model,
    make_manifest,
)
from pipelines.serving.schema import infer_schema
from storage import sweeps as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import RunRecord, SweepRecord

if TYPE_CHECKING:
    import pandas as pd


def store_run_model(
    ws: Workspace, sweep: SweepRecord, run: RunRecord, model: Any, X: pd.DataFrame
) -> tuple[str, str]:
    """Put the model's bytes and its manifest in the artifact store and record both on the
    run (in one statement); returns (model sha256, manifest sha256)."""
    model_bytes = dump_model(model)
    manifest = make_manifest(
        model,
        model_bytes,
        sweep.task,
        infer_schema(X),
        family=sweep.model,
        metric=sweep.metric,
        direction=sweep.direction,
        target=sweep.target,
        run_id=run.id,
        sweep_id=sweep.id,
        dataset=sweep.dataset_ref,
        dataset_sha=run.dataset_sha,
        seed=run.seed,
        params=run.params,
    )
    store = ws.artifacts
    model_sha = store.put_bytes(model_bytes)
    manifest_sha = store.put_bytes(encode_manifest(manifest))
    repo.set_run_artifact(ws.db, run.id, model_sha, manifest_sha)
    return model_sha, manifest_sha


def load_run_bundle(ws: Workspace, run_id: int) -> tuple[BundleManifest | None, Any]:
    """The run's manifest and model, the model verified against the manifest's sha256; the
    manifest is None for a model kept before manifests were (verified by its own hash)."""
    run = repo.get_run(ws.db, run_id)
    if not run.artifact_sha:
        raise WorkbenchError(
            f"run {run_id} keeps no model (a sweep refits and keeps only its top trials)"
        )
    store = ws.artifacts
    source = f"run {run_id} model {store.path_for(run.artifact_sha)}"
    try:
        manifest = None
        expected = run.artifact_sha
        if run.manifest_sha:
            manifest = decode_manifest(store.get_bytes(run.manifest_sha), f"run {run_id} manifest")
            if manifest.sha256 != run.artifact_sha:
                raise BundleError(
                    f"{source}: the manifest names model {manifest.sha256[:12]}…, "
                    f"but the run keeps {run.artifact_sha[:12]}…; refusing to load it"
                )
            expected = manifest.sha256
        return manifest, load_model(store.get_bytes(run.artifact_sha), expected, source)
    except BundleError as exc:
        raise WorkbenchError(str(exc)) from None


def load_run_model(ws: Workspace, run_id: int) -> Any:
    """The fitted pipeline a run keeps, ready to predict on a frame of its features."""
    return load_run_bundle(ws, run_id)[1]
