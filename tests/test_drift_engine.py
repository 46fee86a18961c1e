"""The drift engine against SciPy (every prepared formulation within 1e-9 of the SciPy call
it replaces, on generated cases), its options and overrides, its one-line errors, and the
edge cases a live window meets (missing columns, empty windows, all-missing columns)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, chisquare, ks_2samp, wasserstein_distance

from pipelines.drift import (
    ColumnRule,
    DriftError,
    DriftOptions,
    PreparedReference,
    detect_drift,
)
from pipelines.drift.stats import (
    counts_in_bins,
    ecdf_integral,
    sturges_edges,
    wasserstein_sorted,
)
from storage.errors import WorkbenchError

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-9


def close(ours: float | None, scipy_value: float) -> bool:
    """Within 1e-9, relative for values above 1 (a normed distance of a constant reference
    is divided by 0.001 and can be large)."""
    assert ours is not None
    return abs(ours - scipy_value) <= TOLERANCE * max(1.0, abs(scipy_value))


def _samples(rng: np.random.Generator, case: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of samples of every awkward shape: sizes from 1 to 200k, ties, heavy tails,
    a large offset, a window drawn from the reference, disjoint ranges."""
    n = int(rng.choice([1, 2, 3, 7, 50, 999, 1001, 5000, 200_000]))
    m = int(rng.choice([1, 2, 5, 100, 1000, 50_000]))
    kind = case % 6
    if kind == 0:
        return rng.normal(size=n), rng.normal(rng.normal(), rng.uniform(0.5, 2), m)
    if kind == 1:
        return rng.integers(0, 5, n).astype(float), rng.integers(0, 7, m).astype(float)
    if kind == 2:
        return rng.lognormal(0, 2, n), rng.lognormal(0.5, 2, m)
    if kind == 3:
        return 1e6 + rng.normal(size=n), 1e6 + rng.normal(0.01, 1, m)
    if kind == 4:
        reference = rng.normal(size=n)
        return reference, rng.choice(reference, m)
    return rng.normal(size=n), rng.normal(100 if case % 12 == 5 else -100, 1, m)


@pytest.mark.parametrize("seed", range(4))
def test_prepared_wasserstein_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for case in range(60):
        reference, current = _samples(rng, case)
        ref, cur = np.sort(reference), np.sort(current)
        ours = wasserstein_sorted(ref, ecdf_integral(ref), cur)
        assert close(ours, wasserstein_distance(reference, current)), (case, ref.size, cur.size)


def test_engine_wasserstein_is_scipys_normed_by_the_reference_std() -> None:
    rng = np.random.default_rng(10)
    for case in range(30):
        reference, current = _samples(rng, case)
        if reference.size <= 1000 or np.unique(np.concatenate([reference, current])).size <= 5:
            continue
        result = detect_drift(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}))
        column = result.column("x")
        expected = wasserstein_distance(reference, current) / max(np.std(reference), 0.001)
        assert column.method == "wasserstein"
        assert close(column.score, expected)
        assert column.drifted == (expected >= 0.1)


def test_ks_matches_scipy_on_small_references_with_missing_values() -> None:
    rng = np.random.default_rng(11)
    for case in range(20):
        n, m = int(rng.integers(10, 1000)), int(rng.integers(5, 3000))
        reference = rng.normal(size=n)
        current = rng.normal(rng.uniform(0, 0.5), 1, m)
        reference[rng.random(n) < 0.1] = np.nan
        current[rng.random(m) < 0.05] = np.inf
        result = detect_drift(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}))
        column = result.column("x")
        expected = ks_2samp(reference[np.isfinite(reference)], current[np.isfinite(current)])
        assert column.method == "ks", case
        assert close(column.score, expected.pvalue)
        assert column.drifted == (expected.pvalue <= 0.05)


def _category_arrays(rng: np.random.Generator, n: int, m: int, unseen: bool) -> tuple:
    labels = [f"c{i}" for i in range(int(rng.integers(3, 12)))]
    reference = rng.choice(labels, n)
    current = rng.choice([*labels, "new"] if unseen else labels, m)
    return reference.astype(object), current.astype(object)


