"""Sweep definitions resolved against real registered datasets: defaults, refusals, round trips."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.datasets.versions import register_dataset
from pipelines.sweeps.spec import (
    SweepSpec,
    read_sweep_file,
    resolve_spec,
    spec_to_toml,
)
from storage.errors import SweepInputError
from storage.handle import Workspace
from storage.records import DatasetVersionRecord

MINIMAL = """\
dataset = "wine"
target = "cultivar"
model = "lightgbm"
metric = "accuracy"
trials = 20
"""


def _wine_rows(samples_dir: Path) -> tuple[list[str], list[list[str]]]:
    with (samples_dir / "wine.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


class Versions:
    """Registers a named sample on first use: each test pays only for the files it reads."""

    def __init__(self, workspace: Workspace, files: dict[str, tuple[Path, str | None]]) -> None:
        self.workspace, self.files = workspace, files
        self.done: dict[str, Any] = {}

    def __getitem__(self, name: str) -> DatasetVersionRecord:
        if name not in self.done:
            path, target = self.files[name]
            self.done[name] = register_dataset(self.workspace, path, name=name, target=target)
        return self.done[name].version


@pytest.fixture
def versions(workspace: Workspace, samples_dir: Path, tmp_path: Path) -> Versions:
    """Real sample files, and small files cut from wine.csv for the edge cases."""
    header, rows = _wine_rows(samples_dir)
    by_class: dict[str, list[list[str]]] = {}
    for row in rows:
        by_class.setdefault(row[-1], []).append(row)
    files: dict[str, tuple[Path, str | None]] = {
        "wine": (samples_dir / "wine.csv", "cultivar"),
        "diabetes": (samples_dir / "diabetes.csv", "disease_progression"),
        "churn": (samples_dir / "churn_v1.csv", "churned"),
        "untargeted": (samples_dir / "wine.csv", None),
        "single": (_write(tmp_path / "single.csv", header, by_class["class_0"]), "cultivar"),
        "tiny": (
            _write(tmp_path / "tiny.csv", header, by_class["class_0"] + by_class["class_1"][:3]),
            "cultivar",
        ),
        "blank": (
            _write(tmp_path / "blank.csv", header, [[*r[:-1], ""] for r in rows[:40]]),
            "cultivar",
        ),
    }
    return Versions(workspace, files)


def _family_defaults(model: str, task: str) -> dict[str, Any]:
    from pipelines.sweeps.families import get_family

    return get_family(model).search_space(task)


def test_minimal_file_resolves_with_defaults(versions: Versions, tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(MINIMAL.replace("metric", "# metric").replace("trials", "# trials"))
    spec, lines = resolve_spec(read_sweep_file(path), versions["wine"])
    assert (spec.dataset, spec.target, spec.model) == ("wine@D0", "cultivar", "lightgbm")
    assert (spec.task, spec.metric, spec.direction) == ("classification", "accuracy", "maximize")
    assert (spec.trials, spec.timeout, spec.folds, spec.holdout, spec.seed) == (
        20,
        None,
        5,
        None,
        0,
    )
    assert (spec.sampler, spec.pruner, spec.workers, spec.keep_top) == ("tpe", "median", 1, 5)
    assert spec.name is None
    assert set(spec.search_space) == set(_family_defaults("lightgbm", "classification"))
    assert "task: classification (inferred: target cultivar is categorical with 3 classes)" in lines
    assert "metric: accuracy (default for classification, maximize)" in lines
    assert "folds: 5 (stratified)" in lines
    assert "sampler: tpe" in lines
    defaults = len(_family_defaults("lightgbm", "classification"))
    assert lines[-1] == f"search space: {defaults} parameters from lightgbm defaults"


def test_regression_is_inferred_and_registered_target_used(
    versions: Versions,
) -> None:
    spec, lines = resolve_spec({"model": "lightgbm"}, versions["diabetes"])
    assert (spec.target, spec.task, spec.metric, spec.direction) == (
        "disease_progression",
        "regression",
        "rmse",
        "minimize",
    )
    assert "target: disease_progression (registered with diabetes@D0)" in lines
    assert any(line.startswith("task: regression (inferred: ") for line in lines)
    assert "folds: 5" in lines


def test_integer_target_with_few_values_is_classification(
    versions: Versions,
) -> None:
    spec, lines = resolve_spec({"model": "lightgbm", "target": "sex"}, versions["diabetes"])
    assert spec.task == "classification"
    assert "task: classification (inferred: target sex is integer with 2 classes)" in lines


def test_timeout_alone_means_no_trial_limit_and_holdout_replaces_folds(
    versions: Versions,
) -> None:
    raw = {"model": "lightgbm", "timeout": 90, "holdout": 0.25, "metric": "f1", "seed": 7}
    spec, lines = resolve_spec(raw, versions["churn"])
    assert (spec.trials, spec.timeout, spec.holdout, spec.folds) == (None, 90.0, 0.25, 1)
    assert (spec.metric, spec.seed) == ("f1", 7)
    assert "trials: no limit, stops after 90 s" in lines
    assert "holdout: 0.25 of the rows (stratified)" in lines


PARAMS = {
    "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
    "num_leaves": 31,
    "max_depth": {"low": 3, "high": 12, "type": "int"},
    "boosting_type": {"choices": ["gbdt", "dart"]},
}


def test_params_override_fix_and_add(versions: Versions) -> None:
    defaults = _family_defaults("lightgbm", "classification")
    spec, lines = resolve_spec({"model": "lightgbm", "params": PARAMS}, versions["wine"])
    space = spec.search_space
    assert space["learning_rate"] == {
        "kind": "float", "low": 0.01, "high": 0.3, "log": True, "step": None, "choices": None
    }  # fmt: skip
    assert space["num_leaves"] == {"kind": "fixed", "value": 31}
    assert space["max_depth"]["kind"] == "int"
    assert (space["max_depth"]["low"], space["max_depth"]["high"]) == (3, 12)
    assert space["boosting_type"]["choices"] == ["gbdt", "dart"]
    assert set(space) == set(defaults) | set(PARAMS)
    counts = {"overridden": 0, "fixed": 0, "added": 0}
    for name, setting in PARAMS.items():
        kind = "fixed" if not isinstance(setting, dict) else "overridden"
        counts["added" if kind == "overridden" and name not in defaults else kind] += 1
    expected = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    assert (
        lines[-1] == f"search space: {len(defaults)} parameters from lightgbm defaults, {expected}"
    )
    json.dumps(spec.to_dict())  # JSON-serialisable


def test_partial_override_keeps_the_default_bounds(
    versions: Versions,
) -> None:
    default = _family_defaults("lightgbm", "classification")["learning_rate"]
    raw = {"model": "lightgbm", "params": {"learning_rate": {"high": float(default.high) / 2}}}
    spec, _ = resolve_spec(raw, versions["wine"])
    entry = spec.search_space["learning_rate"]
    assert (entry["low"], entry["high"]) == (float(default.low), float(default.high) / 2)
    assert entry["log"] == bool(default.log)


def _holdout_raw() -> dict[str, Any]:
    return {"model": "lightgbm", "holdout": 0.2, "timeout": 30.5, "name": "wine quick look"}


@pytest.mark.parametrize(
    "raw",
    [
        {"model": "lightgbm", "params": PARAMS, "sampler": "random", "pruner": "none"},
        _holdout_raw(),
    ],
)
def test_spec_to_toml_round_trips(versions: Versions, tmp_path: Path, raw: dict[str, Any]) -> None:
    spec, _ = resolve_spec({"dataset": "wine", **raw}, versions["wine"])
    path = tmp_path / "saved.toml"
    path.write_text(spec_to_toml(spec))
    again, _ = resolve_spec(read_sweep_file(path), versions["wine"])
    assert again == spec
    path.write_text(spec_to_toml(spec.to_dict()))
    assert resolve_spec(read_sweep_file(path), versions["wine"])[0] == spec


def test_raw_definition_round_trips_through_toml(tmp_path: Path) -> None:
    raw = {"dataset": "wine@D0", "model": "lightgbm", "trials": 5, "name": 'a "quoted" name',
           "params": PARAMS}  # fmt: skip
    path = tmp_path / "raw.toml"
    path.write_text(spec_to_toml(raw))
    assert read_sweep_file(path) == raw


def test_to_dict_from_dict_round_trip(versions: Versions) -> None:
    spec, _ = resolve_spec({"model": "lightgbm", "params": PARAMS}, versions["wine"])
    data = json.loads(json.dumps(spec.to_dict()))
    assert SweepSpec.from_dict(data) == spec
    del data["folds"]
    with pytest.raises(SweepInputError, match=r"sweep spec: .*folds"):
        SweepSpec.from_dict(data)


def test_identifier_columns_are_left_out_unless_told(versions: Versions) -> None:
    """churn's customer_id is unique per row: a model could only memorise it."""
    spec, lines = resolve_spec({"model": "lightgbm"}, versions["churn"])
    assert spec.exclude == ["customer_id"]
    assert (
        "exclude: customer_id (unique per row, so an identifier; `exclude = []` keeps them)"
        in lines
    )
    kept, lines = resolve_spec({"model": "lightgbm", "exclude": []}, versions["churn"])
    assert kept.exclude == [] and "exclude: nothing (given)" in lines
    chosen, _ = resolve_spec({"model": "lightgbm", "exclude": ["region"]}, versions["churn"])
    assert chosen.exclude == ["region"]  # what is given replaces the detection
    wine, lines = resolve_spec({"model": "lightgbm"}, versions["wine"])
    assert wine.exclude == []
    assert "features: every column but the target (no identifier columns found)" in lines
    old = {k: v for k, v in spec.to_dict().items() if k != "exclude"}
    assert SweepSpec.from_dict(old).exclude == []  # sweeps stored before exclude existed


