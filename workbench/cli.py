"""`workbench`: the TUI with no arguments, and every TUI action as a headless command."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.datasets.browse import DEFAULT_QUERY_SECONDS
from pipelines.inert import inert
from storage.errors import WorkbenchError

if TYPE_CHECKING:
    from pipelines.sweeps.standby import Standby

# What a shell reports for a program ended by SIGPIPE (128 + 13), as `seq 1e9 | head -1` does.
BROKEN_PIPE_EXIT = 141
GLOBAL_OPTIONS = ("--workspace", "--database-url")


def add_global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    """The options every command takes: before the command, and after it as well."""
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        default=default,
        help="workspace folder (default: $WORKBENCH_WORKSPACE or the platform's user-data folder)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help="metadata database URL (default: the workspace's SQLite file)",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser` (commands, their verbs, ...), each once."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += [sub, *_subparsers(sub)]
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="A keyboard-driven terminal workbench for tabular ML. "
        "With no command it opens the TUI.",
    )
    add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="open a demo workspace, filled on first use")
    demo.add_argument("--no-tui", action="store_true", help="only fill the demo workspace")
    demo.add_argument(
        "--no-serve",
        action="store_true",
        help="no demo deployment (by default the demo model is served locally and fed "
        "simulated drifting traffic)",
    )

    db = commands.add_parser("db", help="the metadata database").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    db.add_parser("upgrade", help="upgrade the database schema to this Workbench's version")
    db.add_parser("current", help="print the schema revision of the database")

    data = commands.add_parser("data", help="datasets and their versions").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    add = data.add_parser("add", help="register a CSV/TSV/Parquet/JSON Lines file as a version")
    add.add_argument("path", type=Path)
    add.add_argument("--name", help="dataset name (default: the file name)")
    add.add_argument("--target", help="the column to predict")
    add.add_argument(
        "--reference", action="store_true", help="keep only path + hash instead of a frozen copy"
    )
    add.add_argument("--json", action="store_true")
    ls = data.add_parser("ls", help="list datasets")
    ls.add_argument("--json", action="store_true")
    show = data.add_parser("show", help="a version's schema, profile and validation")
    show.add_argument("ref", metavar="NAME[@Dn]")
    show.add_argument("--json", action="store_true")
    validate = data.add_parser(
        "validate", help="a version's validation against the previous one (exit 1 on fail)"
    )
    validate.add_argument("ref", metavar="NAME[@Dn]")
    validate.add_argument(
        "--file", type=Path, help="check this file against the newest version, without adding it"
    )
    validate.add_argument("--json", action="store_true")
    rows = data.add_parser("rows", help="print rows of a version (filter and sort with SQL)")
    rows.add_argument("ref", metavar="NAME[@Dn]")
    rows.add_argument("--where", default="", help='SQL condition, e.g. "age > 30"')
    rows.add_argument("--order-by", default="", help='SQL ORDER BY list, e.g. "age DESC"')
    rows.add_argument("--limit", type=int, default=20)
    rows.add_argument("--offset", type=int, default=0)
    rows.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_QUERY_SECONDS,
        metavar="SECONDS",
        help="stop a --where/--order-by running longer; 0: no limit "
        f"(default: {DEFAULT_QUERY_SECONDS:g})",
    )
    rows.add_argument("--json", action="store_true")
    rm = data.add_parser("rm", help="remove a dataset, or one version with NAME@Dn")
    rm.add_argument("ref", metavar="NAME[@Dn]")
    rm.add_argument("--force", action="store_true", help="even if sweeps used it (orphans them)")
    from workbench.cli_sweeps import add_parsers

    add_parsers(commands)
    from workbench import cli_compare

    cli_compare.add_parsers(commands)
    from workbench import cli_serving

    cli_serving.add_parsers(commands)
    from workbench import cli_models

    cli_models.add_parsers(commands)
    from workbench import cli_predict

    cli_predict.add_parsers(commands)
    from workbench import cli_drift

    cli_drift.add_parsers(commands)
    from workbench import cli_simulate

    cli_simulate.add_parsers(commands)
    from workbench import cli_loop

    cli_loop.add_parsers(commands)
    # `workbench worker 3 --database-url URL` as well as `workbench --database-url URL worker 3`:
    # SUPPRESS leaves a value given before the command in place when none is given after it.
    for sub in _subparsers(parser):
        add_global_options(sub, default=argparse.SUPPRESS)
    return parser


def entry() -> None:
    """The `workbench` command itself (the console script, `python -m workbench`): `main`,
    then out without the interpreter's teardown, which after a sweep or the TUI (SQLAlchemy,
    Optuna, numpy, Textual loaded) takes 0.2-0.3 s of nothing the user wants: the exit
    handlers run, the output is flushed, the process ends. With a non-daemon thread still
    running, the normal exit waits for it instead."""
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()  # what the interpreter's exit would run: logging, alert commands
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a reader gone (EPIPE): nothing more to say
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a reader that stops early (`| head`) ends it quietly, like any Unix
    tool, instead of with a BrokenPipeError traceback."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, not in the interpreter's exit, where it cannot be caught
    except BrokenPipeError:
        # Nothing more can reach the reader; point stdout at /dev/null so the interpreter's
        # own final flush of what is still buffered does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE_EXIT


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The TUI (no command, at most the global options) needs no command's parser: parsed
    without building them all and importing every cli_* module, the first frame comes
    sooner. Anything else (a command, --help, an abbreviation, an error) gets the full one."""
    tokens = list(sys.argv[1:] if argv is None else argv)
    if not only_global_options(tokens):
        return build_parser().parse_args(tokens)
    parser = argparse.ArgumentParser(prog="workbench")
    add_global_options(parser)
    return parser.parse_args(tokens, argparse.Namespace(command=None))


