"""Sweep definitions: the TOML a user writes, checked against one dataset version and filled in
with defaults, so every mistake is refused (naming the field) before any worker starts."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from storage.errors import SweepInputError

if TYPE_CHECKING:
    from storage.records import ColumnProfile, DatasetVersionRecord

KEYS = (
    "name", "dataset", "target", "model", "metric", "task", "trials", "timeout", "folds",
    "holdout", "seed", "sampler", "pruner", "workers", "keep_top", "exclude", "params",
)  # fmt: skip
Task = Literal["classification", "regression"]
Direction = Literal["maximize", "minimize"]
Sampler = Literal["tpe", "random", "cmaes", "gp"]
Pruner = Literal["median", "hyperband", "none"]
TASKS: tuple[Task, ...] = ("classification", "regression")
SAMPLERS: tuple[Sampler, ...] = ("tpe", "random", "cmaes", "gp")
PRUNERS: tuple[Pruner, ...] = ("median", "hyperband", "none")
DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}
# Every default of a sweep, in one place: what a sweep file leaves out, and what a spec
# stored by an older Workbench lacks, read back through `SweepSpec.from_stored`.
DEFAULT_TRIALS = 20
DEFAULT_FOLDS = 5
DEFAULT_SEED = 0
DEFAULT_SAMPLER: Sampler = "tpe"
DEFAULT_PRUNER: Pruner = "median"
DEFAULT_WORKERS = 1
DEFAULT_KEEP_TOP = 5
REQUIRED = ("dataset", "target", "model", "metric", "task", "direction", "search_space")
MAX_CLASSES = 20  # a numeric target with at most this many distinct values is a class label
PARAM_KEYS = ("low", "high", "log", "step", "type", "choices")
_LABELS = ("string", "categorical", "boolean")
ID_NAME = re.compile(r"(^|[_\-\s])(id|uuid|guid|key)$|^id([_\-\s]|$)", re.IGNORECASE)
CAMEL_ID = re.compile(r"[a-z](Id|ID|Uuid|Key)$")  # customerId
NEARLY_UNIQUE = 0.98  # distinct counts of large files are estimates
_NUMERIC = ("integer", "float")


@dataclass(frozen=True)
class SweepSpec:
    """A sweep with everything decided: what the workers run and what the database records.
    It is stored as `to_dict()` on the sweep, and every reader gets it back through
    `from_stored` rather than picking at the stored dict."""

    name: str | None
    dataset: str  # the version's ref, e.g. "churn@D1"
    target: str
    model: str
    metric: str
    task: Task
    direction: Direction  # from the metric
    trials: int | None  # None: run until the timeout
    timeout: float | None  # seconds
    folds: int  # 1 when a holdout split is used instead
    holdout: float | None
    seed: int
    sampler: Sampler
    pruner: Pruner
    workers: int
    keep_top: int
    # param -> {"kind", "low", "high", "log", "step", "choices"} or {"kind": "fixed", "value"}
    search_space: dict[str, dict]
    exclude: list[str] = dataclasses.field(default_factory=list)  # columns left out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable; `from_dict` rebuilds an equal spec."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        """Exactly what `to_dict` wrote (sweeps created before `exclude` aside)."""
        names = [f.name for f in dataclasses.fields(cls)]
        odd = sorted(set({"exclude": [], **data}) ^ set(names))
        _need(not odd, f"sweep spec: unknown or missing keys: {', '.join(odd)}")
        return cls.from_stored(data)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> SweepSpec:
        """The spec a sweep record keeps, with the defaults filled in for anything an older
        Workbench did not store (and keys a newer one added left aside); a stored spec
        without what no default can stand for is refused in one line."""
        missing = [key for key in REQUIRED if data.get(key) is None]
        _need(not missing, f"sweep spec: missing keys: {', '.join(missing)}")
        holdout, timeout = data.get("holdout"), data.get("timeout")
        trials, keep_top = data.get("trials"), data.get("keep_top")
        return cls(
            name=data.get("name"),
            dataset=str(data["dataset"]),
            target=str(data["target"]),
            model=str(data["model"]),
            metric=str(data["metric"]),
            task=data["task"],
            direction=data["direction"],
            trials=None if trials is None else int(trials),
            timeout=None if timeout is None else float(timeout),
            folds=1 if holdout is not None else int(data.get("folds") or DEFAULT_FOLDS),
            holdout=None if holdout is None else float(holdout),
            seed=int(data.get("seed") or DEFAULT_SEED),
            sampler=data.get("sampler") or DEFAULT_SAMPLER,
            pruner=data.get("pruner") or DEFAULT_PRUNER,
            workers=int(data.get("workers") or DEFAULT_WORKERS),
            keep_top=DEFAULT_KEEP_TOP if keep_top is None else int(keep_top),
            search_space=json.loads(json.dumps(data["search_space"])),  # a deep copy
            exclude=list(data.get("exclude") or []),
        )


def read_sweep_file(path: Path) -> dict[str, Any]:
    """The raw definition in a TOML file; a broken file is refused with the line at fault."""
    path = Path(path).expanduser()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepInputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SweepInputError(f"{path}: not valid TOML (not UTF-8 text)") from None
    except OSError as exc:
        raise SweepInputError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\s*\(at line (\d+), column \d+\)", str(exc))
        reason = str(exc)[: found.start()] if found else str(exc)
        where = f"line {found.group(1)}: " if found else ""
        reason = f"{where}{reason[:1].lower()}{reason[1:]}"
        raise SweepInputError(f"{path}: not valid TOML ({reason})") from None


def resolve_spec(raw: dict[str, Any], version: DatasetVersionRecord) -> tuple[SweepSpec, list[str]]:
    """Validate against the version's schema/profile and fill in defaults; also return one
    line per decision, so the user sees what was chosen for them."""
    from pipelines.sweeps.training import METRICS

    for key in raw:
        hint = _suggest(key, KEYS) or f" (known keys: {', '.join(KEYS)})"
        _need(key in KEYS, f"sweep file: unknown key {key!r}{hint}")
    given, (name_part, _, label) = raw.get("dataset"), str(raw.get("dataset")).partition("@")
    ok = given is None or (name_part == version.dataset_name and label in ("", version.label))
    _need(ok, f"dataset: {given!r} does not match the version given ({version.ref})")
    lines = [f"dataset: {version.ref} ({version.row_count:,} rows)"]
    target, column, kind, target_line = _target(raw.get("target"), version)
    task, why = _task(raw, target, column, kind)
    family, model_line = _family(raw.get("model"), task)
    lines += [target_line, f"task: {task} ({why})", model_line]
    use = "use one of: " + ", ".join(n for n, m in METRICS.items() if m.task == task)
    metric = raw.get("metric")
    if metric is None:
        metric = DEFAULT_METRIC[task]
        lines.append(f"metric: {metric} (default for {task}, {METRICS[metric].direction})")
    else:
        hint = _suggest(str(metric), METRICS)
        _need(metric in METRICS, f"metric: unknown {metric!r}{hint} ({use})")
        fits = METRICS[metric].task
        _need(fits == task, f"metric: {metric!r} is for {fits}, but the task is {task} ({use})")
        lines.append(f"metric: {metric} ({METRICS[metric].direction})")
    timeout = _number(raw, "timeout")
    trials = _whole(raw, "trials", None if timeout is not None else DEFAULT_TRIALS, 1)
    stop = f", stops after {timeout:g} s" if timeout is not None else ""
    lines.append(f"trials: {trials or 'no limit'}{stop}")
    folds, holdout, split_line = _split(raw, task, column, version.row_count - column.missing)
    seed = _whole(raw, "seed", DEFAULT_SEED, 0)
    _need(seed < 2**32, f"seed: must be below 2**32, got {seed}")
    sampler = _choice(raw, "sampler", SAMPLERS, DEFAULT_SAMPLER)
    pruner = _choice(raw, "pruner", PRUNERS, DEFAULT_PRUNER)
    workers = _whole(raw, "workers", DEFAULT_WORKERS, 1)
    keep_top = _whole(raw, "keep_top", DEFAULT_KEEP_TOP, 0)
    lines += [split_line, f"seed: {seed}", f"sampler: {sampler}", f"pruner: {pruner}"]
    lines += [f"workers: {workers}", f"keep_top: {keep_top}"]
    name = raw.get("name")
    ok = name is None or (isinstance(name, str) and bool(name.strip()))
    _need(ok, f"name: expected non-empty text, got {name!r}")
    exclude, exclude_line = _exclude(raw, target, version)
    lines.append(exclude_line)
    space, line = _resolve_params(raw.get("params"), family, task)
    lines.append(line)
    return SweepSpec(
        name=name.strip() if name else None, dataset=version.ref, target=target, model=family.name,
        metric=metric, task=task, direction=METRICS[metric].direction, trials=trials,
        timeout=timeout, folds=folds, holdout=holdout, seed=seed, sampler=sampler,
        pruner=pruner, workers=workers, keep_top=keep_top, search_space=space, exclude=exclude,
    ), lines  # fmt: skip


def searched_space(spec: SweepSpec | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A spec's searched parameters (a stored one read through `from_stored`), in
    search-space order: fixed values say nothing about how one trial differs from another."""
    space = (spec if isinstance(spec, SweepSpec) else SweepSpec.from_stored(spec)).search_space
    return {name: dict(d) for name, d in space.items() if d["kind"] != "fixed"}


