"""The OpenMP thread cap around a fit, found cheaply."""

from __future__ import annotations

from typing import Any


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
