"""Model families and trial evaluation, trained for real on small bundled data sets."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from pipelines.sweeps.families import ModelFamily, ParamSpec, get_family, model_families
from pipelines.sweeps.training import (
    METRICS,
    evaluate,
    fit_final,
    infer_task,
    load_frame,
    metrics_for,
)
from storage.errors import SweepInputError

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = sorted(model_families())
# Small, fast settings for the families with many trees or iterations.
QUICK = {
    "lightgbm": {"n_estimators": 40},
    "random_forest": {"n_estimators": 40},
    "extra_trees": {"n_estimators": 40},
    "hist_gradient_boosting": {"max_iter": 40},
    "linear": {},
}


class Stop(Exception):
    """Raised from inside report(), the way optuna.TrialPruned is."""


@pytest.fixture(scope="module")
def cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.data, data.target


@pytest.fixture(scope="module")
def diabetes() -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    return data.data, data.target


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    return data.data, data.target


@pytest.fixture(scope="module")
def mixed() -> tuple[Any, Any]:
    """Strings, bools, datetimes and gaps; the label ("yes"/"no") follows city and size."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = 240
    city = rng.choice(["paris", "oslo", "rome", "lima"], size=rows)
    size = rng.normal(size=rows)
    signal = (np.isin(city, ["paris", "rome"])).astype(float) + 0.8 * size
    label = np.where(signal + rng.normal(scale=0.3, size=rows) > 0.5, "yes", "no")
    X = pd.DataFrame(
        {
            "city": pd.Series(city, dtype="object"),
            "size": size,
            "member": rng.random(rows) > 0.5,
            "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), "D"),
            "note": pd.Series(rng.choice(["a", "b", None], size=rows), dtype="string"),
        }
    )
    X.loc[::7, "size"] = np.nan
    X.loc[::11, "city"] = None
    return X, pd.Series(label, name="bought")


def middle(spec: ParamSpec) -> Any:
    if spec.kind == "categorical":
        return spec.choices[0]  # type: ignore[index]
    low, high = float(spec.low), float(spec.high)  # type: ignore[arg-type]
    value = math.sqrt(low * high) if spec.log else (low + high) / 2
    return round(value) if spec.kind == "int" else value