def spec_to_toml(spec_or_raw: dict[str, Any] | SweepSpec) -> str:
    """The user-facing TOML (what the launch form saves) for a raw definition or a resolved spec;
    [params] lists only what differs from the family's defaults. Resolves to the same spec."""
    data = spec_or_raw.to_dict() if isinstance(spec_or_raw, SweepSpec) else dict(spec_or_raw)
    if "search_space" not in data:
        top = {k: v for k, v in data.items() if k != "params" and v is not None}
        params = data.get("params") or {}
    else:
        top = {k: data.get(k) for k in KEYS if k != "params" and data.get(k) is not None}
        if data.get("holdout") is not None:
            top.pop("folds", None)
        params = _params_table(data)
    out = ["# Workbench sweep definition"] + [f"{_key(k)} = {_value(v)}" for k, v in top.items()]
    if params:
        out += ["", "[params]"] + [f"{_key(k)} = {_value(v)}" for k, v in params.items()]
    return "\n".join(out) + "\n"


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise SweepInputError(message)


def _suggest(word: str, options: Any) -> str:
    same = [o for o in options if str(o).lower() == word.lower()]  # C for c
    close = same or difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _target(given: Any, version: DatasetVersionRecord) -> tuple[str, ColumnProfile, str, str]:
    """The target column, its profile and logical type, and the line saying where it came from."""
    columns = [s.name for s in version.schema]
    listed = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    why, ref = "given", version.ref
    if given is None or given == "":
        none = f"target: not given and {ref} has no registered target (columns: {listed})"
        _need(version.target is not None, none)
        given, why = version.target, f"registered with {ref}"
    hint = _suggest(str(given), columns)
    _need(given in columns, f"target: column {given!r} not in {ref}{hint} (columns: {listed})")
    column = version.profile.column(given)
    if column is None or column.distinct <= 0 or column.missing >= version.row_count:
        raise SweepInputError(f"target: {given!r} is missing in every row of {ref}")
    kind = next(s.logical_type for s in version.schema if s.name == given)
    dropped = f"; {column.missing:,} rows without it are left out" if column.missing else ""
    return given, column, kind, f"target: {given} ({why}{dropped})"


