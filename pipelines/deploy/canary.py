"""`workbench deploy canary|promote|rollback`: a challenger version on the same URL.

A canary restarts the deployment's server with the challenger beside the primary (the
server splits traffic exactly, pipelines.serving.canary); promote makes the challenger the
deployment's version (a container runs the challenger's own image, which must be built);
rollback drops the challenger. Each is one conditional update of the record followed by a
restart through `launch.bring_up`, so the record always says what is serving."""

from __future__ import annotations

from pipelines.deploy.launch import bring_up, take_down
from pipelines.registry.versions import resolve
from storage import deployments as repo
from storage.errors import WorkbenchError
from storage.handle import Workspace
from storage.records import DeploymentRecord

SERVING = ("running", "down")


def start_canary(
    ws: Workspace, name: str, ref: str, share: float, wait_s: float = 60.0
) -> DeploymentRecord:
    if not 0 < share < 1:
        raise WorkbenchError(f"--share must be above 0 and below 1, not {share:g}")
    record = _serving(ws, name)
    challenger = resolve(ws, ref)
    if challenger.id == record.model_version_id:
        raise WorkbenchError(f"{challenger.ref} is what {name} already serves")
    if challenger.model_name != record.model_ref.split(":")[0]:
        raise WorkbenchError(
            f"{challenger.ref} is another model than {record.model_ref}: a canary compares "
            "versions of one model"
        )
    return _restart(
        ws, record, challenger_version_id=challenger.id, canary_share=share, wait_s=wait_s
    )


def promote(ws: Workspace, name: str, wait_s: float = 60.0) -> DeploymentRecord:
    """The challenger becomes the version served to everyone."""
    record = _serving(ws, name)
    if record.challenger_version_id is None:
        raise WorkbenchError(f"deployment {name} runs no canary: nothing to promote")
    fields: dict[str, object] = {"model_version_id": record.challenger_version_id}
    if record.kind == "container":
        build = repo.latest_build_of_version(ws.db, record.challenger_version_id)
        if build is None:
            raise WorkbenchError(
                f"no image is built for {record.challenger_ref}: run `workbench image build "
                f"{record.challenger_ref}` first, then promote"
            )
        fields["image_tag"] = build.tag
    return _restart(
        ws, record, challenger_version_id=None, canary_share=None, wait_s=wait_s, **fields
    )


def rollback(ws: Workspace, name: str, wait_s: float = 60.0) -> DeploymentRecord:
    """Drop the challenger: the primary answers everything again."""
    record = _serving(ws, name)
    if record.challenger_version_id is None:
        raise WorkbenchError(f"deployment {name} runs no canary: nothing to roll back")
    return _restart(ws, record, challenger_version_id=None, canary_share=None, wait_s=wait_s)


def _serving(ws: Workspace, name: str) -> DeploymentRecord:
    record = repo.get_deployment(ws.db, name)
    if record.status not in SERVING:
        raise WorkbenchError(f"deployment {name} is {record.status}; start it first")
    return record


def _restart(
    ws: Workspace, record: DeploymentRecord, *, wait_s: float, **fields: object
) -> DeploymentRecord:
    if not repo.move_deployment(ws.db, record.name, SERVING, status="starting", **fields):
        raise WorkbenchError(f"deployment {record.name} changed meanwhile; try again")
    take_down(ws, record)
    return bring_up(ws, record.name, wait_s)
