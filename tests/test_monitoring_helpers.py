"""Real models and real servers for the monitoring tests (no tests here): linear models
fitted through the sweeps' own pipeline on the bundled samples or on generated data, written
as real bundles and served by `serving_helpers.Server` on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitoring.traffic_data import json_records
from pipelines.serving.bundle import dump_model, make_manifest, write_bundle
from pipelines.serving.schema import infer_schema
from pipelines.serving.served import write_metadata
from pipelines.sweeps.families import get_family
from pipelines.sweeps.preprocessing import build_pipeline
from tests.sweep_helpers import SAMPLES

TARGETS = {"wine": "cultivar", "breast_cancer": "diagnosis", "diabetes": "disease_progression"}
TARGETS["churn_v1"] = "churned"


def sample(name: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(SAMPLES / f"{name}.csv", float_precision="round_trip")
    target = TARGETS[name]
    return frame.drop(columns=[target]), frame[target]


def logistic_data(
    rows: int, seed: int, *, shift: float = 0.0, concept: bool = False
) -> tuple[pd.DataFrame, pd.Series]:
    """Four features, labels drawn from a known logistic concept P(y=1|x) = σ(w·x): the
    model fitted on it is calibrated by construction. `shift` moves every row's x that
    fraction of the way to the concept's boundary (covariate shift: P(y|x) is unchanged, the
    labels are drawn from it at the moved x); `concept` flips the sign of the strongest
    weight (concept shift: the same x, other labels)."""
    rng = np.random.default_rng(seed)
    weights = np.array([2.0, -1.5, 1.0, 0.0])
    side = rng.choice([-1.0, 1.0], size=rows)
    x = rng.normal(size=(rows, 4)) + np.outer(side, [1.0, -0.6, 0.4, 0.0])
    x -= shift * np.outer(x @ weights, weights) / (weights @ weights)
    used = weights * np.array([-1.0, 1.0, 1.0, 1.0]) if concept else weights
    chance = 1.0 / (1.0 + np.exp(-(x @ used)))
    y = np.where(rng.random(rows) < chance, "yes", "no")
    return pd.DataFrame(x, columns=["a", "b", "c", "d"]), pd.Series(y, name="label")


def fit_bundle(
    folder: Path,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    *,
    name: str = "model",
    version: str = "1",
    validation: tuple[pd.DataFrame, pd.Series] | None = None,
) -> Path:
    """A linear model (logistic / ridge) through the sweeps' pipeline, as a served bundle
    with its validation metrics in metadata.json (what /metadata reports as training)."""
    from sklearn import metrics

    params = {"C": 1.0} if task == "classification" else {"alpha": 1.0}
    model = build_pipeline(X, task, get_family("linear"), params, 0).fit(X, y)
    model_bytes = dump_model(model)
    manifest = make_manifest(model, model_bytes, task, infer_schema(X), target=str(y.name))
    write_bundle(folder, model_bytes, manifest)
    scored: dict[str, float] = {}
    if validation is not None:
        Xv, yv = validation
        predicted = model.predict(Xv)
        if task == "classification":
            scored["accuracy"] = float(metrics.accuracy_score(yv, predicted))
            average = "binary" if len(model.classes_) == 2 else "macro"
            pos = model.classes_[1] if average == "binary" else 1
            scored["f1"] = float(metrics.f1_score(yv, predicted, average=average, pos_label=pos))
        else:
            scored["rmse"] = float(np.sqrt(metrics.mean_squared_error(yv, predicted)))
            scored["mae"] = float(metrics.mean_absolute_error(yv, predicted))
    write_metadata(folder, {"name": name, "version": version, "metrics": scored})
    return folder


def records(X: pd.DataFrame) -> list[dict[str, Any]]:
    return json_records(X)


def post(url: str, path: str, body: Any, token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + path, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


def url_of(server: Any) -> str:
    return f"http://127.0.0.1:{server.port}"