def _counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = pd.Series(reference).value_counts(), pd.Series(current).value_counts()
    keys = ref.index.union(cur.index)
    return ref.reindex(keys, fill_value=0).to_numpy(), cur.reindex(keys, fill_value=0).to_numpy()


def test_chisquare_matches_scipy_on_small_references() -> None:
    rng = np.random.default_rng(12)
    for case in range(20):
        reference, current = _category_arrays(rng, 600, int(rng.integers(50, 2000)), case % 4 == 0)
        result = detect_drift(pd.DataFrame({"c": reference}), pd.DataFrame({"c": current}))
        column = result.column("c")
        ref, cur = _counts(reference, current)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = chisquare(cur, ref * cur.sum() / ref.sum()).pvalue
        assert column.method == "chisquare"
        assert close(column.score, expected)
        assert column.drifted == (expected < 0.05)


def test_jensenshannon_matches_scipy_on_category_shares() -> None:
    rng = np.random.default_rng(13)
    for case in range(20):
        reference, current = _category_arrays(rng, 5000, int(rng.integers(20, 5000)), case % 3 == 0)
        result = detect_drift(pd.DataFrame({"c": reference}), pd.DataFrame({"c": current}))
        ref, cur = _counts(reference, current)
        expected = jensenshannon(ref / ref.sum(), cur / cur.sum())
        assert result.column("c").method == "jensenshannon"
        assert close(result.column("c").score, expected)


def test_z_test_matches_scipys_two_by_two_chi_square() -> None:
    """The two-proportion Z-test is the uncorrected chi-square test of the 2×2 table."""
    rng = np.random.default_rng(14)
    for case in range(20):
        n, m = int(rng.integers(20, 1000)), int(rng.integers(20, 5000))
        reference = rng.random(n) < rng.uniform(0.1, 0.9)
        current = rng.random(m) < rng.uniform(0.1, 0.9)
        result = detect_drift(pd.DataFrame({"b": reference}), pd.DataFrame({"b": current}))
        table = [[reference.sum(), n - reference.sum()], [current.sum(), m - current.sum()]]
        expected = chi2_contingency(table, correction=False).pvalue
        assert result.column("b").method == "z", case
        assert close(result.column("b").score, expected)


@pytest.mark.parametrize("integer", [False, True])
def test_sturges_bins_match_numpy_and_binned_scores_match_scipy(integer: bool) -> None:
    rng = np.random.default_rng(15)
    for case in range(25):
        n, m = int(rng.integers(30, 20_000)), int(rng.integers(1, 5000))
        if integer:
            reference = rng.integers(0, int(rng.integers(21, 200)), n)
            current = rng.integers(int(rng.integers(-5, 5)), 60, m)
        else:
            reference = rng.normal(size=n)
            current = rng.normal(rng.uniform(-1, 1), 1, m)
        both = np.concatenate([reference, current])
        edges = np.histogram_bin_edges(both, bins="sturges")
        ref, cur = np.sort(reference).astype(float), np.sort(current).astype(float)
        assert np.array_equal(sturges_edges(ref, cur, integer), edges), case
        assert np.array_equal(counts_in_bins(ref, edges), np.histogram(reference, edges)[0])
        frames = pd.DataFrame({"x": reference}), pd.DataFrame({"x": current})
        p = np.histogram(reference, edges)[0] / n
        q = np.histogram(current, edges)[0] / m
        options = DriftOptions(numerical=("x",), rules={"x": ColumnRule(method="jensenshannon")})
        assert close(detect_drift(*frames, options).column("x").score, jensenshannon(p, q))
        psi = detect_drift(*frames, DriftOptions(numerical=("x",), method="psi")).column("x")
        p = np.where(
            p == 0, min(p[p > 0].min() / 1e6, 0.0001) if p[p > 0].min() <= 1e-4 else 1e-4, p
        )
        q = np.where(q == 0, q[q > 0].min() / 1e6 if q[q > 0].min() <= 1e-4 else 1e-4, q)
        assert close(psi.score, float(np.sum((p - q) * np.log(p / q))))


def _floored(share: np.ndarray) -> np.ndarray:
    """Evidently's PSI floor for empty bins: a millionth of the smallest share when that is
    at most 1e-4, else 1e-4."""
    smallest = share[share > 0].min()
    return np.where(share == 0, smallest / 1e6 if smallest <= 1e-4 else 1e-4, share)