def _exclude(
    raw: dict[str, Any], target: str, version: DatasetVersionRecord
) -> tuple[list[str], str]:
    """Columns left out of the features: the ones given, or else identifiers (unique per row
    and named like an id, or text unique per row), which only let a model memorise rows."""
    columns = [s.name for s in version.schema]
    given = raw.get("exclude")
    if given is not None:
        ok = isinstance(given, list) and all(isinstance(c, str) for c in given)
        _need(ok, f"exclude: expected a list of column names, got {given!r}")
        for name in given:
            hint = _suggest(name, columns)
            _need(name in columns, f"exclude: column {name!r} not in {version.ref}{hint}")
            _need(name != target, f"exclude: {name!r} is the target")
        _need(len(given) < len(columns) - 1, "exclude: every feature would be left out")
        return list(given), f"exclude: {', '.join(given) or 'nothing'} (given)"
    found = []
    for schema in version.schema:
        column = version.profile.column(schema.name)
        if schema.name == target or column is None:
            continue
        filled = version.row_count - column.missing
        unique = filled > 0 and column.distinct >= NEARLY_UNIQUE * filled
        text = schema.logical_type in ("string", "categorical")
        named = ID_NAME.search(schema.name) or CAMEL_ID.search(schema.name)
        if unique and (text or named):
            found.append(schema.name)
    if not found:
        return [], "features: every column but the target (no identifier columns found)"
    features = len(columns) - 1
    _need(
        len(found) < features,
        f"exclude: every feature of {version.ref} looks like an identifier "
        f"({', '.join(found)}); give `exclude = []` to train on them anyway",
    )
    why = "unique per row, so an identifier; `exclude = []` keeps them"
    return found, f"exclude: {', '.join(found)} ({why})"