@pytest.mark.parametrize("raw", [{}, {"exclude": []}, {"exclude": ["region"]}])
def test_exclusions_round_trip_through_toml(
    versions: Versions, tmp_path: Path, raw: dict[str, Any]
) -> None:
    spec, _ = resolve_spec({"model": "lightgbm", **raw}, versions["churn"])
    path = tmp_path / "saved.toml"
    path.write_text(spec_to_toml(spec))
    assert resolve_spec(read_sweep_file(path), versions["churn"])[0] == spec


def test_a_table_of_identifiers_only_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    rows = [[f"C{i:04d}", f"note {i}", i % 2] for i in range(40)]
    path = _write(tmp_path / "ids.csv", ["customer_id", "comment", "label"], rows)
    version = register_dataset(workspace, path, name="ids", target="label").version
    with pytest.raises(SweepInputError, match=r"exclude: every feature of ids@D0 looks like an"):
        resolve_spec({"model": "lightgbm"}, version)
    spec, _ = resolve_spec({"model": "lightgbm", "exclude": []}, version)
    assert spec.exclude == []


def test_unknown_key_suggests_the_nearest(versions: Versions) -> None:
    with pytest.raises(SweepInputError) as caught:
        resolve_spec({"model": "lightgbm", "trails": 10}, versions["wine"])
    assert str(caught.value) == "sweep file: unknown key 'trails' (did you mean 'trials'?)"