def _mixed(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, rows),
            "y": rng.normal(0, 1, rows),
            "codes": rng.integers(0, 4, rows),
            "plan": rng.choice(["a", "b", "c"], rows).astype(object),
        }
    )


def test_kinds_and_default_methods() -> None:
    result = detect_drift(_mixed(3000, 0), _mixed(500, 1))
    assert [(c.column, c.kind, c.method) for c in result.columns] == [
        ("x", "num", "wasserstein"),
        ("y", "num", "wasserstein"),
        ("codes", "cat", "jensenshannon"),
        ("plan", "cat", "jensenshannon"),
    ]
    small = detect_drift(_mixed(300, 0), _mixed(500, 1))
    assert [c.method for c in small.columns] == ["ks", "ks", "chisquare", "chisquare"]
    assert small.column("x").method_label == "K-S p_value"
    assert small.column("x").threshold == 0.05


def test_rules_and_global_overrides() -> None:
    reference, current = _mixed(3000, 0), _mixed(500, 1, shift=0.15)
    default = detect_drift(reference, current)
    assert default.column("x").drifted
    loose = DriftOptions(rules={"x": ColumnRule(threshold=0.5)})
    assert not detect_drift(reference, current, loose).column("x").drifted
    assert detect_drift(reference, current, loose).column("x").threshold == 0.5
    ks = detect_drift(reference, current, DriftOptions(rules={"x": ColumnRule(method="ks")}))
    assert ks.column("x").method == "ks"
    assert close(ks.column("x").score, ks_2samp(reference["x"], current["x"]).pvalue)
    # A global method applies where it fits; categorical columns keep their default.
    every = detect_drift(reference, current, DriftOptions(method="wasserstein", threshold=0.3))
    assert [c.method for c in every.columns] == [
        "wasserstein",
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
    ]
    assert {c.threshold for c in every.columns} == {0.3}
    forced = DriftOptions(categorical=("x",), numerical=("codes",))
    kinds = {c.column: (c.kind, c.method) for c in detect_drift(reference, current, forced).columns}
    assert kinds["x"] == ("cat", "jensenshannon")
    assert kinds["codes"] == ("num", "jensenshannon")  # 4 values: still Jensen-Shannon
    only = detect_drift(reference, current, DriftOptions(columns=("plan", "x")))
    assert [c.column for c in only.columns] == ["plan", "x"]


def test_dataset_share_rule() -> None:
    reference, current = _mixed(3000, 0), _mixed(3000, 1, shift=1.0)
    result = detect_drift(reference, current)
    assert [c.drifted for c in result.columns] == [True, False, False, False]
    assert result.drifted_count == 1 and result.share == 0.25
    assert not result.drifted
    assert detect_drift(reference, current, DriftOptions(drift_share=0.25)).drifted
    assert result.reference_rows == 3000 and result.current_rows == 3000


def _error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DriftError) as caught:
        call()
    message = str(caught.value)
    assert isinstance(caught.value, WorkbenchError) and "\n" not in message and message
    return message


def test_bad_input_raises_one_line_errors() -> None:
    frame = _mixed(100, 0)
    prepare = PreparedReference.prepare
    assert "no rows" in _error(lambda: prepare(frame.iloc[:0]))
    assert "no columns" in _error(lambda: prepare(pd.DataFrame()))
    assert "DataFrame" in _error(lambda: prepare([1, 2]))  # type: ignore[arg-type]
    assert "'bogus'" in _error(lambda: prepare(frame, DriftOptions(method="bogus")))
    bad_rule = DriftOptions(rules={"x": ColumnRule(method="kolmogorov")})
    assert "'kolmogorov'" in _error(lambda: prepare(frame, bad_rule))
    unfit = DriftOptions(rules={"plan": ColumnRule(method="wasserstein")})
    assert "'plan'" in _error(lambda: prepare(frame, unfit))
    assert "'nope'" in _error(lambda: prepare(frame, DriftOptions(columns=("x", "nope"))))
    assert "'nope'" in _error(lambda: prepare(frame, DriftOptions(categorical=("nope",))))
    assert "share" in _error(lambda: prepare(frame, DriftOptions(drift_share=1.5)))
    negative = DriftOptions(rules={"x": ColumnRule(threshold=-1)})
    assert "'x'" in _error(lambda: prepare(frame, negative))
    both = DriftOptions(categorical=("x",), numerical=("x",))
    assert "'x'" in _error(lambda: prepare(frame, both))
    twice = pd.concat([frame, frame[["x"]]], axis=1)
    assert "'x' twice" in _error(lambda: prepare(twice))
    named = prepare(frame, DriftOptions(columns=("x", "plan")))
    assert "'plan'" in _error(lambda: named.compare(frame[["x"]]))
    assert "DataFrame" in _error(lambda: named.compare("x"))  # type: ignore[arg-type]
    assert "'x' twice" in _error(lambda: named.compare(twice))