def _task(raw: dict[str, Any], target: str, column: ColumnProfile, kind: str) -> tuple[Task, str]:
    """The task, given or inferred from the target's type, and why; unlearnable targets refused."""
    distinct, task, why = column.distinct, _choice(raw, "task", TASKS, None), "given"
    if task is None:
        _need(kind in (*_LABELS, *_NUMERIC), f"target: {target!r} is {kind}; it cannot be learned")
        labels = kind in _LABELS or (kind == "integer" and distinct <= MAX_CLASSES)
        task = "classification" if labels else "regression"
        noun = "classes" if labels else "distinct values"
        why = f"inferred: target {target} is {kind} with {distinct} {noun}"
    if task == "classification":
        ok = kind in (*_LABELS, "integer") or (kind == "float" and distinct <= MAX_CLASSES)
        _need(ok, f"task: classification needs labels; {target!r} is {kind} ({distinct} values)")
        only = column.top_values[0][0] if column.top_values else column.min
        _need(distinct > 1, f"target: {target!r} has a single class ({only!r}); nothing to learn")
    else:
        _need(kind in _NUMERIC, f"target: {target!r} is {kind}; regression needs a numeric target")
        _need(distinct > 1, f"target: {target!r} has a single value; nothing to learn")
    return task, why


def _family(model: Any, task: str) -> tuple[Any, str]:
    from pipelines.sweeps.families import model_families

    families = model_families()
    known = ", ".join(families)
    _need(model is not None and model != "", f"model: missing (one of: {known})")
    hint = _suggest(str(model), families)
    _need(isinstance(model, str) and model in families, f"model: unknown {model!r}{hint} ({known})")
    family = families[model]
    fits = ", ".join(n for n, f in families.items() if task in f.tasks)
    _need(task in family.tasks, f"model: {model!r} does not do {task} (use one of: {fits})")
    return family, f"model: {model} ({family.label})"


