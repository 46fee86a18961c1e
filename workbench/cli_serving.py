"""`workbench image …` and `workbench deploy …`: serving images and deployments, headless.

`deploy` takes either a model reference (start a deployment) or a verb (ls, stop, start,
rm, logs) as its first word, as `workbench deploy churn@production` and `workbench deploy
ls` both read naturally."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from storage.handle import Workspace, open_workspace
from workbench.cli_output import console, print_json, print_rows, shown

DEPLOY_VERBS = ("ls", "stop", "start", "rm", "logs", "canary", "promote", "rollback")


def add_parsers(commands: Any) -> None:
    image = commands.add_parser("image", help="Docker images that serve a model version")
    verbs = image.add_subparsers(dest="verb", metavar="VERB", required=True)
    build = verbs.add_parser("build", help="build a serving image for a model version")
    build.add_argument("ref", metavar="MODEL[:VERSION|@ALIAS]")
    build.add_argument(
        "--base", help="base image (default: the base_image setting, python:3.11-slim)"
    )
    build.add_argument("--tag", help="image tag (default: workbench/NAME:vVERSION)")
    build.add_argument(
        "--offline", type=Path, metavar="WHEELHOUSE", help="install from these wheels only"
    )
    build.add_argument("--detach", action="store_true", help="start the build and return")
    worker = verbs.add_parser("build-worker", help=argparse.SUPPRESS)
    worker.add_argument("build_id", type=int)
    worker.add_argument("--offline", type=Path)
    verbs._choices_actions = [a for a in verbs._choices_actions if a.dest != "build-worker"]
    ls = verbs.add_parser("ls", help="built images and builds")
    ls.add_argument("--json", action="store_true")
    rm = verbs.add_parser("rm", help="remove an image")
    rm.add_argument("tag")
    log = verbs.add_parser("log", help="the log of a build")
    log.add_argument("build_id", type=int)

    deploy = commands.add_parser(
        "deploy",
        help="run a model version as a served deployment; ls|stop|start|rm|logs NAME; "
        "canary NAME MODEL:VERSION --share S; promote|rollback NAME",
        description="`workbench deploy MODEL[:VERSION|@ALIAS] [options]` starts a deployment; "
        "`workbench deploy ls|stop|start|rm|logs [NAME]` manages them; `workbench deploy "
        "canary NAME MODEL:VERSION --share 0.1` sends that share of its requests to a "
        "challenger version, `promote NAME` makes it the version served, `rollback NAME` "
        "drops it.",
    )
    deploy.add_argument("target", metavar="MODEL|VERB")
    deploy.add_argument("name_arg", nargs="?", metavar="NAME")
    deploy.add_argument("model_arg", nargs="?", metavar="CHALLENGER", help=argparse.SUPPRESS)
    deploy.add_argument("--share", type=float, default=0.1, help="canary: the challenger's share")
    deploy.add_argument(
        "--image", metavar="TAG", help="the image to run (default: the newest built)"
    )
    deploy.add_argument("--local", action="store_true", help="run as a local process, no container")
    deploy.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    deploy.add_argument("--token", help="require this bearer token")
    deploy.add_argument("--name", help="deployment name (default: the model's name)")
    deploy.add_argument("--tail", type=int, default=200, help="logs: how many lines")
    deploy.add_argument("--json", action="store_true")


def run_serving_command(args: argparse.Namespace, root: Path) -> int:
    ws = open_workspace(root, database_url=args.database_url)
    try:
        if args.command == "image":
            return _run_image(args, ws)
        return _run_deploy(args, ws)
    finally:
        ws.close()


# --- images ------------------------------------------------------------------------------


def _run_image(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.packaging import builds

    if args.verb == "build-worker":
        return 0 if builds.run_build(ws, args.build_id, args.offline) else 1
    if args.verb == "build":
        build = builds.start_build(
            ws, args.ref, tag=args.tag, base=args.base, wheelhouse=args.offline
        )
        out = console(stderr=True)
        out.print(
            f"building {shown(build.tag)} from {shown(build.model_ref)} "
            f"(build {build.id}, log {shown(build.log_path)})"
        )
        if args.detach:
            print(build.id)
            return 0
        return _follow(ws, build.id)
    if args.verb == "log":
        build = builds.get_build(ws, args.build_id)
        sys.stdout.write(
            Path(build.log_path).read_text(errors="replace")
            if Path(build.log_path).exists()
            else ""
        )
        return 0
    if args.verb == "rm":
        builds.remove_image(ws, args.tag)
        console(stderr=True).print(f"removed {shown(args.tag)}")
        return 0
    records = builds.list_builds(ws)
    if args.json:
        print_json(records)
        return 0
    rows = [
        (
            b.id,
            b.tag,
            b.model_ref,
            b.status,
            _size(b.size_bytes),
            b.created_at.strftime("%Y-%m-%d %H:%M"),
            b.error or "",
        )
        for b in records
    ]
    print_rows(
        "Image builds", ("build", "tag", "model", "status", "size", "created", "error"), rows
    )
    return 0


def _follow(ws: Workspace, build_id: int) -> int:
    """The build's log live, under a spinner naming the current step."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipelines.packaging import builds

    out = console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)

        def show(line: str) -> None:
            if line.startswith("Step "):
                progress.update(task, description=shown(line[:90]))
            progress.console.print(f"[dim]{shown(line)}[/dim]")

        build = builds.follow_build(ws, build_id, show)
    if build.status == "built":
        out.print(f"[green]built[/green] {shown(build.tag)} ({_size(build.size_bytes)})")
        return 0
    error = build.error or "unknown error"
    out.print(f"workbench: error: build {build.id} failed: {shown(error)}", soft_wrap=True)
    return 1