def test_columns_on_one_side_and_empty_columns_are_reported_not_tested() -> None:
    reference = _mixed(2000, 0).assign(gone=1.0, empty_ref=np.nan, when=pd.Timestamp(0))
    current = _mixed(400, 1, shift=1.0).assign(arrived="x", empty_ref=1.0, when=pd.Timestamp(0))
    current["y"] = np.nan
    current["plan"] = None
    result = detect_drift(reference, current)
    notes = {c.column: c.note for c in result.columns if not c.tested}
    assert notes == {
        "y": "all values missing in current",
        "plan": "all values missing in current",
        "gone": "missing in current",
        "empty_ref": "all values missing in reference",
        "when": "a datetime64[ns] column is not tested",
        "arrived": "only in current",
    }
    assert all(not c.drifted and c.score is None for c in result.columns if not c.tested)
    assert result.tested_count == 2 and result.drifted_count == 1 and result.drifted
    json.dumps(result.to_dict())  # plain data for --json


def test_an_empty_window_and_a_window_of_the_wrong_type() -> None:
    prepared = PreparedReference.prepare(_mixed(2000, 0))
    empty = prepared.compare(_mixed(0, 1))
    assert {c.note for c in empty.columns} == {"no rows in current"}
    assert empty.share == 0.0 and not empty.drifted and empty.tested_count == 0
    words = _mixed(50, 1).assign(x="ten")
    assert prepared.compare(words).column("x").note == "values are not numeric in current"


def test_constant_columns_and_unseen_categories() -> None:
    reference = pd.DataFrame({"k": np.ones(2000), "s": ["a"] * 2000})
    same = detect_drift(reference, pd.DataFrame({"k": np.ones(300), "s": ["a"] * 300}))
    assert [(c.method, c.score, c.drifted) for c in same.columns] == [
        ("jensenshannon", 0.0, False)
    ] * 2
    moved = detect_drift(reference, pd.DataFrame({"k": np.full(300, 2.0), "s": ["b"] * 300}))
    assert all(c.drifted and close(c.score, np.sqrt(np.log(2))) for c in moved.columns)
    small = detect_drift(reference.iloc[:500], pd.DataFrame({"k": [1.0, 2.0], "s": ["a", "z"]}))
    assert [c.method for c in small.columns] == ["z", "z"]
    constant = detect_drift(reference.iloc[:500], reference.iloc[:40])
    assert [c.score for c in constant.columns] == [1.0, 1.0]


def test_a_prepared_reference_serves_many_windows() -> None:
    reference = _mixed(5000, 0)
    prepared = PreparedReference.prepare(reference)
    for seed in range(3):
        window = _mixed(800, seed + 1, shift=0.1 * seed)
        assert prepared.compare(window) == detect_drift(reference, window)


def test_histograms_for_drawing() -> None:
    prepared = PreparedReference.prepare(_mixed(2000, 0))
    window = _mixed(300, 1, shift=2.0)
    numeric = prepared.histogram("x", window, bins=12)
    assert numeric.kind == "num" and numeric.edges is not None and len(numeric.edges) == 13
    assert numeric.edges[-1] >= window["x"].max()
    assert sum(numeric.reference) == pytest.approx(1) and sum(numeric.current) == pytest.approx(1)
    plans = prepared.histogram("plan", window.assign(plan=["d"] * 300), bins=2)
    assert plans.categories is not None and plans.categories[-1] == "(other)"
    assert len(plans.categories) == 3 and sum(plans.current) == pytest.approx(1)
    assert plans.current[-1] == 1.0  # only the new category "d", folded into (other)
    json.dumps(plans.to_dict())
    assert "'nope'" in _error(lambda: prepared.histogram("nope", window))