def _split(raw: dict, task: str, column: ColumnProfile, rows: int) -> tuple[int, float | None, str]:
    """Folds (or a holdout fraction) that the data can fill: every fold needs every class."""
    holdout = _number(raw, "holdout")
    counts = dict(column.top_values) if task == "classification" else {}
    small = min(counts.items(), key=lambda kv: (kv[1], kv[0])) if counts else None
    how = " (stratified)" if task == "classification" else ""
    if holdout is None:
        folds = _whole(raw, "folds", DEFAULT_FOLDS, 2)
        need = f"folds: {folds} folds need at least {folds} rows"
        few = f"{need} per class; class {small and small[0]!r} has {small and small[1]}"
        _need(small is None or small[1] >= folds, few)
        _need(rows >= folds, f"{need}; {rows} have a target")
        return folds, None, f"folds: {folds}{how}"
    _need(raw.get("folds") is None, "holdout: give either folds or holdout, not both")
    _need(holdout < 0.9, f"holdout: must be a fraction between 0 and 0.9, got {holdout:g}")
    need = "holdout: a stratified holdout needs at least 2 rows per class"
    _need(small is None or small[1] >= 2, f"{need}; class {small and small[0]!r} has 1")
    scored, least = math.ceil(rows * holdout), column.distinct if counts else 2
    few = f"holdout: {holdout:g} of {rows} rows scores {scored}; each side needs at least {least}"
    _need(least <= scored <= rows - least, few)
    return 1, holdout, f"holdout: {holdout:g} of the rows{how}"


def _whole(raw: dict[str, Any], key: str, default: int | None, minimum: int) -> Any:
    value = default if raw.get(key) is None else raw[key]
    ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
    _need(ok, f"{key}: expected a whole number >= {minimum}, got {value!r}")
    _need(value is None or value >= minimum, f"{key}: must be at least {minimum}, got {value}")
    return value


