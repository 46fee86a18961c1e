"""Model families behind one small interface, registered by name.

A family knows its default search space per task and how to build an unfitted,
scikit-learn-compatible estimator from a trial's parameters. Listing families imports
nothing heavy: scikit-learn and LightGBM are imported only inside `build`, so the TUI and
the sweep-file checks can name families without paying for those imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from storage.errors import SweepInputError

TASKS = frozenset({"classification", "regression"})

Builder = Callable[[str, dict[str, object], int, int], object]


@dataclass(frozen=True)
class ParamSpec:
    """One searchable parameter: a numeric range (optionally log-scaled) or a set of choices."""

    name: str
    kind: str  # "float" | "int" | "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[object, ...] | None = None


@dataclass(frozen=True)
class ModelFamily:
    """A kind of model the sweeps can tune; third parties add their own with `register_family`."""

    name: str
    label: str
    tasks: frozenset[str]
    needs_scaling: bool
    has_iterations: bool  # per-iteration curves, and pruning per iteration (LightGBM)
    spaces: dict[str, tuple[ParamSpec, ...]] = field(compare=False, hash=False, repr=False)
    builder: Builder = field(compare=False, hash=False, repr=False)
    # Parameters the estimator passes on beyond its get_params() (LightGBM's core ones).
    more_parameters: Callable[[], Iterable[str]] | None = field(
        default=None, compare=False, hash=False, repr=False
    )

    def search_space(self, task: str) -> dict[str, ParamSpec]:
        """The default ranges for `task`, modest enough that small-data trials stay fast."""
        self._check_task(task)
        return {spec.name: spec for spec in self.spaces.get(task, ())}

    def build(self, task: str, params: dict[str, object], seed: int, n_jobs: int = 1) -> object:
        """An unfitted estimator; parameters the library refuses raise the library's error."""
        self._check_task(task)
        return self.builder(task, dict(params), seed, n_jobs)

    def parameter_names(self, task: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """The estimator's own parameters (its get_params() keys) and every other name it
        accepts, so a misspelt [params] entry is refused rather than passed on; None when
        the estimator cannot say. Imports the library."""
        estimator = self.build(task, {}, seed=0)
        get_params = getattr(estimator, "get_params", None)
        if get_params is None:
            return None
        own = frozenset(get_params())
        return own, own | frozenset(self.more_parameters() if self.more_parameters else ())

    def _check_task(self, task: str) -> None:
        if task not in self.tasks:
            does = ", ".join(sorted(self.tasks))
            raise SweepInputError(f"task: {self.name} does {does}, not {task!r}")


_REGISTRY: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> None:
    """Add (or replace) a family under its name."""
    unknown = set(family.tasks) - TASKS
    if not family.tasks or unknown:
        raise SweepInputError(f"model: family {family.name!r} has unknown tasks {sorted(unknown)}")
    _REGISTRY[family.name] = family


def model_families() -> dict[str, ModelFamily]:
    """Every registered family by name, sorted by name."""
    return {name: _REGISTRY[name] for name in sorted(_REGISTRY)}


def get_family(name: str) -> ModelFamily:
    family = _REGISTRY.get(name)
    if family is None:
        known = ", ".join(sorted(_REGISTRY))
        raise SweepInputError(f"model: unknown family {name!r} (known: {known})")
    return family


# --- the built-in families -------------------------------------------------------------


def _float(name: str, low: float, high: float, log: bool = False) -> ParamSpec:
    return ParamSpec(name, "float", low=low, high=high, log=log)


def _int(name: str, low: int, high: int, log: bool = False) -> ParamSpec:
    return ParamSpec(name, "int", low=low, high=high, log=log)


def _both(*specs: ParamSpec) -> dict[str, tuple[ParamSpec, ...]]:
    return {"classification": specs, "regression": specs}


def _lightgbm(task: str, params: dict[str, object], seed: int, n_jobs: int) -> object:
    import lightgbm

    base = {
        "subsample_freq": 1,  # without it LightGBM ignores `subsample`
        "importance_type": "gain",
        "random_state": seed,
        "deterministic": True,
        "force_row_wise": True,  # LightGBM's advice for stable results with deterministic
        "n_jobs": n_jobs,
        "verbose": -1,
    }
    cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    keywords: dict[str, Any] = {**base, **params}  # each of LightGBM's own type, from the space
    return cls(**keywords)


def _lightgbm_parameters() -> set[str]:
    """LightGBM's core parameters and their aliases: its estimators take them as keywords."""
    from lightgbm.basic import _ConfigAliases

    try:
        aliases = _ConfigAliases._get_all_param_aliases()
    except Exception:  # a private API: without it, only get_params() names are known
        return set()
    return set(aliases) | {alias for names in aliases.values() for alias in names}


def _forest(extra: bool) -> Builder:
    def build(task: str, params: dict[str, object], seed: int, n_jobs: int) -> object:
        from sklearn import ensemble

        kind = "ExtraTrees" if extra else "RandomForest"
        suffix = "Classifier" if task == "classification" else "Regressor"
        cls = getattr(ensemble, kind + suffix)
        return cls(**({"random_state": seed, "n_jobs": n_jobs} | params))

    return build


def _hist_gradient_boosting(task: str, params: dict[str, object], seed: int, n_jobs: int) -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )
    return cls(**({"random_state": seed} | params))