def test_non_text_column_labels() -> None:
    reference = pd.DataFrame({0: np.arange(3000.0), 1: ["a", "b", "c"] * 1000})
    result = detect_drift(reference, reference.iloc[:500])
    assert [c.column for c in result.columns] == ["0", "1"]
    assert all(c.tested for c in result.columns)


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = (
        "import sys, pipelines.drift as d; d.DriftOptions(); "
        "print(sorted(m for m in ('numpy', 'pandas', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_threads_give_the_same_result() -> None:
    reference, window = _mixed(5000, 0), _mixed(900, 1, shift=0.2)
    prepared = PreparedReference.prepare(reference)
    assert prepared.compare(window, workers=2) == prepared.compare(window)


def test_overflow_and_unseen_categories_leave_no_warnings() -> None:
    """A window is compared quietly: an overflowing statistic is a note, a category unseen
    in a small reference a chi-square p-value of 0, and neither warns."""
    rng = np.random.default_rng(16)
    reference = pd.DataFrame(
        {"x": rng.normal(size=2000) * 1e307, "s": ["a", "b", "c"] * 666 + ["a"] * 2}
    )
    current = pd.DataFrame({"x": rng.normal(size=300) * 1e307, "s": ["a", "b", "d"] * 100})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = detect_drift(reference, current)
        small = detect_drift(reference.iloc[:600], current)
    assert huge.column("x").note == "Wasserstein distance (normed) gave no number"
    assert small.column("s").method == "chisquare" and small.column("s").score == 0.0
    assert small.column("s").drifted


def test_nullable_pandas_dtypes() -> None:
    rng = np.random.default_rng(17)

    def frame(rows: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "count": pd.array(rng.integers(0, 50, rows), dtype="Int64"),
                "flag": pd.array(rng.random(rows) < 0.5, dtype="boolean"),
                "name": pd.array(rng.choice(["a", "b"], rows), dtype="string"),
            }
        )

    reference, current = frame(3000), frame(500)
    reference.loc[:10, ["count", "flag", "name"]] = pd.NA
    result = detect_drift(reference, current)
    assert [(c.kind, c.method, c.tested) for c in result.columns] == [
        ("num", "wasserstein", True),
        ("cat", "jensenshannon", True),
        ("cat", "jensenshannon", True),
    ]
    expected = wasserstein_distance(
        reference["count"].dropna().to_numpy(float), current["count"].to_numpy(float)
    ) / np.std(reference["count"].dropna().to_numpy(float))
    assert close(result.column("count").score, expected)


def test_histograms_of_columns_no_test_ran_on() -> None:
    reference = pd.DataFrame({"x": [np.nan] * 50, "s": [None] * 50})
    prepared = PreparedReference.prepare(reference)
    window = pd.DataFrame({"x": [1.0, 2.0, np.inf], "s": ["a", "a", None]})
    numeric = prepared.histogram("x", window, bins=2)
    assert numeric.reference == (0.0, 0.0) and numeric.current == (0.5, 0.5)
    empty = prepared.histogram("x", window.iloc[:0], bins=2)
    assert empty.edges == (0.0, 0.5, 1.0) and empty.current == (0.0, 0.0)
    words = prepared.histogram("s", window)
    assert words.categories == ("a",) and words.reference == (0.0,) and words.current == (1.0,)


def test_a_columns_kind_comes_from_the_reference() -> None:
    """Evidently infers kinds from the current data, so an integer column of 12 values whose
    window holds 4 would turn categorical there; here it stays numeric for every window."""
    rng = np.random.default_rng(18)
    prepared = PreparedReference.prepare(pd.DataFrame({"n": rng.integers(0, 12, 3000)}))
    narrow = prepared.compare(pd.DataFrame({"n": rng.integers(0, 4, 400)})).column("n")
    assert (narrow.kind, narrow.method) == ("num", "wasserstein")
