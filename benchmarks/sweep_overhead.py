"""What a sweep costs beyond the training it runs, from the user's seat.

Timed: the real `workbench sweep start FILE --wait` as a subprocess (the CLI, the worker
process it spawns, every run recorded, the top model refit and stored) against the plain
Optuna loop a user would write instead, also run as `python loop.py`: the same model
family, search space, folds, TPE sampler and seed, in-memory storage, scikit-learn's
`cross_val_score` on the same metric, the best parameters refit on all rows at the end.
Two cases: LightGBM on the churn sample (target: sweep <= 1.05x the plain loop; the sweep's
one worker fits a trial's folds on the cores it leaves idle, the plain loop one at a time), and
logistic regression on the 178-row wine sample, where training is so cheap that the
difference is bookkeeping (target <= 10 ms per trial), run with 20 and with 80 trials: the
difference of the two runs is what the trials cost, apart from what a sweep pays once
(the CLI and the worker process starting, the final refit stored).
Repetitions are interleaved (sweep, plain, plain, sweep, ...); each figure is the median
with its range. Both sides' best values are printed: they should agree.

    .venv/bin/python benchmarks/sweep_overhead.py [--reps 3] [--profile] [--baseline DIR]
        [--only lightgbm|linear]

`--profile` also runs each case's sweep worker under cProfile (a process of its own) and
prints its top functions. `--baseline DIR` times, beside it, the sweep of another source
tree (`git archive COMMIT | tar -x -C DIR`), in the same interleaved run, for before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.sweeps.threads import usable_cores  # the sweep worker's count of cores

ROOT = Path(__file__).resolve().parent.parent

SAMPLES = ROOT / "assets" / "sample_data"
PYTHON = sys.executable
WORKBENCH = [PYTHON, "-m", "workbench"]

CASES = {
    "lightgbm": {
        "csv": "churn_v1.csv",
        "dataset": "churn",
        "target": "churned",
        "drop": ["customer_id"],
        "model": "lightgbm",
        "trials": 15,
        "folds": 3,
    },
    "linear": {
        "csv": "wine.csv",
        "dataset": "wine",
        "target": "cultivar",
        "drop": [],
        "model": "linear",
        "trials": 80,
        "folds": 3,
    },
}
# The cheap case again with fewer trials: the difference between the two is the cost of
# the trials alone, with what a sweep pays once (two processes start) taken out.
CASES["linear-20"] = {**CASES["linear"], "trials": 20}
SEED = 7
METRIC = "accuracy"

# The loop a user writes: their own preprocessing (median-impute and scale numbers, encode
# text), the estimator built with the same fixed settings, cross_val_score on the metric.
PLAIN_LOOP = r"""
import json, sys
import optuna, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
sys.path.insert(0, sys.argv[2])
from pipelines.sweeps.families import get_family

case = json.loads(sys.argv[1])
optuna.logging.set_verbosity(optuna.logging.WARNING)
frame = pd.read_csv(case["path"])
y = frame[case["target"]]
X = frame.drop(columns=[case["target"], *case["drop"]])
family = get_family(case["model"])
space = family.search_space("classification")
text = [c for c in X.columns if X[c].dtype == object]
numbers = [c for c in X.columns if c not in text]
scale = [StandardScaler()] if family.needs_scaling else []
encode = (OneHotEncoder(handle_unknown="ignore", sparse_output=False) if family.needs_scaling
          else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1))
def model(params):
    columns = [("num", make_pipeline(SimpleImputer(strategy="median"), *scale), numbers)]
    if text:
        columns.append(("text", encode, text))
    estimator = family.build("classification", params, case["seed"], 1)
    return make_pipeline(ColumnTransformer(columns), estimator)
def objective(trial):
    params = {}
    for name, p in space.items():
        if p.kind == "float":
            params[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        else:
            params[name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
    folds = StratifiedKFold(case["folds"], shuffle=True, random_state=case["seed"])
    return cross_val_score(model(params), X, y, cv=folds, scoring=case["metric"]).mean()
study = optuna.create_study(direction="maximize",
                            sampler=optuna.samplers.TPESampler(seed=case["seed"]))
study.optimize(objective, n_trials=case["trials"])
model(study.best_params).fit(X, y)
print(json.dumps({"best": study.best_value}))
"""


def sweep_file(folder: Path, name: str, case: dict) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(
        f'dataset = "{case["dataset"]}"\nmodel = "{case["model"]}"\nmetric = "{METRIC}"\n'
        f"trials = {case['trials']}\nfolds = {case['folds']}\nseed = {SEED}\n"
        f'sampler = "tpe"\npruner = "none"\nworkers = 1\nkeep_top = 1\n'
        f"exclude = {json.dumps(case['drop'])}\n",
        encoding="utf-8",
    )
    return path


def run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run in the tree on PYTHONPATH: `-m` and `-c` put the working directory first."""
    start = time.perf_counter()
    cwd = env.get("PYTHONPATH", str(ROOT))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])}... failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def time_sweep(workspace: Path, toml: Path, env: dict[str, str]) -> tuple[float, float]:
    command = [*WORKBENCH, "--workspace", str(workspace), "sweep", "start", str(toml)]
    elapsed, out = run([*command, "--wait", "--json"], env)
    sweep = json.loads(out[out.index("{") :])
    sweep = sweep.get("sweep", sweep)
    return elapsed, float(sweep["best_value"])


def time_plain(case: dict, env: dict[str, str]) -> tuple[float, float]:
    arguments = {**case, "path": str(SAMPLES / case["csv"]), "seed": SEED, "metric": METRIC}
    elapsed, out = run([PYTHON, "-c", PLAIN_LOOP, json.dumps(arguments), str(ROOT)], env)
    return elapsed, float(json.loads(out.strip().splitlines()[-1])["best"])


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