def space_params(name: str, task: str) -> dict[str, Any]:
    """The middle of the family's default search space, with the quick overrides."""
    family = get_family(name)
    return {n: middle(s) for n, s in family.search_space(task).items()} | QUICK[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_trains_both_tasks_from_its_own_search_space(
    name: str, cancer: tuple[Any, Any], diabetes: tuple[Any, Any]
) -> None:
    family = get_family(name)
    assert family.tasks == {"classification", "regression"}
    won = evaluate(
        *cancer,
        task="classification",
        family=family,
        params=space_params(name, "classification"),
        metric="accuracy",
        folds=3,
    )
    assert won.value > 0.9 and len(won.fold_scores) == 3
    assert set(won.metrics) == set(metrics_for("classification"))
    fit = evaluate(
        *diabetes,
        task="regression",
        family=family,
        params=space_params(name, "regression"),
        metric="r2",
        folds=3,
    )
    assert fit.value > 0.2 and fit.metrics["rmse"] < 70
    assert set(fit.metrics) == set(metrics_for("regression"))
    assert fit.duration_s > 0 and fit.value_std >= 0
    if name == "hist_gradient_boosting":
        assert won.importances == {}  # it has no importances of its own
    else:
        assert set(won.importances) <= set(cancer[0].columns) and won.importances
        assert math.isclose(sum(won.importances.values()), 1.0)
    assert bool(won.curves) == family.has_iterations


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_metric_ranks_an_informed_model_above_a_noise_model(
    task: str, cancer: tuple[Any, Any], diabetes: tuple[Any, Any]
) -> None:
    import numpy as np
    import pandas as pd

    X, y = cancer if task == "classification" else diabetes
    noise = pd.DataFrame({"noise": np.random.default_rng(1).normal(size=len(y))})
    metric = metrics_for(task)[0]
    kwargs: dict[str, Any] = {"task": task, "family": get_family("linear"), "params": {}}
    good = evaluate(X, y, metric=metric, folds=3, **kwargs).metrics
    poor = evaluate(noise, y, metric=metric, folds=3, **kwargs).metrics
    for name in metrics_for(task):
        assert METRICS[name].task == task
        better = good[name] > poor[name]
        assert better == (METRICS[name].direction == "maximize"), (name, good, poor)


@pytest.mark.parametrize(
    ("data", "task", "metric"),
    [
        ("cancer", "classification", "accuracy"),
        ("cancer", "classification", "f1"),
        ("cancer", "classification", "roc_auc"),
        ("iris", "classification", "f1"),
        ("iris", "classification", "roc_auc"),
        ("iris", "classification", "log_loss"),
        ("diabetes", "regression", "rmse"),
        ("diabetes", "regression", "mae"),
        ("diabetes", "regression", "r2"),
    ],
)
def test_lightgbm_reports_the_sweep_metric_every_iteration_of_the_first_fold(
    data: str, task: str, metric: str, request: pytest.FixtureRequest
) -> None:
    X, y = request.getfixturevalue(data)
    if data == "iris":
        y = y + 5  # labels LightGBM must encode in the validation set too
    steps: list[tuple[int, float]] = []
    result = evaluate(
        X,
        y,
        task=task,
        family=get_family("lightgbm"),
        params={"n_estimators": 25},
        metric=metric,
        folds=3,
        report=lambda step, value: steps.append((step, value)),
    )
    assert [s for s, _ in steps] == list(range(25))
    # The numpy per-iteration scorer agrees with scikit-learn's fold score at the end.
    assert steps[-1][1] == pytest.approx(result.fold_scores[0], rel=1e-6)
    curve = result.curves[f"valid_{metric}"]
    assert len(curve) == 25 and curve[-1] == pytest.approx(result.value, rel=1e-6)
    assert len(result.curves) == 2  # LightGBM's own eval metric as well


@pytest.mark.parametrize(
    ("data", "metric"),
    [
        ("cancer", "accuracy"),
        ("cancer", "roc_auc"),
        ("cancer", "log_loss"),
        ("iris", "log_loss"),
        ("diabetes", "rmse"),
        ("diabetes", "mae"),
    ],
)
def test_built_in_iteration_metrics_give_the_numpy_scorers_curve(
    data: str, metric: str, request: pytest.FixtureRequest
) -> None:
    """Where LightGBM computes the sweep metric itself, every point of the curve and every
    value reported to the pruner is what the numpy scorer gives on the same fit."""
    import numpy as np

    from pipelines.sweeps.boosting import fit_boosted_model
    from pipelines.sweeps.iteration_metrics import iteration_scorer
    from pipelines.sweeps.metrics import METRICS

    X, y = request.getfixturevalue(data)
    order = np.random.default_rng(0).permutation(len(y))  # iris is sorted by class
    X, y = np.asarray(X, dtype=float)[order], np.asarray(y)[order]
    task = "regression" if data == "diabetes" else "classification"
    train, valid = slice(0, len(y) * 2 // 3), slice(len(y) * 2 // 3, None)
    family = get_family("lightgbm")
    reported: list[tuple[int, float]] = []
    model = family.build(task, {"n_estimators": 30}, 0)
    curves = fit_boosted_model(
        model, X[train], y[train], X[valid], y[valid], metric,
        lambda step, value: reported.append((step, value)),
    )  # fmt: skip
    reference = family.build(task, {"n_estimators": 30}, 0)
    scorer = iteration_scorer(metric, METRICS[metric].direction == "maximize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LightGBM 4.7's eval_set deprecation
        reference.fit(
            X[train], y[train], eval_set=[(X[valid], y[valid])], eval_names=["valid"],
            eval_metric=scorer,
        )  # fmt: skip
    expected = reference.evals_result_["valid"][metric]
    assert curves[f"valid_{metric}"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert [v for _, v in reported] == curves[f"valid_{metric}"]
    assert [s for s, _ in reported] == list(range(30))
    assert len(curves) == 2  # LightGBM's own eval metric beside it, as before


@pytest.mark.parametrize("data", ["cancer", "iris", "diabetes"])
def test_a_folds_model_keeping_its_training_booster_predicts_the_same_to_the_bit(
    data: str, request: pytest.FixtureRequest
) -> None:
    """`scored_only` skips LightGBM's model-string round trip after each fold's fit: the
    trees and the predictions are the ones the round trip gives, and LightGBM's own
    `train` is back in place afterwards."""
    import lightgbm.sklearn
    import numpy as np

    from pipelines.sweeps.boosting import fit_boosted_model

    X, y = request.getfixturevalue(data)
    order = np.random.default_rng(1).permutation(len(y))
    X, y = np.asarray(X, dtype=float)[order], np.asarray(y)[order]
    task = "regression" if data == "diabetes" else "classification"
    train, valid = slice(0, len(y) * 2 // 3), slice(len(y) * 2 // 3, None)
    family = get_family("lightgbm")
    params = {"n_estimators": 40, "num_leaves": 15, "learning_rate": 0.2}
    library_train = lightgbm.sklearn.train
    fitted = {}
    for scored_only in (False, True):
        model = family.build(task, params, 0)
        metric = "rmse" if task == "regression" else "accuracy"
        fit_boosted_model(
            model, X[train], y[train], X[valid], y[valid], metric, None, scored_only=scored_only
        )
        assert lightgbm.sklearn.train is library_train
        fitted[scored_only] = model
    kept, round_trip = fitted[True], fitted[False]
    assert kept.booster_.model_to_string() == round_trip.booster_.model_to_string()
    answer = "predict_proba" if task == "classification" else "predict"
    assert np.array_equal(getattr(kept, answer)(X[valid]), getattr(round_trip, answer)(X[valid]))


@pytest.mark.parametrize("data", ["cancer", "iris", "diabetes"])
def test_lightgbm_folds_fitted_at_once_give_the_serial_result_exactly(
    data: str, request: pytest.FixtureRequest
) -> None:
    import numpy as np

    X, y = request.getfixturevalue(data)
    task = "regression" if data == "diabetes" else "classification"
    metric = "rmse" if task == "regression" else "log_loss"
    params = {"n_estimators": 25, "num_leaves": 7}
    results = []
    for threads in (1, 3):
        reported: list[tuple[int, float]] = []
        result = evaluate(
            X, y, task=task, family=get_family("lightgbm"), params=params, metric=metric,
            folds=3, seed=4, report=lambda s, v, r=reported: r.append((s, v)),
            fold_threads=threads,
        )  # fmt: skip
        results.append((result, reported))
    (serial, serial_reports), (parallel, parallel_reports) = results
    assert parallel.fold_scores == serial.fold_scores and parallel.value == serial.value
    assert parallel.metrics == serial.metrics and parallel.curves == serial.curves
    assert parallel.importances == serial.importances
    assert parallel_reports == serial_reports and len(serial_reports) == 25
    assert serial.held_out is not None and parallel.held_out is not None
    for part in ("rows", "folds", "y_true", "y_pred"):
        assert np.array_equal(getattr(parallel.held_out, part), getattr(serial.held_out, part))


def test_other_families_report_the_running_mean_after_each_fold(
    cancer: tuple[Any, Any],
) -> None:
    steps: list[tuple[int, float]] = []
    result = evaluate(
        *cancer,
        task="classification",
        family=get_family("random_forest"),
        params=QUICK["random_forest"],
        metric="log_loss",
        folds=4,
        report=lambda step, value: steps.append((step, value)),
    )
    assert [s for s, _ in steps] == [0, 1, 2, 3] and len(result.fold_scores) == 4
    means = [sum(result.fold_scores[: i + 1]) / (i + 1) for i in range(4)]
    assert [v for _, v in steps] == pytest.approx(means)
    assert result.curves == {}


@pytest.mark.parametrize(("name", "stop_at"), [("lightgbm", 3), ("extra_trees", 1)])
def test_an_exception_raised_inside_report_propagates(
    name: str, stop_at: int, cancer: tuple[Any, Any]
) -> None:
    seen: list[int] = []

    def report(step: int, _value: float) -> None:
        seen.append(step)
        if step == stop_at:
            raise Stop(f"pruned at {step}")

    with pytest.raises(Stop, match=f"pruned at {stop_at}"):
        evaluate(
            *cancer,
            task="classification",
            family=get_family(name),
            params=QUICK[name],
            metric="accuracy",
            report=report,
        )
    assert seen == list(range(stop_at + 1))


@pytest.mark.parametrize("name", ["lightgbm", "linear"])
def test_holdout_scores_one_split(name: str, diabetes: tuple[Any, Any]) -> None:
    steps: list[int] = []
    result = evaluate(
        *diabetes,
        task="regression",
        family=get_family(name),
        params=QUICK[name],
        metric="mae",
        holdout=0.25,
        report=lambda step, _value: steps.append(step),
    )
    assert len(result.fold_scores) == 1 and result.value_std == 0
    assert result.value == result.fold_scores[0] == result.metrics["mae"]
    assert steps == (list(range(40)) if name == "lightgbm" else [0])


@pytest.mark.parametrize("name", FAMILIES)
def test_mixed_columns_and_string_labels_train_and_serve_unseen_values(
    name: str, mixed: tuple[Any, Any]
) -> None:
    import joblib
    import numpy as np
    import pandas as pd

    X, y = mixed
    family = get_family(name)
    result = evaluate(
        X,
        y,
        task="classification",
        family=family,
        params=QUICK[name],
        metric="f1",
        folds=3,
    )
    assert result.value > 0.6
    assert bool(result.importances) == (name != "hist_gradient_boosting")  # none of its own
    assert set(result.importances) <= set(X.columns)
    assert name != "linear" or "city" in result.importances  # one-hot collapses to its column
    model = fit_final(X, y, task="classification", family=family, params=QUICK[name], seed=0)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    served = joblib.load(io.BytesIO(buffer.getvalue()))
    new = pd.DataFrame(
        {
            "city": ["atlantis", None, "paris"],
            "size": [np.nan, 0.5, None],
            "member": [True, None, False],
            "seen": ["2024-03-01", None, "not a date"],
            "note": [None, "zzz", "a"],
        }
    )
    predicted = served.predict(new)
    assert set(predicted) <= {"yes", "no"} and len(predicted) == 3
    assert served.predict_proba(new).shape == (3, 2)


@pytest.mark.parametrize("name", ["lightgbm", "random_forest"])
def test_same_inputs_and_seed_give_the_same_value(name: str, cancer: tuple[Any, Any]) -> None:
    bagged = {"subsample": 0.7} if name == "lightgbm" else {}  # randomness the seed governs

    def run(seed: int) -> Any:
        return evaluate(
            *cancer,
            task="classification",
            family=get_family(name),
            params=QUICK[name] | bagged,
            metric="log_loss",
            folds=3,
            seed=seed,
        )

    first, again, other = run(0), run(0), run(1)
    assert first.fold_scores == again.fold_scores and first.value == again.value
    assert first.curves == again.curves and first.importances == again.importances
    assert other.fold_scores != first.fold_scores


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(SweepInputError) as caught:
        get_family("xgb")
    assert str(caught.value) == (
        "model: unknown family 'xgb' (known: extra_trees, hist_gradient_boosting, lightgbm, "
        "linear, random_forest)"
    )


def test_search_spaces_are_valid() -> None:
    for name, family in model_families().items():
        assert isinstance(family, ModelFamily) and family.name == name and family.label
        for task in sorted(family.tasks):
            space = family.search_space(task)
            assert space, (name, task)
            for key, spec in space.items():
                assert spec.name == key and spec.kind in ("float", "int", "categorical")
                if spec.kind == "categorical":
                    assert spec.choices
                    continue
                assert spec.low is not None and spec.high is not None
                assert spec.low < spec.high, (name, key)
                assert not spec.log or spec.low > 0, (name, key)
                if spec.kind == "int":
                    assert float(spec.low).is_integer() and float(spec.high).is_integer()
    assert get_family("linear").needs_scaling and get_family("lightgbm").has_iterations
    assert set(get_family("linear").search_space("classification")) == {"C"}
    assert set(get_family("linear").search_space("regression")) == {"alpha"}


def test_infer_task() -> None:
    import numpy as np
    import pandas as pd

    assert infer_task(pd.Series(["a", "b", None])) == "classification"
    assert infer_task(pd.Series([True, False, True])) == "classification"
    assert infer_task(pd.Series([0, 1, 2, 1])) == "classification"
    assert infer_task(pd.Series([0.0, 1.0, np.nan])) == "classification"
    assert infer_task(pd.Series(pd.Categorical(["x", "y"]))) == "classification"
    assert infer_task(pd.Series(np.arange(100))) == "regression"
    assert infer_task(pd.Series([0.5, 1.25, 3.0])) == "regression"


def test_load_frame_drops_rows_without_a_target(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1, 2, 3, 4], "t": ["x", None, "y", "x"]}).to_parquet(path)
    X, y = load_frame(path, "t")
    assert list(X.columns) == ["a"] and list(X["a"]) == [1, 3, 4] and list(y) == ["x", "y", "x"]
    with pytest.raises(SweepInputError, match=r"target: no column 'nope' in d\.parquet"):
        load_frame(path, "nope")


def test_definitions_that_cannot_run_name_the_field(cancer: tuple[Any, Any]) -> None:
    lgbm = get_family("lightgbm")
    with pytest.raises(SweepInputError, match=r"^metric: 'rmse' is not a classification"):
        evaluate(*cancer, task="classification", family=lgbm, params={}, metric="rmse")
    with pytest.raises(SweepInputError, match=r"^folds: "):
        evaluate(*cancer, task="classification", family=lgbm, params={}, metric="f1", folds=1)
    with pytest.raises(SweepInputError, match=r"^holdout: "):
        evaluate(*cancer, task="classification", family=lgbm, params={}, metric="f1", holdout=2)
    text = cancer[0].assign(label="a").drop(columns=cancer[0].columns[1:])
    with pytest.raises(SweepInputError, match=r"^target: 'label' is object; regression"):
        evaluate(text[["mean radius"]], text["label"], task="regression", family=lgbm,
                 params={}, metric="r2")  # fmt: skip


def test_a_parameter_the_library_refuses_fails_like_the_library(cancer: tuple[Any, Any]) -> None:
    forest = get_family("random_forest")
    with pytest.raises(ValueError, match="n_estimators"):  # sklearn's InvalidParameterError
        evaluate(*cancer, task="classification", family=forest, params={"n_estimators": -3},
                 metric="accuracy")  # fmt: skip


def test_listing_families_and_metrics_imports_no_heavy_library() -> None:
    code = (
        "import sys; from pipelines.sweeps.families import model_families; "
        "from pipelines.sweeps.training import METRICS; "
        "[f.search_space(t) for f in model_families().values() for t in f.tasks]; "
        "print(sorted(m for m in ('sklearn', 'lightgbm', 'pandas', 'numpy', 'optuna', "
        "'joblib', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