def _number(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    _need(_is_number(value), f"{key}: expected a number, got {value!r}")
    _need(value > 0, f"{key}: must be greater than 0, got {value}")
    return float(value)


def _choice(raw: dict[str, Any], key: str, options: tuple[str, ...], default: Any) -> Any:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lower() in options:
        return value.strip().lower()
    hint = _suggest(str(value), options)
    raise SweepInputError(f"{key}: unknown {value!r}{hint} (use one of: {', '.join(options)})")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_choice(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _entry(kind: str, low: Any = None, high: Any = None, log: bool = False, step: Any = None,
           choices: Any = None) -> dict[str, Any]:  # fmt: skip
    """One resolved search-space entry, as JSON-ready as the spec that stores it."""
    cast = int if kind == "int" else float
    low, high, step = (None if v is None else cast(v) for v in (low, high, step))
    choices = None if choices is None else list(choices)
    return {"kind": kind, "low": low, "high": high, "log": log, "step": step, "choices": choices}


def _family_space(family: Any, task: str) -> dict[str, dict[str, Any]]:
    space = family.search_space(task).items()
    return {n: _entry(p.kind, p.low, p.high, bool(p.log), p.step, p.choices) for n, p in space}


def _resolve_params(given: Any, family: Any, task: str) -> tuple[dict[str, dict], str]:
    """The family's default search space with the user's [params] table applied."""
    defaults = _family_space(family, task)
    given = {} if given is None else given
    _need(isinstance(given, dict), "params: expected a table of parameter settings")
    space, changed = dict(defaults), {"overridden": 0, "fixed": 0, "added": 0}
    known = family.parameter_names(task) if set(given) - set(defaults) else None
    for name, setting in given.items():
        field, base = f"params.{name}", defaults.get(name)
        if known is not None and base is None and name not in known[1]:
            hint = _suggest(name, [*defaults, *sorted(known[0])]) or _suggest(name, known[1])
            raise SweepInputError(f"{field}: {family.name} has no parameter {name!r}{hint}")
        if isinstance(setting, dict):
            space[name] = _param_range(field, setting, base, family.name)
            changed["added" if base is None else "overridden"] += 1
        else:
            space[name] = {"kind": "fixed", "value": _fixed(field, setting, base)}
            changed["fixed"] += 1
    parts = [f"{len(defaults)} parameters from {family.name} defaults"]
    parts += [f"{n} {what}" for what, n in changed.items() if n]
    return space, "search space: " + ", ".join(parts)


def _fixed(field: str, value: Any, base: dict[str, Any] | None) -> Any:
    ok = isinstance(value, str | bool) or _is_number(value)
    _need(ok, f"{field}: a fixed value must be a number, text or true/false, got {value!r}")
    kind = base["kind"] if base else None
    whole = _is_number(value) and float(value).is_integer()
    _need(kind != "int" or whole, f"{field}: expected a whole number, got {value!r}")
    _need(kind != "float" or _is_number(value), f"{field}: expected a number, got {value!r}")
    return int(value) if kind == "int" else value


def _param_range(field: str, setting: dict, base: dict | None, family: str) -> dict[str, Any]:
    """One `{ low, high, log, step, type, choices }` entry, checked and completed from `base`."""
    for key in setting:
        hint = _suggest(key, PARAM_KEYS) or f" (use: {', '.join(PARAM_KEYS)})"
        _need(key in PARAM_KEYS, f"{field}: unknown setting {key!r}{hint}")
    kind = setting.get("type")
    ok = kind in (None, "int", "float", "categorical")
    _need(ok, f'{field}: type must be "int", "float" or "categorical", got {kind!r}')
    if "choices" in setting or kind == "categorical":
        choices = setting.get("choices")
        ok = not set(setting) - {"choices", "type"} and kind in (None, "categorical")
        _need(ok, f"{field}: give either choices or a low/high range, not both")
        if not isinstance(choices, list) or not choices or not all(map(_is_choice, choices)):
            message = f"{field}: choices must be a non-empty list of values, got {choices!r}"
            raise SweepInputError(message)
        return _entry("categorical", choices=list(choices))
    how = 'give type = "int" or "float" with low and high, or choices = [...]'
    _need(kind is not None or base is not None, f"{field}: not in the {family} search space; {how}")
    kind = kind or (base or {})["kind"]
    _need(kind != "categorical", f"{field}: {family} searches it as categorical; for a range {how}")
    inherit = base if base and base["kind"] != "categorical" else {}
    low, high = setting.get("low", inherit.get("low")), setting.get("high", inherit.get("high"))
    log = setting.get("log", False if "step" in setting else inherit.get("log", False))
    step = setting.get("step", None if setting.get("log") else inherit.get("step"))
    if low is None or high is None:
        raise SweepInputError(f"{field}: a new parameter needs low and high")
    for label, value in (("low", low), ("high", high), ("step", step)):
        number = value is None or _is_number(value)
        _need(number, f"{field}: {label} must be a number, got {value!r}")
        whole = value is None or kind == "float" or float(value).is_integer()
        _need(whole, f"{field}: {label} must be a whole number, got {value!r}")
    _need(isinstance(log, bool), f"{field}: log must be true or false, got {log!r}")
    _need(low <= high, f"{field}: low {low} > high {high}")
    _need(not log or low > 0, f"{field}: a log range needs low > 0, got {low}")
    _need(step is None or step > 0, f"{field}: step must be greater than 0, got {step}")
    _need(step is None or not log, f"{field}: step and log cannot be combined")
    return _entry(kind, low, high, log, step)


def _params_table(data: dict[str, Any]) -> dict[str, Any]:
    """The [params] entries that turn the family's defaults into `data["search_space"]`."""
    from pipelines.sweeps.families import get_family

    try:
        defaults = _family_space(get_family(data["model"]), data["task"])
    except SweepInputError:
        defaults = {}
    table: dict[str, Any] = {}
    for name, entry in data["search_space"].items():
        base = defaults.get(name)
        if entry == base:
            continue
        if entry["kind"] in ("fixed", "categorical"):
            table[name] = entry.get("value", {"choices": entry.get("choices")})
            continue
        item = {k: entry[k] for k in ("low", "high", "log", "step") if entry[k] is not None}
        new = base is None or base["kind"] != entry["kind"]
        table[name] = item | ({"type": entry["kind"]} if new else {})
    return table


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    """One TOML value; JSON's string escapes are all valid TOML basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise SweepInputError(f"sweep file: cannot write {value!r} as TOML")
