"""What every trial of a sweep shares, computed once per worker: the prepared target, the
folds, and each fold's fitted preprocessing with its transformed rows.

The preprocessing (imputation, encoding, scaling: pipelines.sweeps.preprocessing) depends
on the training rows and on whether the family scales, never on the trial's parameters, and
fitting it is deterministic, so a fold's fitted ColumnTransformer and the arrays it gives
are the ones each trial would compute again. A trial's pipeline is that fitted
preprocessor followed by its own model: what `Pipeline.fit` would have produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.errors import SweepInputError

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.sweeps.families import ModelFamily


@dataclass(frozen=True, eq=False)
class Fold:
    """One split with its preprocessing fitted on the training rows."""

    train: Any  # row positions
    valid: Any
    y_train: Any  # the prepared target's rows
    y_valid: Any
    preprocess: Any  # the fitted ColumnTransformer (shared: never refit)
    X_train: Any  # preprocess output for the training rows (from fit_transform)
    X_valid: Any  # and for the validation rows


class FoldCache:
    """Per sweep and worker; it holds one frame and target (given again, the same objects)
    and forgets everything if given others."""

    def __init__(self) -> None:
        self._frame: Any = None
        self._raw_target: Any = None
        self._forget()

    def _forget(self) -> None:
        self._targets: dict[str, Any] = {}
        self._splits: dict[tuple[Any, ...], list[tuple[Any, Any]]] = {}
        self._folds: dict[tuple[Any, ...], Fold] = {}

    def _hold(self, X: pd.DataFrame, y: pd.Series) -> None:
        if X is not self._frame or y is not self._raw_target:
            self._forget()
            self._frame, self._raw_target = X, y

    def target(self, X: pd.DataFrame, y: pd.Series, task: str) -> Any:
        """`prepare_target(y, task)`, once."""

        self._hold(X, y)
        if task not in self._targets:
            self._targets[task] = prepare_target(y, task)
        return self._targets[task]

    def folds(
        self,
        X: pd.DataFrame,
        y: pd.Series,
        *,
        task: str,
        family: ModelFamily,
        folds: int,
        holdout: float | None,
        seed: int,
    ) -> list[Fold]:
        """The folds `splits` gives, each with its fitted preprocessing (first use fits)."""
        from pipelines.sweeps.preprocessing import build_preprocessor

        prepared = self.target(X, y, task)
        split_key = (task, folds, holdout, seed)
        if split_key not in self._splits:
            self._splits[split_key] = splits(prepared, task, folds, holdout, seed)
        result = []
        for index, (train, valid) in enumerate(self._splits[split_key]):
            key = (*split_key, index, family.needs_scaling)
            fold = self._folds.get(key)
            if fold is None:
                X_train, X_valid = X.iloc[train], X.iloc[valid]
                y_train = prepared.iloc[train]
                preprocess = build_preprocessor(X_train, family)
                train_rows = preprocess.fit_transform(X_train, y_train)
                fold = Fold(
                    train=train,
                    valid=valid,
                    y_train=y_train,
                    y_valid=prepared.iloc[valid],
                    preprocess=preprocess,
                    X_train=train_rows,
                    X_valid=preprocess.transform(X_valid),
                )
                self._folds[key] = fold
            result.append(fold)
        return result


def prepare_target(y: pd.Series, task: str) -> pd.Series:
    """The target in a form every family accepts: floats for regression; bools, integers
    or plain strings for classification. Predictions come back in these labels."""
    import pandas as pd

    name = y.name if y.name is not None else "target"
    missing = int(y.isna().sum())
    if missing:
        raise SweepInputError(f"target: {name!r} is missing in {missing} rows; drop them first")
    numeric = pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)
    if task == "regression":
        if not numeric:
            raise SweepInputError(
                f"target: {name!r} is {y.dtype}; regression needs a numeric target"
            )
        return y.astype(float)
    if y.nunique() < 2:
        raise SweepInputError(f"target: {name!r} has a single class; nothing to learn")
    if pd.api.types.is_bool_dtype(y.dtype):
        return y.astype(bool)
    if numeric:
        numbers = y.astype(float)
        whole = bool((numbers == numbers.round()).all())
        return numbers.astype("int64") if whole else numbers
    return y.astype(str).astype(object)


def splits(
    y: pd.Series, task: str, folds: int, holdout: float | None, seed: int
) -> list[tuple[Any, Any]]:
    """Stratified for classification; shuffled with the seed so a run can be repeated."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    rows = np.arange(len(y))
    if holdout:
        stratify = y if task == "classification" else None
        train, valid = train_test_split(
            rows, test_size=holdout, random_state=seed, shuffle=True, stratify=stratify
        )
        return [(train, valid)]
    kind = StratifiedKFold if task == "classification" else KFold
    return list(kind(n_splits=folds, shuffle=True, random_state=seed).split(rows, y))
