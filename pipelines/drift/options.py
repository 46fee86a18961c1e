"""What a drift check is asked to do: the statistical tests it knows (Evidently's names,
labels, default thresholds and verdict rules) and the options that override its choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipelines.drift.errors import DriftError


@dataclass(frozen=True)
class Method:
    """One statistical test as Evidently registers it: a distance drifts at or above its
    threshold, a p-value below it (K-S at or below, as Evidently has it)."""

    name: str
    label: str
    default_threshold: float
    rule: str  # "ge": score >= threshold drifts; "le": score <= threshold; "lt": score < threshold
    kinds: tuple[str, ...]  # column kinds it applies to

    def drifted(self, score: float, threshold: float) -> bool:
        if self.rule == "ge":
            return score >= threshold
        if self.rule == "le":
            return score <= threshold
        return score < threshold


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("wasserstein", "Wasserstein distance (normed)", 0.1, "ge", ("num",)),
        Method("jensenshannon", "Jensen-Shannon distance", 0.1, "ge", ("num", "cat")),
        Method("psi", "PSI", 0.1, "ge", ("num", "cat")),
        Method("ks", "K-S p_value", 0.05, "le", ("num",)),
        # Evidently registers these two for categorical columns only, yet picks them itself
        # for numeric columns of few values; here they apply to both.
        Method("chisquare", "chi-square p_value", 0.05, "lt", ("num", "cat")),
        Method("z", "Z-test p_value", 0.05, "lt", ("num", "cat")),
    )
}


def method_named(name: str) -> Method:
    """The method called `name`, or a one-line error listing the known ones."""
    method = METHODS.get(name)
    if method is None:
        known = ", ".join(METHODS)
        raise DriftError(f"unknown drift method {name!r}: use one of {known}")
    return method


@dataclass(frozen=True)
class ColumnRule:
    """A per-column override of the test and/or its threshold, as Evidently's
    per_column_method / per_column_threshold."""

    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftOptions:
    """How to test: which columns, forced column kinds, per-column rules, global overrides
    and the share of drifted columns at which the dataset drifts (Evidently's 0.5)."""

    drift_share: float = 0.5
    columns: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    numerical: tuple[str, ...] = ()
    rules: Mapping[str, ColumnRule] = field(default_factory=dict)
    method: str | None = None
    threshold: float | None = None

    def check(self) -> None:
        """Raise DriftError on a method name that does not exist or a nonsense number."""
        if not 0.0 <= self.drift_share <= 1.0:
            raise DriftError(f"drift share must be between 0 and 1, not {self.drift_share}")
        both = set(self.categorical) & set(self.numerical)
        if both:
            raise DriftError(f"column {sorted(both)[0]!r} is forced both categorical and numerical")
        if self.method is not None:
            method_named(self.method)
        _check_threshold(self.threshold, "the global threshold")
        for column, rule in self.rules.items():
            if rule.method is not None:
                method_named(rule.method)
            _check_threshold(rule.threshold, f"the threshold of column {column!r}")

    def chosen(self, column: str) -> tuple[str | None, float | None]:
        """The method and threshold asked for `column` (None: Evidently's default)."""
        rule = self.rules.get(column)
        method = rule.method if rule is not None and rule.method is not None else self.method
        threshold = (
            rule.threshold if rule is not None and rule.threshold is not None else self.threshold
        )
        return method, threshold


def _check_threshold(value: float | None, what: str) -> None:
    if value is None:
        return
    if value != value or value < 0:  # NaN or negative
        raise DriftError(f"{what} must be a number >= 0, not {value}")
