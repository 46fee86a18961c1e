"""Which Optuna storage a sweep uses, and opening it.

Measured here per trial: Optuna's SQLite RDB storage ~28 ms, its JournalStorage file backend
~1.7 ms, and Optuna advises against SQLite for parallel workers. So a SQLite workspace keeps
its studies in a journal file next to the database (several local processes append to it
under a file lock, and a failed write never damages it: pipelines.sweeps.journal), and a
PostgreSQL workspace keeps them in the same PostgreSQL database, where workers on many
machines can join, with Optuna's own heartbeat."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from storage.handle import Workspace

if TYPE_CHECKING:
    import optuna

JOURNAL_NAME = "journal.log"  # in the workspace's optuna/ folder
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 30


def storage_kind_for(ws: Workspace) -> str:
    """What is recorded on the sweep: never a password."""
    if ws.db.engine.url.get_backend_name() == "sqlite":
        return f"journal:{ws.paths.relative(ws.paths.optuna / JOURNAL_NAME)}"
    return "rdb:workspace"


def open_storage(ws: Workspace, kind: str) -> optuna.storages.BaseStorage:
    import optuna
    from optuna.storages import JournalStorage, RDBStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if kind.startswith("journal:"):
        from pipelines.sweeps.journal import JournalError, SafeJournalFileBackend, os_reason

        path = ws.paths.resolve(kind.removeprefix("journal:"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"{path.parent}: cannot create ({os_reason(exc)})") from exc
        return JournalStorage(SafeJournalFileBackend(str(path)))
    url = ws.db.engine.url.render_as_string(hide_password=False)
    # Heartbeats are what make a killed worker's trial FAILED on PostgreSQL: wanted, even
    # though Optuna still labels the argument experimental.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return RDBStorage(
        url,
        heartbeat_interval=HEARTBEAT_INTERVAL_S,
        grace_period=GRACE_PERIOD_S,
        engine_kwargs={"pool_pre_ping": True},
    )


def dashboard_target(ws: Workspace, kind: str) -> str:
    """What to give `optuna-dashboard` to open this workspace's studies."""
    if kind.startswith("journal:"):
        return str(ws.paths.resolve(kind.removeprefix("journal:")))
    return ws.db.url


def make_sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(name: str, max_steps: int | None) -> Any:
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_steps or "auto")
    # Per-iteration curves (max_steps None) start slow for small learning rates: give them
    # ten iterations before comparing; per-fold reports compare from the second fold.
    warmup = 10 if max_steps is None else 1
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
