"""A canary: one server, one URL, two model versions. A fixed share of requests goes to the
challenger, the rest to the primary; each answer and each log record names the version
that answered, so the two can be compared side by side before a promote or a rollback.

The split is exact rather than random: request n goes to the challenger when
floor(n · share) steps up, so after any number of requests the challenger has answered
that share of them, rounded down (a test can count it, a user can trust it)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.serving.served import ServedModel


@dataclass(frozen=True)
class Lane:
    """One model version being served, with the batcher that scores its requests."""

    served: ServedModel
    batcher: Any  # pipelines.serving.batcher.Batcher
    role: str  # primary | challenger
    scoring: str = ""  # how its requests are scored (pipelines.serving.compiled)


class Router:
    def __init__(self, primary: Lane, challenger: Lane | None = None, share: float = 0.0) -> None:
        if challenger is not None and not 0 < share < 1:
            raise ValueError(f"a canary share must be above 0 and below 1, not {share}")
        if challenger is not None:
            _check_compatible(primary.served, challenger.served)
        self.primary, self.challenger, self.share = primary, challenger, share
        self._count = 0
        self._lock = threading.Lock()

    def pick(self) -> Lane:
        if self.challenger is None:
            return self.primary
        with self._lock:
            before = self._count
            self._count += 1
        if math.floor((before + 1) * self.share) > math.floor(before * self.share):
            return self.challenger
        return self.primary

    def lanes(self) -> list[Lane]:
        return [self.primary] + ([self.challenger] if self.challenger else [])

    def describe(self, describe: Callable[[ServedModel], dict[str, Any]]) -> dict[str, Any]:
        """The primary's description, with the challenger's beside it during a canary."""
        answer = {**describe(self.primary.served), "scoring": self.primary.scoring}
        if self.challenger is not None:
            challenger = self.challenger
            answer["canary"] = {
                "share": self.share,
                **describe(challenger.served),
                "scoring": challenger.scoring,
            }
        return answer


def _check_compatible(primary: ServedModel, challenger: ServedModel) -> None:
    """Both versions answer the same requests: the same task, the same input columns."""
    a, b = primary.manifest, challenger.manifest
    if a.task != b.task:
        raise ValueError(
            f"the challenger {challenger.name} {challenger.version} is a {b.task} model, "
            f"the primary a {a.task} one: they cannot share a URL"
        )
    missing = [c for c in b.schema.names if c not in set(a.schema.names)]
    if missing:
        raise ValueError(
            f"the challenger needs columns the primary's clients do not send: {', '.join(missing)}"
        )
