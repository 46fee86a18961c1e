"""`workbench model`: register a run's model, move aliases, list, show, diff and remove
model versions — thin calls into pipelines/registry."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError
from storage.handle import Workspace
from workbench import cli_output as out

if TYPE_CHECKING:
    from pipelines.registry.diff import DiffRow, ModelDiff
    from storage.records import ModelVersionRecord, RegisteredModelRecord

REF_HELP = "NAME, NAME:VERSION or NAME@ALIAS"


def add_parsers(commands: Any) -> None:
    model = commands.add_parser("model", help="the model registry").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    register = model.add_parser("register", help="register a run's kept model as a new version")
    register.add_argument("run", type=int, metavar="RUN")
    register.add_argument("--name", required=True, help="model name (versions count per name)")
    register.add_argument("--alias", help="point this alias at the new version, e.g. production")
    register.add_argument("--description", metavar="TEXT")
    register.add_argument("--json", action="store_true")
    alias = model.add_parser(
        "alias", help="point ALIAS at NAME's VERSION (moving it); or NAME ALIAS --remove"
    )
    alias.add_argument("name", metavar="NAME")
    alias.add_argument("version", metavar="VERSION", help="version number (or ALIAS with --remove)")
    alias.add_argument("alias", metavar="ALIAS", nargs="?")
    alias.add_argument("--remove", action="store_true", help="remove the alias instead")
    alias.add_argument("--json", action="store_true")
    model.add_parser("ls", help="registered models").add_argument("--json", action="store_true")
    show = model.add_parser("show", help="a model's versions, or one version in full")
    show.add_argument("ref", metavar=REF_HELP)
    show.add_argument("--json", action="store_true")
    diff = model.add_parser("diff", help="two versions: params, metrics, schema, lineage")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    diff.add_argument("--json", action="store_true")
    remove = model.add_parser("rm", help="remove one version (NAME:VERSION)")
    remove.add_argument("ref", metavar="NAME:VERSION")


def run_model_command(args: argparse.Namespace, root: Path) -> int:
    from storage.handle import open_workspace

    ws = open_workspace(root, database_url=args.database_url)
    try:
        handler = {
            "register": register,
            "alias": alias,
            "ls": list_models,
            "show": show,
            "diff": diff,
            "rm": remove,
        }[args.verb]
        return handler(args, ws)
    finally:
        ws.close()


def register(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.registry.versions import register_model

    record = register_model(ws, args.run, args.name, args.alias, args.description)
    if args.json:
        out.print_json(version_json(record))
        return 0
    aliases = f" as {', '.join(f'@{a}' for a in record.aliases)}" if record.aliases else ""
    out.console().print(
        f"registered {out.shown(record.ref)}{aliases}: run {record.run_id} on "
        f"{out.shown(record.lineage.get('dataset_version'))}, {_headline(record)}, "
        f"bundle sha256 {record.bundle_sha256[:12]}"
    )
    return 0


def alias(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.registry import versions as registry

    if args.remove:
        if args.alias is not None:
            raise WorkbenchError("model alias --remove takes NAME ALIAS (no version)")
        previous = registry.remove_alias(ws, args.name, args.version)
        if args.json:
            out.print_json({"model": args.name, "alias": args.version, "removed_from": previous})
        else:
            print(f"removed {args.name}@{args.version} (it pointed at {args.name}:{previous})")
        return 0
    if args.alias is None:
        raise WorkbenchError("model alias takes NAME VERSION ALIAS (or NAME ALIAS --remove)")
    digits = args.version[1:] if args.version[:1] in ("v", "V") else args.version
    if not digits.isdigit():
        raise WorkbenchError(f"{args.version!r} is not a version number (e.g. 3)")
    move = registry.set_alias(ws, args.name, int(digits), args.alias)
    if args.json:
        out.print_json({**out.jsonable(move), "changed": move.changed})
    elif not move.changed:
        print(f"{move.model_name}@{move.alias} already points at {move.model_name}:{move.version}")
    elif move.previous is None:
        print(f"{move.model_name}@{move.alias} -> {move.model_name}:{move.version}")
    else:
        print(
            f"{move.model_name}@{move.alias} moved from {move.model_name}:{move.previous} "
            f"to {move.model_name}:{move.version}"
        )
    return 0


def list_models(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.registry.versions import list_models as listed

    models = listed(ws)
    if args.json:
        out.print_json(models)
        return 0
    print_models(models)
    return 0


def show(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.registry import versions as registry

    parsed = registry.parse_ref(args.ref)
    if parsed.version is None and parsed.alias is None:
        model = registry.get_model(ws, parsed.name)
        versions = registry.list_versions(ws, parsed.name)
        if args.json:
            out.print_json({**out.jsonable(model), "versions": [version_json(v) for v in versions]})
        else:
            print_model(model, versions)
        return 0
    record = registry.resolve(ws, args.ref)
    if args.json:
        out.print_json(version_json(record))
    else:
        print_version(record)
    return 0


def diff(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.registry.diff import diff as compare

    result = compare(ws, args.a, args.b)
    if args.json:
        out.print_json({**out.jsonable(result), "identical": result.identical})
    else:
        print_diff(result)
    return 0


def remove(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.registry.versions import remove_version

    record = remove_version(ws, args.ref)
    print(f"removed {record.ref} (run {record.run_id} and its data are no longer kept by it)")
    return 0


def version_json(record: ModelVersionRecord) -> dict[str, Any]:
    return {"ref": record.ref, **out.jsonable(record)}


def _headline(record: ModelVersionRecord) -> str:
    metric = record.lineage.get("metric")
    value = record.metrics.get(metric) if metric else None
    return f"{metric} {value:.4g}" if isinstance(value, int | float) else "no metric"


def print_models(models: list[RegisteredModelRecord]) -> None:
    from rich.table import Table

    if not models:
        out.console().print(
            "no registered models yet: register a run's model with "
            "`workbench model register RUN --name NAME`"
        )
        return
    table = Table(title="models", title_justify="left")
    for column in ("name", "versions", "latest", "aliases", "created"):
        table.add_column(column, justify="right" if column in ("versions", "latest") else "left")
    for model in models:
        table.add_row(
            out.shown(model.name),
            str(model.version_count),
            str(model.latest_version or "-"),
            out.shown(", ".join(f"{a} → {v}" for a, v in model.aliases.items()) or "-"),
            f"{model.created_at:%Y-%m-%d %H:%M}",
        )
    out.console().print(table)


def print_model(model: RegisteredModelRecord, versions: list[ModelVersionRecord]) -> None:
    from rich.table import Table

    console = out.console()
    console.print(f"[bold]{out.shown(model.name)}[/]  {out.shown(model.description or '')}")
    table = Table(title=f"{len(versions)} versions", title_justify="left")
    for column in ("version", "aliases", "run", "dataset", "metric", "sha256", "registered"):
        table.add_column(column, justify="right" if column in ("version", "run") else "left")
    for record in versions:
        table.add_row(
            str(record.version),
            out.shown(", ".join(record.aliases) or "-"),
            str(record.run_id),
            out.shown(record.lineage.get("dataset_version", "-")),
            _headline(record),
            record.bundle_sha256[:12],
            f"{record.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def print_version(record: ModelVersionRecord) -> None:
    from rich.table import Table

    console = out.console()
    aliases = f"  @{', @'.join(record.aliases)}" if record.aliases else ""
    console.print(
        f"[bold]{out.shown(record.ref)}[/]{out.shown(aliases)}  sha256 {record.bundle_sha256}"
    )
    if record.description:
        console.print(out.shown(record.description))
    lineage = record.lineage
    commit = lineage.get("git_commit") or "unknown"
    dirty = " (dirty)" if lineage.get("git_dirty") else ""
    console.print(
        f"{out.shown(lineage.get('family'))} {out.shown(lineage.get('task'))} of "
        f"{out.shown(lineage.get('target'))} · registered {record.created_at:%Y-%m-%d %H:%M}"
    )
    console.print(
        f"lineage: run {record.run_id} (trial {lineage.get('trial')}) of sweep "
        f"{lineage.get('sweep')} {out.shown(repr(lineage.get('sweep_name')))} · data "
        f"{out.shown(lineage.get('dataset_version'))} "
        f"(sha256 {str(lineage.get('dataset_sha256'))[:12]}) · git {commit[:12]}{dirty}"
    )
    metrics = Table(title="metrics", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key, value in sorted(record.metrics.items()):
        metrics.add_row(out.shown(key), _short(value))
    params = Table(title="params", title_justify="left")
    params.add_column("param")
    params.add_column("value", justify="right")
    for key, value in sorted(record.params.items()):
        params.add_row(out.shown(key), _short(value))
    schema = Table(title="input schema", title_justify="left")
    for column in ("column", "kind", "dtype", "nullable", "categories"):
        schema.add_column(column)
    for column in record.input_schema.get("columns", []):
        seen = column.get("categories")
        schema.add_row(
            out.shown(column["name"]),
            out.shown(column["kind"]),
            out.shown(column["dtype"]),
            "yes" if column.get("nullable") else "no",
            "-" if seen is None else str(len(seen)),
        )
    for table in (metrics, params, schema):
        console.print(table)


def print_diff(result: ModelDiff) -> None:
    from rich.table import Table

    table = Table(title=f"{result.a} → {result.b}", title_justify="left")
    for column in ("", result.a, result.b, "Δ / note"):
        table.add_column(
            out.shown(column), justify="left" if column in ("", "Δ / note") else "right"
        )
    sections: list[tuple[str, list[DiffRow]]] = [
        ("params", result.params),
        ("metrics", result.metrics),
        ("schema", result.schema),
        ("lineage", result.lineage),
    ]
    for title, rows in sections:
        table.add_row(f"[dim]{title}[/]", "", "", "")
        if not rows:
            table.add_row("[dim]no differences[/]", "", "", "")
        for row in rows:
            note = f"{row.delta:+.3g}" if row.delta is not None else row.note
            table.add_row(out.shown(row.key), _short(row.a), _short(row.b), out.shown(note))
        table.add_section()
    out.console().print(table)


def _short(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return out.shown(value)
