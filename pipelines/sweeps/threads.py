"""The cores a process may use, and the OpenMP thread cap around a fit, found cheaply."""

from __future__ import annotations

import os
from typing import Any


def usable_cores() -> int:
    """The CPU cores this process may run on (a container's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_limit(n_jobs: int) -> Any:
    """OpenMP threads capped at n_jobs while fitting: HistGradientBoosting has no n_jobs of
    its own, and on small data (or beside other sweep workers) extra threads only slow it.
    Finding the loaded thread pools costs ~10 ms (every shared library is inspected), so
    they are found again only when a module was imported since (one may bring a pool)."""
    import sys

    from threadpoolctl import ThreadpoolController

    global _pools
    if _pools is None or _pools[0] != len(sys.modules):
        controller = ThreadpoolController()
        _pools = (len(sys.modules), controller)
    return _pools[1].limit(limits=n_jobs if n_jobs > 0 else None, user_api="openmp")


_pools: tuple[int, Any] | None = None  # (modules loaded when found, ThreadpoolController)