PROFILE = r"""
import cProfile, pstats, sys
from pathlib import Path
from pipelines.sweeps import lifecycle
from pipelines.sweeps.worker import run_worker
from storage.handle import open_workspace
ws = open_workspace(Path(sys.argv[1]))
created = lifecycle.read_and_create(ws, Path(sys.argv[2]))
profiler = cProfile.Profile()
profiler.enable()
run_worker(ws, created.sweep.id)
profiler.disable()
stats = pstats.Stats(profiler)
stats.sort_stats("tottime").print_stats(12)
stats.sort_stats("cumulative").print_stats("workbench|pipelines|optuna", 22)
"""


def profile(workspace: Path, name: str, toml: Path, env: dict[str, str], tree: Path) -> None:
    """A case's worker under cProfile, in a process of its own for `tree`."""
    command = [PYTHON, "-c", PROFILE, str(workspace), str(toml)]
    _, out = run(command, {**env, "PYTHONPATH": str(tree)})
    print(f"\nworker profile of {tree} ({name} case, {CASES[name]['trials']} trials):")
    print("\n".join(line for line in out.splitlines() if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--baseline", type=Path, help="also time the sweep of this source tree (e.g. a git archive)"
    )
    parser.add_argument(
        "--only", choices=["lightgbm", "linear"], help="time one case (linear: both trial counts)"
    )
    args = parser.parse_args()
    if args.only:
        for name in [n for n in CASES if not n.startswith(args.only)]:
            del CASES[name]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    load = os.getloadavg()
    cores = os.cpu_count()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({cores} cores)")
    with tempfile.TemporaryDirectory() as folder:
        trees = {"sweep": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
        sides = [*trees, "plain"]
        # A workspace per tree, so neither reads the other's Optuna journal records.
        spaces = {side: Path(folder) / f"ws-{side}" for side in trees}
        for workspace in spaces.values():
            for case in {c["dataset"]: c for c in CASES.values()}.values():
                add = ["data", "add", str(SAMPLES / case["csv"]), "--name", case["dataset"]]
                add += ["--target", case["target"]]
                run([*WORKBENCH, "--workspace", str(workspace), *add], env)
        results = {}
        for name, case in CASES.items():
            toml = sweep_file(Path(folder), name, case)
            times: dict[str, list[float]] = {side: [] for side in sides}
            bests = set()
            for rep in range(args.reps):
                for side in sides[rep % len(sides) :] + sides[: rep % len(sides)]:
                    if side == "plain":
                        elapsed, best = time_plain(case, env)
                    else:
                        tree_env = {**env, "PYTHONPATH": str(trees[side])}
                        elapsed, best = time_sweep(spaces[side], toml, tree_env)
                    times[side].append(elapsed)
                    bests.add((side, round(best, 12)))
            results[name] = (times, sorted(bests))
        for name, (times, bests) in results.items():
            case = CASES[name]
            trials = case["trials"]
            plain_times = times["plain"]
            plain_m = statistics.median(plain_times)
            print(
                f"\n{name} on {case['csv']}: {trials} trials, {case['folds']} folds, "
                f"TPE seed {SEED}, {METRIC}, best values {bests}"
            )
            print(f"  plain Optuna loop (python loop.py): {spread(plain_times)}")
            if case["model"] == "lightgbm":  # what the sweep's one worker does on this machine
                folds_at_once = min(case["folds"], usable_cores())
                print(
                    f"  (the sweep's worker fits {folds_at_once} of a trial's folds at once, on "
                    "the cores one worker leaves idle; the plain loop fits one at a time)"
                )
            for side in trees:
                sweep_times = times[side]
                sweep_m = statistics.median(sweep_times)
                label = "workbench sweep start --wait" + (" (baseline)" if side != "sweep" else "")
                print(f"  {label + ':':<42} {spread(sweep_times)}")
                pairs = list(zip(sweep_times, plain_times, strict=True))
                ratios = [s / p for s, p in pairs]
                print(
                    f"    ratio {sweep_m / plain_m:.3f}x "
                    f"(pairs {min(ratios):.3f}–{max(ratios):.3f})"
                    + ("  target <= 1.05x" if name == "lightgbm" else "")
                )
                per = [(s - p) / trials * 1000 for s, p in pairs]
                print(
                    f"    bookkeeping {(sweep_m - plain_m) / trials * 1000:.1f} ms/trial "
                    f"(pairs {min(per):.1f}–{max(per):.1f}); plain {plain_m / trials * 1000:.1f} "
                    "ms/trial"
                )
        if "linear" in results:
            long, short = results["linear"][0], results["linear-20"][0]
            added = CASES["linear"]["trials"] - CASES["linear-20"]["trials"]
            plain_added = statistics.median(long["plain"]) - statistics.median(short["plain"])
            print(f"\nlinear, the {added} trials between 20 and {CASES['linear']['trials']}:")
            for side in trees:
                sweep_added = statistics.median(long[side]) - statistics.median(short[side])
                once = statistics.median(short[side]) - statistics.median(short["plain"])
                once -= (sweep_added - plain_added) / added * CASES["linear-20"]["trials"]
                label = "workbench" + (" (baseline)" if side != "sweep" else "")
                per_trial = (sweep_added - plain_added) / added * 1000
                print(
                    f"  {label}: bookkeeping {per_trial:.1f} ms/trial"
                    f" (target <= 10 ms/trial); paid once per sweep {once:.2f} s"
                )
        if args.profile:
            for name, case in CASES.items():
                if name == "linear-20":
                    continue
                for side, tree in trees.items():
                    toml = sweep_file(Path(folder), name, case)
                    profile(spaces[side], name, toml, env, tree)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