def test_read_sweep_file_refusals(tmp_path: Path) -> None:
    with pytest.raises(SweepInputError, match="no such file"):
        read_sweep_file(tmp_path / "absent.toml")
    path = tmp_path / "broken.toml"
    path.write_text('dataset = "wine"\nmodel = "lightgbm"\ntrials = \n')
    with pytest.raises(SweepInputError) as caught:
        read_sweep_file(path)
    assert str(caught.value).startswith(f"{path}: not valid TOML (line 3: ")


CLASSIFICATION_METRICS = "accuracy, f1, roc_auc, log_loss"
REFUSALS = [
    ("wine", {"target": "speces"}, "target: column 'speces' not in wine@D0"),
    ("untargeted", {}, "target: not given and untargeted@D0 has no registered target"),
    ("single", {}, "target: 'cultivar' has a single class ('class_0'); nothing to learn"),
    ("blank", {}, "target: 'cultivar' is missing in every row"),
    ("wine", {"task": "regression"}, "target: 'cultivar' is categorical; regression needs a"),
    ("churn", {"target": "customer_id", "task": "regression"}, "target: 'customer_id' is string"),
    (
        "wine",
        {"metric": "rmse"},
        "metric: 'rmse' is for regression, but the task is classification "
        f"(use one of: {CLASSIFICATION_METRICS})",
    ),
    ("diabetes", {"metric": "accuracy"}, "metric: 'accuracy' is for classification"),
    ("wine", {"metric": "acc"}, "metric: unknown 'acc'"),
    ("wine", {"model": "lightgmb"}, "model: unknown 'lightgmb' (did you mean 'lightgbm'?)"),
    ("wine", {"model": None}, "model: missing"),
    ("wine", {"task": "clustering"}, "task: unknown 'clustering'"),
    (
        "wine",
        {"params": {"learning_rate": {"low": 0.5, "high": 0.1}}},
        "params.learning_rate: low 0.5 > high 0.1",
    ),
    (
        "wine",
        {"params": {"learning_rate": {"low": 0.0, "high": 0.1, "log": True}}},
        "params.learning_rate: a log range needs low > 0",
    ),
    (
        "wine",
        {"params": {"max_depth": {"low": 1, "high": 2}}},
        "params.max_depth: not in the lightgbm search space; give type",
    ),
    ("wine", {"params": {"no_such": {"low": 1, "high": 2}}}, "params.no_such: lightgbm has no"),
    (
        "wine",
        {"params": {"num_leavs": 31}},
        "params.num_leavs: lightgbm has no parameter 'num_leavs' (did you mean 'num_leaves'?)",
    ),
    (
        "wine",
        {"params": {"max_dept": {"low": 3, "high": 12, "type": "int"}}},
        "params.max_dept: lightgbm has no parameter 'max_dept' (did you mean 'max_depth'?)",
    ),
    (
        "wine",
        {"params": {"max_depth": {"low": 3, "high": 12, "type": "big"}}},
        "params.max_depth: type",
    ),
    (
        "wine",
        {"params": {"learning_rate": {"lo": 0.1}}},
        "params.learning_rate: unknown setting 'lo'",
    ),
    (
        "wine",
        {"params": {"boosting_type": {"choices": []}}},
        "params.boosting_type: choices must be a non-empty",
    ),
    ("wine", {"params": {"num_leaves": "many"}}, "params.num_leaves: expected a whole number"),
    ("wine", {"params": ["learning_rate"]}, "params: expected a table"),
    ("tiny", {}, "folds: 5 folds need at least 5 rows per class; class 'class_1' has 3"),
    ("diabetes", {"folds": 500}, "folds: 500 folds need at least 500 rows; 442 have a target"),
    ("wine", {"folds": 1}, "folds: must be at least 2"),
    ("wine", {"trials": "ten"}, "trials: expected a whole number"),
    ("wine", {"trials": 0}, "trials: must be at least 1"),
    ("wine", {"timeout": "soon"}, "timeout: expected a number"),
    ("wine", {"workers": 0}, "workers: must be at least 1"),
    ("wine", {"keep_top": True}, "keep_top: expected a whole number"),
    ("wine", {"sampler": "tpee"}, "sampler: unknown 'tpee' (did you mean 'tpe'?)"),
    ("wine", {"pruner": "asha"}, "pruner: unknown 'asha'"),
    ("wine", {"holdout": 0.95}, "holdout: must be a fraction between 0 and 0.9"),
    ("wine", {"holdout": 0.2, "folds": 5}, "holdout: give either folds or holdout, not both"),
    ("tiny", {"holdout": 0.01}, "holdout: 0.01 of 62 rows scores 1"),
    ("wine", {"dataset": "penguins"}, "dataset: 'penguins' does not match"),
    ("wine", {"name": ""}, "name: expected non-empty text"),
    ("churn", {"exclude": ["customer"]}, "exclude: column 'customer' not in churn@D0"),
    ("churn", {"exclude": ["churned"]}, "exclude: 'churned' is the target"),
    ("churn", {"exclude": "customer_id"}, "exclude: expected a list of column names"),
]


