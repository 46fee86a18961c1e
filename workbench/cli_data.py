"""The `workbench data`, `db` and `demo` commands: thin calls into pipelines/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.inert import inert
from pipelines.progress import Progress
from storage.errors import WorkbenchError
from storage.handle import Workspace, open_workspace
from workbench import cli_output as out


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A Rich progress bar on stderr when it is a terminal; silence otherwise."""
    if not sys.stderr.isatty():
        yield lambda _stage, _fraction: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=out.console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=1.0)

        def report(stage: str, fraction: float | None) -> None:
            bar.update(
                task,
                description=f"{description}: {stage}",
                completed=fraction if fraction is not None else None,
            )

        yield report


def workspace_for(args: argparse.Namespace, root: Path) -> Workspace:
    return open_workspace(root, database_url=args.database_url)


def fill_demo_workspace(root: Path, database_url: str | None) -> None:
    from pipelines.demo import demo_is_filled, fill_demo

    own_database = database_url is None  # the demo's SQLite file is ours to migrate
    ws = open_workspace(root, database_url=database_url, check_schema=not own_database)
    try:
        if own_database and not ws.schema_is_current():
            ws.upgrade_schema()  # a demo made by an older Workbench opens, not refuses
        if demo_is_filled(ws):
            return
        with progress_bar("demo workspace") as report:
            done = fill_demo(ws, report)
        for registration in done:
            print(registration.message, file=sys.stderr)
        print(f"demo workspace ready in {root}", file=sys.stderr)
    finally:
        ws.close()


def serve_demo(root: Path, database_url: str | None) -> str | None:
    """The demo's deployment and its simulated traffic; None (said) when it cannot start,
    so the rest of the demo still opens."""
    from pipelines.demo_serving import ensure_demo_serving

    ws = open_workspace(root, database_url=database_url)
    try:
        with progress_bar("demo deployment") as report:
            serving = ensure_demo_serving(ws, report)
    except WorkbenchError as exc:
        print(f"workbench demo: the demo deployment did not start: {exc}", file=sys.stderr)
        return None
    finally:
        ws.close()
    for line in serving.said:
        print(line, file=sys.stderr)
    where = f"--workspace {root}"
    print(
        f"{serving.deployment} serves at {serving.url} and keeps running after the TUI "
        f"closes: `workbench {where} deploy stop {serving.deployment}` stops it",
        file=sys.stderr,
    )
    return serving.deployment


def run_db(args: argparse.Namespace, root: Path) -> int:
    ws = open_workspace(root, database_url=args.database_url, check_schema=False)
    try:
        if args.verb == "upgrade":
            before = ws.schema_revision()
            ws.upgrade_schema()
            after = ws.schema_revision()
            print(
                f"{ws.database_url}: schema {before or 'empty'} -> {after}"
                if before != after
                else f"{ws.database_url}: schema already at {after}"
            )
        else:
            print(ws.schema_revision() or "empty")
        return 0
    finally:
        ws.close()


def run_data(args: argparse.Namespace, root: Path) -> int:
    from pipelines.datasets import versions as datasets

    ws = workspace_for(args, root)
    try:
        if args.verb == "add":
            with progress_bar(f"adding {args.path}") as report:
                result = datasets.register_dataset(
                    ws,
                    args.path,
                    name=args.name,
                    target=args.target,
                    reference=args.reference,
                    progress=report,
                )
            if args.json:
                out.print_json(
                    {
                        "created": result.created,
                        "message": result.message,
                        "warnings": result.warnings,
                        "version": result.version,
                    }
                )
            else:
                print(inert(result.message))
                for warning in result.warnings:
                    print(f"  warn: {inert(warning)}")
            return 0
        if args.verb == "ls":
            summaries = datasets.list_datasets(ws)
            out.print_json(summaries) if args.json else out.print_datasets(summaries)
            return 0
        if args.verb == "show":
            version = datasets.get_version(ws, args.ref)
            changed = datasets.reference_warning(version)
            if changed:
                print(f"workbench: warning: {inert(changed)}", file=sys.stderr)
            if args.json:
                out.print_json(version)
            else:
                out.print_version(version, datasets.list_versions(ws, version.dataset_name))
            return 0
        if args.verb == "validate":
            return validate(args, ws)
        if args.verb == "rows":
            return print_rows(args, ws)
        if args.verb == "rm":
            print(inert(datasets.remove(ws, args.ref, force=args.force).message))
            return 0
        raise AssertionError(args.verb)
    finally:
        ws.close()


def validate(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.datasets import versions as datasets

    if args.file is not None:
        result = datasets.validate_file(ws, args.ref, args.file)
        title = f"validation of {args.file}"
    else:
        result = datasets.get_version(ws, args.ref).validation
        title = f"validation of {datasets.get_version(ws, args.ref).ref}"
    out.print_json(result) if args.json else out.print_validation(result, title)
    return 1 if result.status == "fail" else 0


def print_rows(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.datasets import versions as datasets
    from pipelines.datasets.browse import BrowseTimeoutError, RowSource
    from storage.errors import WorkbenchError

    version = datasets.get_version(ws, args.ref)
    source = RowSource(datasets.browsable_path(ws, version), time_limit=args.time_limit)
    try:
        view = source.query(args.where, args.order_by)
        page = view.page(max(args.offset, 0), max(args.limit, 0))
    except BrowseTimeoutError as exc:
        flag = "--where" if exc.stage == "filter" else "--where/--order-by"
        raise WorkbenchError(
            f"{flag} took longer than {exc.seconds:g} s and was stopped; narrow it, or allow "
            "more time with --time-limit SECONDS (0: no limit)"
        ) from None
    columns = source.columns
    if args.json:
        out.print_json(
            {
                "row_count": view.row_count,
                "offset": page.offset,
                "rows": [dict(zip(columns, row, strict=False)) for row in page.rows],
            }
        )
        return 0
    out.print_rows(f"{version.ref}: {view.row_count:,} rows match", columns, page.rows)
    return 0
