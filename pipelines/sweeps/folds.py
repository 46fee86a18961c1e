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
        from pipelines.sweeps.training import prepare_target

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
        from pipelines.sweeps.training import splits

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
