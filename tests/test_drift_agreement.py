"""The drift engine against Evidently 0.7 itself: on the same generated frames,
`Report([DataDriftPreset(...)], include_tests=True)` and `detect_drift` give every column the
same test, the same verdict, and a score within 1e-6, and the same dataset count and share.

Each report covers many cases as columns (Evidently costs seconds per report): numeric,
shifted, heavy-tailed, missing values, ±inf, integers of many values, integer-coded
categories, binary, low-cardinality floats, strings, unseen categories, booleans, pandas
categories, constant columns, with a large (> 1000 rows) and a small reference, one whose
missing values take it under 1000 rows, and per-column and global overrides.

Deliberate differences, tested in tests/test_drift_engine.py instead: a column all missing
on a side makes Evidently's whole report fail (ValueError), where the engine reports that
column untested with a note; a column only in the current data also fails Evidently's
report, and is reported here; Evidently's dataset count leaves ±inf in a column that has
no NaN on that side (its per-column result drops them), so that count can differ from the
sum of its own column verdicts, which is what the engine counts; strings of many distinct
values are "text" to Evidently (a classifier test) and categories here, so no case below
has them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.drift import ColumnRule, DriftOptions, detect_drift

TOLERANCE = 1e-6


def _columns(rng: np.random.Generator, rows: int, current: bool) -> dict[str, Any]:
    """One row set of every case; `current` shifts some of them."""
    shift = 1.0 if current else 0.0

    def pick(values: list[Any], p: list[float] | None = None) -> np.ndarray:
        return rng.choice(np.array(values, dtype=object), rows, p=p)

    normal = rng.normal(size=rows)
    with_nan = np.where(rng.random(rows) < 0.1, np.nan, rng.normal(0.05 * shift, 1, rows))
    with_inf = rng.normal(0.2 * shift, 1, rows)
    with_inf[rng.random(rows) < 0.02] = np.inf
    with_inf[rng.random(rows) < 0.02] = -np.inf
    return {
        "normal_same": normal,
        "normal_shift": rng.normal(0.3 * shift, 1, rows),
        "normal_offset_scaled": rng.normal(1e4, 1 + shift, rows),
        "lognormal": rng.lognormal(3, 1 + 0.1 * shift, rows),
        "nan_some": with_nan,
        "inf_some": with_inf,
        "int_many": rng.integers(0, 100 + int(20 * shift), rows),
        "int_codes": rng.choice(7, rows, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05]),
        "int_codes_shift": rng.choice(7, rows, p=[0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1])
        if current
        else rng.choice(7, rows),
        "int_binary": rng.integers(0, 2, rows),
        "float_three": rng.choice([0.0, 1.0, 2.0], rows, p=[0.5, 0.3, 0.2]),
        "float_binary": rng.choice([0.0, 1.0], rows, p=[0.7 - 0.3 * shift, 0.3 + 0.3 * shift]),
        "float_eight": rng.choice(8, rows).astype(float),
        "str_cat": pick(["red", "green", "blue", "cyan", "grey"]),
        "str_shift": pick(["a", "b", "c", "d"], [0.1, 0.2, 0.3, 0.4] if current else None),
        "str_unseen": pick(["a", "b", "c", "new"] if current else ["a", "b", "c"]),
        "str_binary": pick(["yes", "no"], [0.5 + 0.2 * shift, 0.5 - 0.2 * shift]),
        "str_missing": pick(["x", "y", "z", None], [0.3, 0.3, 0.3, 0.1]),
        "bool_col": rng.random(rows) < 0.4 + 0.2 * shift,
        "category_col": pd.Categorical(pick(["s", "m", "l"]), categories=["s", "m", "l", "xl"]),
        "const_float": np.ones(rows),
        "const_str": np.array(["same"] * rows, dtype=object),
    }


def _frames(seed: int, reference_rows: int, current_rows: int) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    return (
        pd.DataFrame(_columns(rng, reference_rows, False)),
        pd.DataFrame(_columns(rng, current_rows, True)),
    )


@dataclass(frozen=True)
class Case:
    """One Evidently report: frames, the preset's arguments and ours, and the test names
    Evidently reports per column (labels for its own choices, names for overrides)."""

    reference: pd.DataFrame
    current: pd.DataFrame
    preset: dict[str, Any] = field(default_factory=dict)
    options: DriftOptions = field(default_factory=DriftOptions)


def _boundary_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """1100 rows, one column with 20% missing: Evidently counts the reference after
    dropping them (880 rows: K-S), the full column stays above 1000 (Wasserstein)."""
    rng = np.random.default_rng(7)
    reference = pd.DataFrame(
        {
            "full": rng.normal(size=1100),
            "mostly": np.where(rng.random(1100) < 0.2, np.nan, rng.normal(size=1100)),
            "codes": rng.choice(["p", "q", "r"], 1100).astype(object),
        }
    )
    current = pd.DataFrame(
        {
            "full": rng.normal(0.2, 1, 700),
            "mostly": rng.normal(0.3, 1, 700),
            "codes": rng.choice(["p", "q", "r"], 700, p=[0.5, 0.3, 0.2]).astype(object),
        }
    )
    return reference, current


def _override_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)

    def table(rows: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "num_psi": rng.normal(shift, 1, rows),
                "num_js": rng.gamma(2 + shift, 1, rows),
                "num_ks": rng.normal(0.1 * shift, 1, rows),
                "int_js": rng.integers(0, 40 + int(10 * shift), rows),
                "int_psi_narrow": rng.integers(0, 25, rows),
                "num_threshold": rng.normal(0.07 * shift, 1, rows),
                "cat_chi": rng.choice(["a", "b", "c"], rows).astype(object),
                "cat_psi": rng.choice(["a", "b", "c", "d"], rows).astype(object),
                "cat_threshold": rng.choice(
                    ["u", "v"], rows, p=[0.5 + shift / 5, 0.5 - shift / 5]
                ).astype(object),
            }
        )

    return table(4000, 0.0), table(900, 1.0)


def _cases() -> dict[str, Case]:
    overrides = {
        "num_psi": "psi",
        "num_js": "jensenshannon",
        "num_ks": "ks",
        "int_js": "jensenshannon",
        "int_psi_narrow": "psi",
        "cat_chi": "chisquare",
        "cat_psi": "psi",
    }
    thresholds = {"num_threshold": 0.05, "cat_threshold": 0.3, "num_psi": 0.5}
    rules = {name: ColumnRule(method=method) for name, method in overrides.items()}
    for name, threshold in thresholds.items():
        rules[name] = ColumnRule(method=overrides.get(name), threshold=threshold)
    small_ref, small_cur = _frames(3, 600, 400)
    return {
        "large reference": Case(*_frames(1, 3000, 800)),
        "small reference": Case(small_ref, small_cur),
        "large reference, no shift": Case(*_frames(2, 2500, 2500)),
        "missing values under 1000": Case(*_boundary_frames()),
        "per-column overrides": Case(
            *_override_frames(),
            preset={"per_column_method": overrides, "per_column_threshold": thresholds},
            options=DriftOptions(rules=rules),
        ),
        "global method and threshold": Case(
            small_ref[["normal_shift", "float_eight", "str_shift", "str_cat"]],
            small_cur[["normal_shift", "float_eight", "str_shift", "str_cat"]],
            preset={"method": "psi", "threshold": 0.2, "drift_share": 0.3},
            options=DriftOptions(method="psi", threshold=0.2, drift_share=0.3),
        ),
    }


CASES = _cases()


@dataclass(frozen=True)
class EvidentlyColumn:
    method: str
    score: float
    drifted: bool


def _run_evidently(case: Case) -> tuple[dict[str, EvidentlyColumn], float, float]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset(**case.preset)], include_tests=True).run(
            case.current, case.reference
        )
    data = snapshot.dict()
    verdicts = {
        t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
        for t in data["tests"]
        if t["metric_config"]["params"]["type"].endswith("ValueDrift")
    }
    columns: dict[str, EvidentlyColumn] = {}
    count = share = float("nan")
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            count, share = metric["value"]["count"], metric["value"]["share"]
        elif config["type"].endswith("ValueDrift"):
            name = config["column"]
            columns[name] = EvidentlyColumn(
                config["method"], float(metric["value"]), verdicts[name]
            )
    return columns, count, share


@pytest.fixture(scope="module")
def evidently_results() -> dict[str, tuple[dict[str, EvidentlyColumn], float, float]]:
    return {name: _run_evidently(case) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_every_column_gets_evidentlys_test_verdict_and_score(
    name: str, evidently_results: dict[str, tuple[dict[str, EvidentlyColumn], float, float]]
) -> None:
    case = CASES[name]
    theirs, _, _ = evidently_results[name]
    ours = detect_drift(case.reference, case.current, case.options)
    assert len(theirs) >= min(4, case.reference.shape[1])  # Evidently tested the columns
    mismatches = []
    for column, expected in theirs.items():
        got = ours.column(column)
        method = got.method if expected.method == got.method else got.method_label
        if (
            method != expected.method
            or got.drifted != expected.drifted
            or got.score is None
            or abs(got.score - expected.score) > TOLERANCE
        ):
            mismatches.append(f"{column}: ours {got}, Evidently {expected}")
    assert mismatches == []
    untested = {c.column for c in ours.columns if not c.tested}
    assert set(theirs) == {c.column for c in ours.columns} - untested


def _inf_without_nan(case: Case) -> set[str]:
    """Columns holding ±inf but no NaN on a side: Evidently's dataset count (its legacy
    DatasetDriftMetric) skips cleaning a side without NaN, so their score is NaN and they
    never count as drifted there, although its own ValueDrift (and this engine) drops ±inf
    and tests them (their score in that count is NaN for distances, any p-value for K-S)."""
    names = set()
    for frame in (case.reference, case.current):
        for name in frame.columns:
            values = frame[name]
            floats = pd.api.types.is_float_dtype(values)
            if floats and np.isinf(values).any() and not values.isna().any():
                names.add(str(name))
    return names


@pytest.mark.parametrize("name", list(CASES))
def test_dataset_count_and_share_match_evidently(
    name: str, evidently_results: dict[str, tuple[dict[str, EvidentlyColumn], float, float]]
) -> None:
    case = CASES[name]
    columns, count, share = evidently_results[name]
    ours = detect_drift(case.reference, case.current, case.options)
    verdicts = sum(c.drifted for c in columns.values())
    assert ours.drifted_count == verdicts
    assert ours.tested_count == len(columns)
    assert ours.share == pytest.approx(verdicts / len(columns), abs=1e-12)
    assert ours.drifted == (ours.share >= ours.threshold)
    raw_inf = _inf_without_nan(case)
    assert abs(count - verdicts) <= len(raw_inf)
    if not raw_inf:
        assert ours.drifted_count == count
        assert ours.share == pytest.approx(share, abs=1e-12)


def test_evidentlys_dataset_count_skips_inf_columns_without_nan(
    evidently_results: dict[str, tuple[dict[str, EvidentlyColumn], float, float]],
) -> None:
    """The one known place where Evidently disagrees with itself is really exercised."""
    case = CASES["large reference"]
    columns, count, _ = evidently_results["large reference"]
    assert _inf_without_nan(case) == {"inf_some"}
    assert columns["inf_some"].drifted
    assert count == sum(c.drifted for c in columns.values()) - 1


def test_the_cases_cover_every_default_test_and_both_verdicts(
    evidently_results: dict[str, tuple[dict[str, EvidentlyColumn], float, float]],
) -> None:
    """The generated frames are not all alike: every default test and override appears,
    and each of Evidently's default tests both drifts and holds somewhere."""
    seen: dict[str, set[bool]] = {}
    for columns, _, _ in evidently_results.values():
        for column in columns.values():
            seen.setdefault(column.method, set()).add(column.drifted)
    for label in (
        "Wasserstein distance (normed)",
        "Jensen-Shannon distance",
        "K-S p_value",
        "chi-square p_value",
        "Z-test p_value",
    ):
        assert seen.get(label) == {True, False}, label
    assert {"psi", "jensenshannon", "ks", "chisquare"} <= set(seen)