def _size(size: int | None) -> str:
    return "–" if not size else f"{size / 1e6:.0f} MB"


# --- deployments -------------------------------------------------------------------------


def _run_deploy(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.deploy import deployments

    out = console(stderr=True)
    if args.target not in DEPLOY_VERBS:
        if args.name_arg:
            raise SystemExit(
                f"workbench deploy: error: unexpected {args.name_arg!r}; use --name NAME"
            )
        deployed = deployments.deploy(
            ws,
            args.target,
            image=args.image,
            local=args.local,
            port=args.port,
            token=args.token,
            name=args.name,
        )
        if deployed.notice:
            out.print(f"[yellow]{shown(deployed.notice)}[/yellow]")
        record = deployed.record
        if args.json:
            print_json(_public(record))
        else:
            out.print(f"deployed {shown(record.model_ref)} as {shown(record.name)} ({record.kind})")
            print(record.url)
        return 0
    verb = args.target
    if verb == "ls":
        records = deployments.list_deployments(ws)
        if args.json:
            print_json([_public(r) for r in records])
            return 0
        rows = [(r.name, _serves(r), r.kind, r.status, r.url, r.error or "") for r in records]
        print_rows("Deployments", ("name", "model", "kind", "status", "url", "error"), rows)
        return 0
    if not args.name_arg:
        raise SystemExit(
            f"workbench deploy {verb}: error: name the deployment (see `workbench deploy ls`)"
        )
    name = args.name_arg
    if verb == "stop":
        record = deployments.stop_deployment(ws, name)
        out.print(f"stopped {shown(record.name)}")
    elif verb == "start":
        record = deployments.start_deployment(ws, name)
        out.print(f"started {shown(record.name)}")
        print(record.url)
    elif verb == "canary":
        if not args.model_arg:
            raise SystemExit("workbench deploy canary: error: name the challenger, e.g. churn:3")
        from pipelines.deploy import canary

        record = canary.start_canary(ws, name, args.model_arg, args.share)
        out.print(
            f"{shown(record.name)}: {shown(record.challenger_ref)} answers "
            f"{record.canary_share:.0%} of requests, {shown(record.model_ref)} the rest"
        )
    elif verb in ("promote", "rollback"):
        from pipelines.deploy import canary

        record = (canary.promote if verb == "promote" else canary.rollback)(ws, name)
        out.print(f"{shown(record.name)} serves {shown(record.model_ref)} to every request")
    elif verb == "rm":
        deployments.remove_deployment(ws, name)
        out.print(f"removed {shown(name)}")
    else:
        sys.stdout.write(deployments.deployment_logs(ws, name, tail=args.tail))
    return 0


def _serves(record: Any) -> str:
    if record.challenger_ref:
        share = record.canary_share or 0
        return f"{record.model_ref} ({1 - share:.0%}) + {record.challenger_ref} ({share:.0%})"
    return str(record.model_ref)


def _public(record: Any) -> dict[str, Any]:
    """A deployment as JSON, without its token (it is a secret)."""
    from workbench.cli_output import jsonable

    data = jsonable(record)
    data["token"] = "set" if data.get("token") else None
    return data
