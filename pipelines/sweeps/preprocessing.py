"""Preprocessing that travels with the model: one fitted scikit-learn Pipeline does the
imputation, encoding and scaling at training time and again, identically, at serving time.

Columns fall into three kinds, decided from the training frame's dtypes:
- numeric (not bool): median imputation, plus standard scaling for families that need it;
- time (datetime / timedelta): seconds since the epoch (or in the duration), then as numeric;
- categorical (strings, categories, bools, anything else): every value as text, missing
  values imputed with the most frequent one, then one-hot (linear) or ordinal codes (trees).
The two converters the pipeline calls live in `pipelines.serving.converters`, so a stored
model references only scikit-learn, the model's library and the package that travels into
serving images. Models stored before that package existed reference
`pipelines.preprocessing.as_text`; `pipelines.serving.bundle` maps that path on load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.serving.converters import as_seconds, as_text
from pipelines.serving.schema import CATEGORICAL, NUMERIC, TIME, column_kind
from storage.errors import SweepInputError

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.sweeps.families import ModelFamily

__all__ = [
    "as_seconds",
    "as_text",
    "build_pipeline",
    "build_preprocessor",
    "column_kinds",
    "feature_importances",
    "source_columns",
]


def column_kinds(X: pd.DataFrame) -> dict[str, list[str]]:
    """The feature columns of each kind, in frame order, by the rule the input schema of a
    stored model records (so serving checks inputs exactly as training treated them)."""
    kinds: dict[str, list[str]] = {NUMERIC: [], TIME: [], CATEGORICAL: []}
    for name in X.columns:
        kinds[column_kind(X[name].dtype)].append(name)
    return kinds


def build_preprocessor(X: pd.DataFrame, family: ModelFamily) -> Any:
    """An unfitted ColumnTransformer for X's columns, shaped by what the family needs."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
    )

    kinds = column_kinds(X)
    if not any(kinds.values()):
        raise SweepInputError("features: the data has no columns besides the target")

    def numeric_steps() -> list[Any]:
        steps: list[Any] = [SimpleImputer(strategy="median", keep_empty_features=True)]
        return [*steps, StandardScaler()] if family.needs_scaling else steps

    if family.needs_scaling:
        encoder: Any = OneHotEncoder(
            handle_unknown="ignore", max_categories=50, sparse_output=False
        )
    else:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    branches = {
        NUMERIC: make_pipeline(*numeric_steps()),
        TIME: make_pipeline(
            FunctionTransformer(as_seconds, feature_names_out="one-to-one"), *numeric_steps()
        ),
        CATEGORICAL: make_pipeline(
            FunctionTransformer(as_text, feature_names_out="one-to-one"),
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            encoder,
        ),
    }
    transformers = [(kind, branches[kind], cols) for kind, cols in kinds.items() if cols]
    return ColumnTransformer(transformers, remainder="drop")


def build_pipeline(
    X: pd.DataFrame,
    task: str,
    family: ModelFamily,
    params: dict[str, Any],
    seed: int,
    n_jobs: int = 1,
) -> Any:
    """Preprocessing and model as one unfitted Pipeline (steps "preprocess" and "model")."""
    from sklearn.pipeline import Pipeline

    model = family.build(task, params, seed, n_jobs)
    return Pipeline([("preprocess", build_preprocessor(X, family)), ("model", model)])


def source_columns(preprocessor: Any) -> list[str]:
    """For each output feature of a fitted preprocessor, the input column it came from
    (one-hot features collapse back to their column)."""
    sources: list[str] = []
    for _kind, transformer, columns in preprocessor.transformers_:
        if transformer == "drop" or not len(columns):
            continue
        names = [str(c) for c in columns]
        by_length = sorted(names, key=len, reverse=True)
        for out in transformer.get_feature_names_out(names):
            out = str(out)
            if out in names:
                sources.append(out)
                continue
            sources.append(next((c for c in by_length if out.startswith(c + "_")), out))
    return sources


def feature_importances(pipeline: Any) -> dict[str, float]:
    """The model's own importances by input column, normalised to sum to 1 so families
    compare: tree importances, or mean |coefficient| of a linear model; {} when it has none."""
    import numpy as np

    model = pipeline.named_steps["model"]
    raw = getattr(model, "feature_importances_", None)
    if raw is None and getattr(model, "coef_", None) is not None:
        raw = np.abs(np.atleast_2d(model.coef_)).mean(axis=0)
    if raw is None:
        return {}
    raw = np.asarray(raw, dtype=float)
    sources = source_columns(pipeline.named_steps["preprocess"])
    if len(sources) != len(raw):
        return {}
    total = float(raw.sum())
    merged: dict[str, float] = {}
    for source, value in zip(sources, raw, strict=True):
        merged[source] = merged.get(source, 0.0) + (float(value) / total if total else 0.0)
    return merged
