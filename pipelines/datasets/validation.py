"""Checks of a new dataset version against the previous one, from their schemas and profiles.

Only profiles are compared (never the data), so validation costs nothing next to profiling
and works against versions kept by reference whose file has since moved. Each finding is a
`ValidationCheck` whose reason names the values, so it reads well in the CLI and the TUI:
fails first (the new version breaks what was built on the old one), then warnings (it
probably changes a model's behaviour), then informational passes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from storage.records import (
    CheckStatus,
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    ValidationCheck,
    ValidationResult,
)

MISSING_RISE_POINTS = 5.0  # warn when the missing share rises by more than this many points
MEAN_SHIFT_STDS = 0.5  # warn when a mean moves by more than this many previous stds
CATEGORY_SHIFT_TVD = 0.2  # warn when category shares move by more than this (total variation)
RENAME_NAME_RATIO = 0.6  # difflib ratio above which two names look alike
LISTED_CATEGORIES = 5

_NUMERIC = {"integer", "float"}
_CATEGORICAL = {"categorical", "boolean"}
_ORDER: dict[CheckStatus, int] = {"fail": 0, "warn": 1, "pass": 2}

Previous = tuple[str, list[ColumnSchema], DatasetProfile]
Current = tuple[list[ColumnSchema], DatasetProfile]


def validate_against(previous: Previous | None, current: Current) -> ValidationResult:
    """Compare `current` with `previous` (label, schema, profile); None for a first version."""
    if previous is None:
        first = ValidationCheck(
            "first version", "pass", None, "nothing to compare against: this is the first version"
        )
        return ValidationResult(against=None, checks=[first])
    label, old_schema, old_profile = previous
    new_schema, new_profile = current
    old_columns = {c.name: c for c in old_schema}
    new_columns = {c.name: c for c in new_schema}
    removed = [c for c in old_schema if c.name not in new_columns]
    added = [c for c in new_schema if c.name not in old_columns]
    renames = _likely_renames(removed, added, old_profile, new_profile)
    checks = [*_structure_checks(label, removed, added, renames)]
    type_changes = 0
    for new in new_schema:
        old = old_columns.get(new.name)
        if old is None:
            continue
        before, after = old_profile.column(new.name), new_profile.column(new.name)
        if old.logical_type != new.logical_type:
            type_changes += 1
            checks.append(_type_change(label, old, new, before, after))
        if before is None or after is None:
            continue
        checks.extend(_column_checks(label, old, new, before, after, old_profile, new_profile))
    checks.append(
        ValidationCheck(
            "row count",
            "pass",
            None,
            f"{old_profile.rows:,} rows in {label}, {new_profile.rows:,} now "
            f"({new_profile.rows - old_profile.rows:+,})",
        )
    )
    if not removed and not added and not type_changes:
        checks.append(
            ValidationCheck(
                "schema",
                "pass",
                None,
                f"same {len(new_schema)} columns with the same types as {label}",
            )
        )
    checks.sort(key=lambda check: _ORDER[check.status])
    return ValidationResult(against=label, checks=checks)


def _structure_checks(
    label: str,
    removed: list[ColumnSchema],
    added: list[ColumnSchema],
    renames: dict[str, tuple[str, str]],
) -> Iterable[ValidationCheck]:
    """Removed columns fail (whatever used them breaks); a likely rename says so."""
    renamed_to = {new: (old, why) for old, (new, why) in renames.items()}
    for column in removed:
        reason = f"{column.name!r} ({column.logical_type}) is in {label} but not in this version"
        if column.name in renames:
            reason += f"; looks renamed to {renames[column.name][0]!r}"
        yield ValidationCheck("columns removed", "fail", column.name, reason)
    for column in added:
        if column.name in renamed_to:
            old, why = renamed_to[column.name]
            yield ValidationCheck(
                "renamed?",
                "warn",
                column.name,
                f"{column.name!r} is new and {old!r} is gone: same type ({column.logical_type})"
                f" and {why}, so it looks like a rename; what used {old!r} must be updated",
            )
        else:
            yield ValidationCheck(
                "columns added",
                "warn",
                column.name,
                f"{column.name!r} ({column.logical_type}) is new: not in {label}",
            )


def _likely_renames(
    removed: list[ColumnSchema],
    added: list[ColumnSchema],
    old_profile: DatasetProfile,
    new_profile: DatasetProfile,
) -> dict[str, tuple[str, str]]:
    """Pair removed with added columns of the same type and a similar name or statistics.

    Returns {old name: (new name, why)}; each column is paired at most once, best first.
    """
    candidates: list[tuple[float, str, str, str]] = []
    for old in removed:
        for new in added:
            if old.logical_type != new.logical_type:
                continue
            ratio = difflib.SequenceMatcher(None, old.name.lower(), new.name.lower()).ratio()
            same_stats = _same_statistics(
                old_profile.column(old.name), new_profile.column(new.name)
            )
            if ratio >= RENAME_NAME_RATIO and same_stats:
                why = "a similar name and near-identical statistics"
            elif ratio >= RENAME_NAME_RATIO:
                why = f"a similar name ({ratio:.0%} alike)"
            elif same_stats:
                why = "near-identical statistics"
            else:
                continue
            candidates.append((ratio + (1.0 if same_stats else 0.0), old.name, new.name, why))
    pairs: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    for _, old_name, new_name, why in sorted(candidates, reverse=True):
        if old_name not in pairs and new_name not in taken:
            pairs[old_name] = (new_name, why)
            taken.add(new_name)
    return pairs


def _same_statistics(old: ColumnProfile | None, new: ColumnProfile | None) -> bool:
    """Whether two columns hold (nearly) the same values, judged from their profiles."""
    if old is None or new is None or (old.distinct == 0 and new.distinct == 0):
        return False
    if abs(old.missing_pct - new.missing_pct) > 1.0:
        return False
    if abs(old.distinct - new.distinct) > 0.05 * max(old.distinct, new.distinct):
        return False
    if old.mean is not None and new.mean is not None:
        scale = max(old.std or 0.0, abs(old.mean) * 1e-6, 1e-12)
        if abs(old.mean - new.mean) > 0.05 * scale:
            return False
        if old.std is not None and new.std is not None:
            return abs(old.std - new.std) <= 0.05 * max(old.std, 1e-12)
        return True
    if old.categories is not None or new.categories is not None:
        return old.categories == new.categories
    return [v for v, _ in old.top_values[:3]] == [v for v, _ in new.top_values[:3]]


def _type_change(
    label: str,
    old: ColumnSchema,
    new: ColumnSchema,
    before: ColumnProfile | None,
    after: ColumnProfile | None,
) -> ValidationCheck:
    """A changed logical type fails, except changes that keep the values usable.

    integer <-> float still feeds a numeric model, and string <-> categorical only means the
    number of distinct values crossed the category limit: both are warnings.
    """
    kinds = {old.logical_type, new.logical_type}
    mild = kinds <= _NUMERIC or kinds == {"string", "categorical"}
    reason = f"was {old.logical_type}, now {new.logical_type}"
    if kinds == {"string", "categorical"} and before is not None and after is not None:
        reason += f" ({before.distinct:,} distinct values in {label}, now {after.distinct:,})"
    elif old.physical_type != new.physical_type:
        reason += f" (stored as {old.physical_type} in {label}, now {new.physical_type})"
    return ValidationCheck("type changed", "warn" if mild else "fail", new.name, reason)


def _column_checks(
    label: str,
    old: ColumnSchema,
    new: ColumnSchema,
    before: ColumnProfile,
    after: ColumnProfile,
    old_profile: DatasetProfile,
    new_profile: DatasetProfile,
) -> Iterable[ValidationCheck]:
    name = new.name
    if after.missing > 0 and (
        before.missing == 0 or after.missing_pct - before.missing_pct > MISSING_RISE_POINTS
    ):
        yield ValidationCheck(
            "new missing values",
            "warn",
            name,
            f"{before.missing_pct:.1f}% missing in {label}, now {after.missing_pct:.1f}% "
            f"({after.missing:,} of {new_profile.rows:,} rows)",
        )
    if old.logical_type in _NUMERIC and new.logical_type in _NUMERIC:
        yield from _numeric_checks(label, name, before, after)
    if old.logical_type in _CATEGORICAL and new.logical_type == old.logical_type:
        yield from _category_checks(label, name, before, after, old_profile, new_profile)


def _numeric_checks(
    label: str, name: str, before: ColumnProfile, after: ColumnProfile
) -> Iterable[ValidationCheck]:
    old_min, old_max = _number(before.min), _number(before.max)
    new_min, new_max = _number(after.min), _number(after.max)
    if old_min is not None and old_max is not None and new_min is not None and new_max is not None:
        sides = []
        if new_min < old_min:
            sides.append("below the old minimum")
        if new_max > old_max:
            sides.append("above the old maximum")
        if sides:
            yield ValidationCheck(
                "out of range",
                "warn",
                name,
                f"{label} range was [{_fmt(old_min)}, {_fmt(old_max)}]; now min {_fmt(new_min)},"
                f" max {_fmt(new_max)} ({' and '.join(sides)})",
            )
    if before.mean is None or after.mean is None or before.std is None:
        return
    moved = after.mean - before.mean
    if before.std > 0:
        if abs(moved) > MEAN_SHIFT_STDS * before.std:
            yield ValidationCheck(
                "distribution shift",
                "warn",
                name,
                f"mean {_fmt(before.mean)} in {label}, now {_fmt(after.mean)}: moved "
                f"{abs(moved) / before.std:.2f} × the std in {label} ({_fmt(before.std)}), "
                f"more than {MEAN_SHIFT_STDS}",
            )
    elif moved != 0 or (after.std or 0) > 0:
        yield ValidationCheck(
            "distribution shift",
            "warn",
            name,
            f"always {_fmt(before.mean)} in {label}, now mean {_fmt(after.mean)}, "
            f"std {_fmt(after.std)}",
        )


def _category_checks(
    label: str,
    name: str,
    before: ColumnProfile,
    after: ColumnProfile,
    old_profile: DatasetProfile,
    new_profile: DatasetProfile,
) -> Iterable[ValidationCheck]:
    if before.categories is not None and after.categories is not None:
        known = set(before.categories)
        unseen = [c for c in after.categories if c not in known]
        if unseen:
            listed = ", ".join(repr(c) for c in unseen[:LISTED_CATEGORIES])
            more = len(unseen) - LISTED_CATEGORIES
            listed += f" and {more} more" if more > 0 else ""
            yield ValidationCheck(
                "new categories",
                "warn",
                name,
                f"{len(unseen)} value{'s' if len(unseen) != 1 else ''} not seen in {label}: "
                f"{listed}",
            )
    old_shares = _shares(before, old_profile.rows)
    new_shares = _shares(after, new_profile.rows)
    if not old_shares or not new_shares:
        return
    distance, movers = _total_variation(old_shares, new_shares)
    if distance > CATEGORY_SHIFT_TVD:
        moved = ", ".join(
            f"{value!r} {old_shares.get(value, 0.0):.0%} → {new_shares.get(value, 0.0):.0%}"
            for value in movers[:3]
        )
        yield ValidationCheck(
            "distribution shift",
            "warn",
            name,
            f"value shares moved by {distance:.2f} (total variation distance, more than "
            f"{CATEGORY_SHIFT_TVD}): {moved}",
        )


def _shares(profile: ColumnProfile, rows: int) -> dict[str, float]:
    """Each top value's share of the non-missing rows."""
    present = rows - profile.missing
    if present <= 0:
        return {}
    return {value: count / present for value, count in profile.top_values}


def _total_variation(old: dict[str, float], new: dict[str, float]) -> tuple[float, list[str]]:
    """Total variation distance over the values both top lists name plus one "rest" bucket.

    Top lists are cut at ten values; merging the unlisted ones into a single bucket per side
    gives a lower bound of the true distance, so a cut list never raises a false alarm.
    A category new to this version lands in the rest bucket and still counts.
    """
    shared = [v for v in old if v in new]
    gaps = [abs(old[v] - new[v]) for v in shared]
    rest_old = max(0.0, 1.0 - sum(old[v] for v in shared))
    rest_new = max(0.0, 1.0 - sum(new[v] for v in shared))
    distance = 0.5 * (sum(gaps) + abs(rest_old - rest_new))
    every = {v: abs(old.get(v, 0.0) - new.get(v, 0.0)) for v in {*old, *new}}
    return distance, sorted(every, key=lambda v: (-every[v], v))


def _number(value: float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None) -> str:
    """Numbers as people read them: 1,234.5 / 64.85 / 0.0123."""
    if value is None:
        return "?"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"