@pytest.mark.parametrize(("dataset", "raw", "message"), REFUSALS)
def test_refusals_name_the_field(
    versions: Versions, dataset: str, raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(SweepInputError) as caught:
        resolve_spec({"model": "lightgbm", **raw}, versions[dataset])
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        ("random_forest", {"n_estimator": 50}, "did you mean 'n_estimators'?"),
        ("random_forest", {"criterion": {"choices": ["gini", "entropi"]}}, None),
        ("random_forest", {"max_leaf_nodes": {"low": 8, "high": 64, "type": "int"}}, None),
        ("linear", {"c": {"low": 0.1, "high": 1.0}}, "did you mean 'C'?"),
        ("lightgbm", {"bagging_freq": 1, "extra_trees": True}, None),  # LightGBM's own names
        ("hist_gradient_boosting", {"max_bin": 63}, "did you mean 'max_bins'?"),
    ],
)
def test_params_must_be_parameters_of_the_estimator(
    versions: Versions, model: str, params: dict[str, Any], message: str | None
) -> None:
    """A typo is refused before anything starts instead of reaching the model (LightGBM
    would only warn and ignore it); a parameter added with a range must exist too."""
    raw = {"model": model, "params": params}
    if message is None:
        spec, _ = resolve_spec(raw, versions["wine"])
        assert set(params) <= set(spec.search_space)
        return
    with pytest.raises(SweepInputError) as caught:
        resolve_spec(raw, versions["wine"])
    name = next(iter(params))
    assert str(caught.value) == f"params.{name}: {model} has no parameter {name!r} ({message})"