def only_global_options(tokens: Sequence[str]) -> bool:
    """True for `--workspace DIR`, `--database-url=URL` and the like, and nothing else."""
    i = 0
    while i < len(tokens):
        name, equals, _ = tokens[i].partition("=")
        if name not in GLOBAL_OPTIONS:
            return False
        if equals:
            i += 1
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            i += 2
        else:
            return False
    return True


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except WorkbenchError as exc:
        print(f"workbench: error: {inert(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    from storage.scratch import exit_cleanly_on_signals
    from storage.workspace import resolve_workspace_root

    exit_cleanly_on_signals()  # SIGTERM/SIGHUP exit cleanly: `finally` blocks remove temp files
    if args.command is None:
        return open_tui(resolve_workspace_root(args.workspace), args.database_url)
    if args.command == "demo":
        from workbench.cli_data import fill_demo_workspace, serve_demo

        root = (Path(args.workspace) if args.workspace else demo_workspace_root()).expanduser()
        fill_demo_workspace(root.resolve(), args.database_url)
        deployment = None if args.no_serve else serve_demo(root.resolve(), args.database_url)
        if args.no_tui:
            return 0
        return open_tui(root.resolve(), args.database_url, drift_panel=deployment)
    if args.command == "db":
        from workbench.cli_data import run_db

        return run_db(args, resolve_workspace_root(args.workspace))
    if args.command in ("sweep", "runs", "worker"):
        root = resolve_workspace_root(args.workspace)
        if args.command != "sweep" or args.verb != "start":
            return run_sweeps(args, root)
        args.standby = standby = _standby(root)  # its imports overlap opening the workspace
        try:
            return run_sweeps(args, root)
        finally:
            if standby is not None:
                from pipelines.sweeps.standby import dismiss

                dismiss(standby)  # handed over already, or it exits and removes its log
    if args.command in ("compare", "export", "report"):
        from workbench.cli_compare import run_compare_command

        return run_compare_command(args, resolve_workspace_root(args.workspace))
    if args.command in ("image", "deploy"):
        from workbench.cli_serving import run_serving_command

        return run_serving_command(args, resolve_workspace_root(args.workspace))
    if args.command == "model":
        from workbench.cli_models import run_model_command

        return run_model_command(args, resolve_workspace_root(args.workspace))
    if args.command in ("alerts", "retrain", "retrain-worker"):
        from workbench.cli_loop import run_loop_command

        return run_loop_command(args, resolve_workspace_root(args.workspace))
    if args.command == "predict":
        from workbench.cli_predict import run_predict_command

        return run_predict_command(args, resolve_workspace_root(args.workspace))
    if args.command == "simulate":
        from workbench.cli_simulate import run_simulate_command

        return run_simulate_command(args, resolve_workspace_root(args.workspace))
    if args.command == "drift":
        from workbench.cli_drift import run_drift_command

        return run_drift_command(args, resolve_workspace_root(args.workspace))
    from workbench.cli_data import run_data

    return run_data(args, resolve_workspace_root(args.workspace))


def _standby(root: Path) -> Standby | None:
    """A standby sweep worker (pipelines.sweeps.standby) for a workspace that exists; a new
    one is made by opening it, which the worker would race."""
    from pipelines.sweeps.standby import start_standby
    from storage.workspace import WorkspacePaths

    return start_standby(root) if WorkspacePaths(root).logs.is_dir() else None


def run_sweeps(args: argparse.Namespace, root: Path) -> int:
    from storage.handle import open_workspace
    from workbench import cli_sweeps

    ws = open_workspace(root, database_url=args.database_url)
    try:
        if args.command == "sweep":
            return cli_sweeps.run_sweep_command(args, ws)
        if args.command == "runs":
            return cli_sweeps.run_runs_command(args, ws)
        return cli_sweeps.run_worker_command(args, ws)
    finally:
        ws.close()


def demo_workspace_root() -> Path:
    from storage.workspace import default_workspace_root

    return default_workspace_root() / "demo"


def open_tui(root: Path, database_url: str | None, drift_panel: str | None = None) -> int:
    """The TUI; with `drift_panel`, opened on that deployment's live drift panel."""
    import gc

    # Until the first frame, nothing is garbage worth a pause: the collector would walk the
    # whole heap of imported modules again and again (about 30 ms). The App freezes what
    # start-up made and collects again from there (WorkbenchApp.collect_from_here).
    gc.disable()
    from workbench.app import WorkbenchApp

    WorkbenchApp(root, database_url=database_url, drift_panel=drift_panel).run()
    return 0