def _linear(task: str, params: dict[str, object], seed: int, n_jobs: int) -> object:
    if task == "classification":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(**({"max_iter": 1000, "random_state": seed} | params))
    from sklearn.linear_model import Ridge

    return Ridge(**({"random_state": seed} | params))


def _forest_space() -> dict[str, tuple[ParamSpec, ...]]:
    return _both(
        _int("n_estimators", 20, 120),
        _int("max_depth", 3, 16),
        _int("min_samples_leaf", 1, 20),
        _float("max_features", 0.2, 1.0),
    )


for _family in (
    ModelFamily(
        name="lightgbm",
        label="LightGBM (gradient-boosted trees)",
        tasks=TASKS,
        needs_scaling=False,
        has_iterations=True,
        spaces=_both(
            _int("n_estimators", 50, 200),
            _float("learning_rate", 0.02, 0.3, log=True),
            _int("num_leaves", 7, 63),
            _int("min_child_samples", 5, 50),
            _float("subsample", 0.6, 1.0),
            _float("colsample_bytree", 0.5, 1.0),
            _float("reg_lambda", 1e-3, 10.0, log=True),
        ),
        builder=_lightgbm,
        more_parameters=_lightgbm_parameters,
    ),
    ModelFamily(
        name="random_forest",
        label="Random forest",
        tasks=TASKS,
        needs_scaling=False,
        has_iterations=False,
        spaces=_forest_space(),
        builder=_forest(extra=False),
    ),
    ModelFamily(
        name="extra_trees",
        label="Extremely randomized trees",
        tasks=TASKS,
        needs_scaling=False,
        has_iterations=False,
        spaces=_forest_space(),
        builder=_forest(extra=True),
    ),
    ModelFamily(
        name="hist_gradient_boosting",
        label="Histogram gradient boosting (scikit-learn)",
        tasks=TASKS,
        needs_scaling=False,
        has_iterations=False,
        spaces=_both(
            _float("learning_rate", 0.02, 0.3, log=True),
            _int("max_iter", 30, 150),
            _int("max_leaf_nodes", 7, 63),
            _float("l2_regularization", 1e-6, 10.0, log=True),
            _int("min_samples_leaf", 5, 50),
        ),
        builder=_hist_gradient_boosting,
    ),
    ModelFamily(
        name="linear",
        label="Linear (logistic regression / ridge)",
        tasks=TASKS,
        needs_scaling=True,
        has_iterations=False,
        spaces={
            "classification": (_float("C", 1e-3, 100.0, log=True),),
            "regression": (_float("alpha", 1e-3, 100.0, log=True),),
        },
        builder=_linear,
    ),
):
    register_family(_family)
del _family
