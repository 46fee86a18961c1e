"""A sweep worker started before its sweep exists, so its imports overlap the CLI's own.

`workbench sweep start` spends half a second or more importing SQLAlchemy, opening the
workspace and validating the spec before a worker can be launched, and the worker then
spends a second or more importing pandas, scikit-learn and Optuna before its first trial:
one after the other, on a machine with a core idle. So the CLI starts a standby worker
first, through the supervisor like any worker (its own session, output to a log), which
imports what every sweep needs and waits on its stdin. Once the sweep is created and the
launch recorded, the CLI hands it the sweep id and the database URL (a secret: never argv)
on one line and it works as `workbench worker ID` would. If the CLI fails or goes away
first, the standby reads end-of-file, removes its log and exits: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pipelines import supervisor
from storage.workspace import WorkspacePaths

STANDBY_LOG_PREFIX = "standby-"


@dataclass(frozen=True)
class Standby:
    process: supervisor.Supervised
    orders: IO[bytes]  # its stdin
    log_path: Path


def start_standby(root: Path) -> Standby | None:
    """A standby worker for the workspace at `root`; None when none can start (the caller
    launches workers as usual)."""
    log_path = WorkspacePaths(root).logs / f"{STANDBY_LOG_PREFIX}{secrets.token_hex(4)}.log"
    command = [sys.executable, "-m", "pipelines.sweeps.standby", str(root), str(log_path)]
    try:
        process, orders = supervisor.spawn_with_input(command, log_path=log_path, cwd=Path.cwd())
    except OSError:
        return None
    return Standby(process, orders, log_path)


def hand_over(standby: Standby, sweep_id: int, database_url: str, log_path: Path) -> bool:
    """Give the standby its sweep; its log becomes `log_path`. False when it is gone (it
    died while importing), so the caller starts a worker of its own."""
    with contextlib.suppress(OSError):  # else its log keeps the standby's name
        os.replace(standby.log_path, log_path)
    try:
        line = json.dumps({"sweep": sweep_id, "database_url": database_url}) + "\n"
        standby.orders.write(line.encode())
        standby.orders.close()
    except (BrokenPipeError, ValueError):
        return False
    return True


def dismiss(standby: Standby) -> None:
    """No sweep for it: it reads end-of-file, removes its log and exits."""
    with contextlib.suppress(OSError):
        standby.orders.close()


def main(argv: list[str]) -> int:
    """`python -m pipelines.sweeps.standby ROOT LOG`: the standby itself, without the CLI's
    start-up; a failure is one line in its log, as `workbench worker` prints it."""
    from pipelines.sweeps.worker import run_worker
    from storage.errors import WorkbenchError
    from storage.handle import open_workspace

    root, log_path = Path(argv[0]), Path(argv[1])
    orders = wait_for_orders(log_path)
    if orders is None:
        return 0
    sweep_id, database_url = orders
    try:
        ws = open_workspace(root, database_url=database_url or None)
        try:
            run_worker(ws, sweep_id)
        finally:
            ws.close()
    except WorkbenchError as exc:
        print(f"workbench: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


def wait_for_orders(log_path: Path) -> tuple[int, str] | None:
    """In the standby: import what every sweep needs, then wait for (sweep id, database
    URL) on stdin; None (its log removed) when the launcher closed it without one."""
    warm_up()
    line = sys.stdin.readline()
    orders: Any = None
    try:
        orders = json.loads(line) if line.strip() else None
    except ValueError:
        orders = None
    if not isinstance(orders, dict) or not isinstance(orders.get("sweep"), int):
        log_path.unlink(missing_ok=True)
        return None
    return orders["sweep"], str(orders.get("database_url") or "")


def warm_up() -> None:
    """The imports every worker pays before its first trial, whatever the model."""
    import numpy  # noqa: F401
    import optuna  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import sklearn.compose
    import sklearn.impute
    import sklearn.pipeline
    import sklearn.preprocessing  # noqa: F401

    import pipelines.sweeps.training
    import pipelines.sweeps.worker  # noqa: F401
    import storage.database
    import storage.handle  # noqa: F401

    if not _orders_waiting():  # time left before the sweep exists: the usual model too
        with contextlib.suppress(ImportError):
            import lightgbm  # noqa: F401


def _orders_waiting() -> bool:
    import select

    return bool(select.select([sys.stdin], [], [], 0)[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