def test_family_that_cannot_do_the_task_is_refused(
    versions: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.sweeps import families

    monkeypatch.setattr(families, "_REGISTRY", dict(families._REGISTRY))
    toy = families.ModelFamily(
        name="toy", label="Toy", tasks=frozenset({"classification"}), needs_scaling=False,
        has_iterations=False, spaces={"classification": ()}, builder=lambda *args: None,
    )  # fmt: skip
    families.register_family(toy)
    with pytest.raises(SweepInputError, match="model: 'toy' does not do regression"):
        resolve_spec({"model": "toy"}, versions["diabetes"])
    spec, lines = resolve_spec({"model": "toy"}, versions["wine"])
    assert spec.search_space == {}
    assert lines[-1] == "search space: 0 parameters from toy defaults"


OPTIONAL = ("name", "trials", "timeout", "folds", "holdout", "seed", "sampler", "pruner",
            "workers", "keep_top", "exclude")  # fmt: skip


def test_a_stored_spec_reads_back_with_every_default_in_one_place(versions: Versions) -> None:
    """What an older Workbench stored without the optional keys reads back as the same
    defaults a sweep file gets; a holdout split means one fold; keys a newer Workbench
    added are left aside; a spec without what no default stands for is one line."""
    resolved, _ = resolve_spec({"model": "random_forest"}, versions["wine"])
    stored = resolved.to_dict()
    assert SweepSpec.from_stored(stored) == resolved
    bare = {k: v for k, v in stored.items() if k not in OPTIONAL} | {"added_later": 1}
    old = SweepSpec.from_stored(bare)
    assert (old.folds, old.seed, old.sampler, old.pruner) == (5, 0, "tpe", "median")
    assert (old.workers, old.keep_top, old.exclude, old.trials) == (1, 5, [], None)
    same = ("folds", "seed", "sampler", "pruner", "workers", "keep_top", "exclude")
    assert {k: getattr(old, k) for k in same} == {k: getattr(resolved, k) for k in same}
    held = SweepSpec.from_stored(stored | {"holdout": 0.25, "folds": None})
    assert (held.folds, held.holdout) == (1, 0.25)
    assert SweepSpec.from_stored(stored | {"keep_top": 0}).keep_top == 0  # 0 is not "unset"
    lacking = {k: v for k, v in stored.items() if k not in ("target", "search_space")}
    with pytest.raises(SweepInputError, match=r"^sweep spec: missing keys: target, search_space$"):
        SweepSpec.from_stored(lacking)


def test_a_sweep_stored_by_an_older_workbench_runs_reproduces_and_keeps_the_default_top(
    workspace: Workspace,
) -> None:
    """Its worker, reproduction and insight all read the stored spec the same way."""
    from sqlalchemy import update

    from pipelines.runs.details import reproduce_run
    from pipelines.runs.insight import permutation_importances
    from pipelines.sweeps import lifecycle as sweeps
    from pipelines.sweeps.worker import run_worker
    from storage import sweeps as repo
    from storage.models_sweeps import SweepRow
    from tests.sweep_helpers import add_sample

    add_sample(workspace, "wine", "cultivar")
    created = sweeps.create_sweep(workspace, {"dataset": "wine", "model": "linear", "trials": 7})
    bare = {k: v for k, v in created.sweep.spec.items() if k not in OPTIONAL}
    with workspace.db.session_scope() as session:
        session.execute(update(SweepRow).where(SweepRow.id == created.sweep.id).values(spec=bare))
    run_worker(workspace, created.sweep.id)
    runs = repo.list_runs(workspace.db, sweep_id=created.sweep.id, status="complete")
    assert len(runs) == 7 and all(len(r.fold_scores) == 5 for r in runs)
    assert sum(1 for r in runs if r.artifact_sha) == 5
    assert reproduce_run(workspace, runs[0].id).difference == 0
    assert permutation_importances(workspace, runs[0].id).rows > 0
