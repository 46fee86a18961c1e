"""The launch form for a sweep: pick data, model and metric; every refusal shows inline
before anything starts, and the same definition can be saved as TOML for headless runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from screens.focus import RestoresFocus
from screens.loaded import (
    ChoicesLoaded,
    DefinitionLoaded,
    DefinitionSaved,
    FormError,
    StartRefused,
    SweepStarted,
)
from screens.routing import ForwardsWorkerFailures

if TYPE_CHECKING:
    from textual.app import App

    from storage.handle import Workspace
    from storage.records import DatasetSummary

SAMPLERS = ("tpe", "random", "cmaes", "gp")  # as pipelines.sweeps.spec accepts them
PRUNERS = ("median", "hyperband", "none")
MAX_CLASSES = 20  # pipelines.sweeps.spec's rule: integers with few values are class labels
WHOLE_FIELDS = ("trials", "workers", "folds", "seed")
SELECT_FIELDS = ("dataset", "model", "metric", "sampler", "pruner")
TEXT_FIELDS = ("target", *WHOLE_FIELDS, "name", "file")


def likely_task(summary: DatasetSummary | None, target: str) -> str | None:
    """The task the sweep will infer for this target, when the registered profile tells;
    only used to narrow the metric list (the sweep itself decides, and says why)."""
    version = summary.latest if summary else None
    if version is None or not target:
        return None
    kind = next((c.logical_type for c in version.schema if c.name == target), None)
    profile = version.profile.column(target)
    if kind in ("string", "categorical", "boolean"):
        return "classification"
    if kind == "integer" and profile is not None:
        return "classification" if profile.distinct <= MAX_CLASSES else "regression"
    return "regression" if kind == "float" else None


def file_stem(text: str) -> str:
    """A file name anyone can type: letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "sweep"


class SweepFormScreen(RestoresFocus, ForwardsWorkerFailures, ModalScreen[int | None]):
    """Dismisses with the id of the sweep it created and started, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="sweep_form.cancel"),
        Binding("ctrl+s", "save_toml", "Save as TOML", id="sweep_form.save"),
        Binding("ctrl+o", "load_toml", "Load TOML", id="sweep_form.load"),
        Binding("ctrl+enter,f2", "submit", "Start", id="sweep_form.start"),
    ]

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.workspace = ws
        self.datasets: dict[str, DatasetSummary] = {}
        self.families: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self._prefilled_target = ""
        self.metric_names: list[str] = []
        self.model_names: list[str] = []
        self._busy = False
        self.loaded_params: dict[str, Any] = {}  # [params] of a loaded file, passed through
        self._error_field: str | None = None  # the field the shown error names, if any
        self._error_values: dict[str, object] = {}  # the fields as they were when it showed

    def compose(self) -> ComposeResult:
        # Compact fields (one line each): the whole form fits an 80×24 terminal.
        with Vertical(id="sweep-form", classes="dialog"):
            yield Static("[b]New sweep[/b] · an Optuna study over one dataset version")
            with Grid(id="sweep-form-grid"):
                yield Label("Dataset")
                yield Select[str]([], prompt="loading …", id="form-dataset", compact=True)
                yield Label("Target")
                yield Input(placeholder="registered target", id="form-target", compact=True)
                yield Label("Model")
                yield Select[str]([], prompt="loading …", id="form-model", compact=True)
                yield Label("Metric")
                yield Select[str]([], prompt="default for the task", id="form-metric", compact=True)
                for label, key, value in (
                    ("Trials", "trials", "20"),
                    ("Workers", "workers", "1"),
                    ("Folds", "folds", "5"),
                    ("Seed", "seed", "0"),
                ):
                    yield Label(label)
                    yield Input(value, type="integer", id=f"form-{key}", compact=True)
                yield Label("Sampler")
                yield Select[str](
                    [(s, s) for s in SAMPLERS],
                    value="tpe",
                    allow_blank=False,
                    id="form-sampler",
                    compact=True,
                )
                yield Label("Pruner")
                yield Select[str](
                    [(p, p) for p in PRUNERS],
                    value="median",
                    allow_blank=False,
                    id="form-pruner",
                    compact=True,
                )
                yield Label("Name")
                yield Input(placeholder="optional", id="form-name", classes="wide", compact=True)
                yield Label("File")
                yield Input(
                    placeholder="path/to/sweep.toml", id="form-file", classes="wide", compact=True
                )
            yield Static(
                "ctrl+o or enter loads it; empty: the newest in <workspace>/sweeps",
                id="form-file-hint",
                classes="hint",
                markup=False,
            )
            yield Static("", id="form-error", classes="error", markup=False)
            yield Static("", id="form-note", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save TOML (ctrl+s)", id="form-save", compact=True)
                yield Button("Start (f2)", variant="primary", id="form-start", compact=True)
                yield Button("Cancel", id="form-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#form-dataset").focus()
        self.load_choices()

    # --- choices ----------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        group="sweep-form",
        exit_on_error=False,
        description="loading datasets and models",
    )
    def load_choices(self) -> None:
        from pipelines.datasets.versions import list_datasets
        from pipelines.sweeps.families import model_families
        from pipelines.sweeps.training import METRICS

        datasets = [s for s in list_datasets(self.workspace) if s.latest is not None]
        self.post_message(ChoicesLoaded(datasets, model_families(), dict(METRICS)))

    @on(ChoicesLoaded)
    def show_choices(self, event: ChoicesLoaded) -> None:
        datasets = event.datasets
        self.datasets = {s.name: s for s in datasets}
        self.families, self.metrics = event.families, event.metrics
        dataset = self.query_one("#form-dataset", Select)
        dataset.set_options([(s.name, s.name) for s in datasets])
        dataset.prompt = "choose a dataset" if datasets else "no datasets: add one first (d, a)"
        self.query_one("#form-model", Select).prompt = "choose a model family"
        self.narrow_choices()

    @on(Select.Changed, "#form-dataset")
    def dataset_changed(self, event: Select.Changed) -> None:
        """Prefill the registered target, unless the user typed another one."""
        summary = self.datasets.get(str(event.value))
        target = self.query_one("#form-target", Input)
        registered = summary.latest.target if summary and summary.latest else None
        if target.value in ("", self._prefilled_target):
            target.value = registered or ""
            self._prefilled_target = target.value
        self.narrow_choices()

    @on(Input.Changed, "#form-target")
    def target_changed(self) -> None:
        self.narrow_choices()

    def narrow_choices(self) -> None:
        """Offer the metrics (and models) of the task, when the dataset's profile tells it."""
        summary = self.datasets.get(str(self.query_one("#form-dataset", Select).value))
        task = likely_task(summary, self.query_one("#form-target", Input).value.strip())
        models = [n for n, f in self.families.items() if task is None or task in f.tasks]
        if models != self.model_names:
            self.model_names = models
            labels = {n: f"{n} · {self.families[n].label}" for n in models}
            self.offer(self.query_one("#form-model", Select), models, labels)
        metric = self.query_one("#form-metric", Select)
        names = [n for n, m in self.metrics.items() if task is None or m.task == task]
        if names != self.metric_names:
            self.metric_names = names
            labels = {n: f"{n} ({self.metrics[n].direction})" for n in names}
            self.offer(metric, names, labels)
        metric.prompt = f"default for {task}" if task else "default for the task"

    @staticmethod
    def offer(select: Select[str], names: list[str], labels: dict[str, str]) -> None:
        """New options for a Select, keeping its choice when it is still offered."""
        current = select.value
        select.set_options([(labels[n], n) for n in names])
        if current in names:
            select.value = current

    # --- the definition ---------------------------------------------------------------

    def raw_definition(self) -> dict[str, Any]:
        """What the fields say, as a sweep definition (None where left to the defaults).
        Raises ValueError naming the field when a number is not a whole number."""
        raw: dict[str, Any] = {}
        for key in ("dataset", "model", "metric", "sampler", "pruner"):
            value = self.query_one(f"#form-{key}", Select).value
            raw[key] = value if isinstance(value, str) else None
        for key in ("target", "name"):
            raw[key] = self.query_one(f"#form-{key}", Input).value.strip() or None
        for key in WHOLE_FIELDS:
            text = self.query_one(f"#form-{key}", Input).value.strip()
            try:
                raw[key] = int(text) if text else None
            except ValueError:
                raise ValueError(f"{key}: expected a whole number, got {text!r}") from None
        if self.loaded_params:
            raw["params"] = dict(self.loaded_params)
        return raw

    # --- load a TOML file -------------------------------------------------------------

    def action_load_toml(self) -> None:
        self.load_toml(self.query_one("#form-file", Input).value.strip())

    @work(
        thread=True,
        exclusive=True,
        group="sweep-form-load",
        exit_on_error=False,
        description="loading sweep definition",
    )
    def load_toml(self, typed: str) -> None:
        from pipelines.sweeps.spec import read_sweep_file
        from storage.errors import WorkbenchError

        if typed:
            path = Path(typed).expanduser()
        else:
            files = sorted(
                self.workspace.paths.sweeps.glob("*.toml"), key=lambda p: p.stat().st_mtime
            )
            if not files:
                self.post_message(FormError("no saved sweep files to load"))
                return
            path = files[-1]
        try:
            raw = read_sweep_file(path)
        except WorkbenchError as exc:
            self.post_message(FormError(str(exc)))
            return
        self.post_message(DefinitionLoaded(raw, path))

    @on(FormError)
    def form_error(self, event: FormError) -> None:
        self.show_error(event.message)

    @on(DefinitionLoaded)
    def definition_loaded(self, event: DefinitionLoaded) -> None:
        self.fill_from(event.raw, event.path)

    def fill_from(self, raw: dict[str, Any], path: Path) -> None:
        """Put a definition into the fields; what the form has no field for rides along."""
        dataset = str(raw.get("dataset", "")).partition("@")[0]
        if dataset in self.datasets:
            self.query_one("#form-dataset", Select).value = dataset
        for key in ("target", "name"):
            self.query_one(f"#form-{key}", Input).value = str(raw.get(key) or "")
        self._prefilled_target = self.query_one("#form-target", Input).value
        for key in WHOLE_FIELDS:
            if key in raw:
                self.query_one(f"#form-{key}", Input).value = str(raw[key])
        self.narrow_choices()
        for key in ("model", "metric", "sampler", "pruner"):
            if isinstance(raw.get(key), str):
                try:
                    self.query_one(f"#form-{key}", Select).value = raw[key]
                except Exception:  # a value the select does not offer: the start will say why
                    self.show_error(f"{key}: {raw[key]!r} is not offered here")
        self.loaded_params = dict(raw.get("params") or {})
        extra = f", {len(self.loaded_params)} parameter settings kept" if self.loaded_params else ""
        self.show_error("")
        self.show_note(f"loaded {path}{extra}")
        self.query_one("#form-note", Static).scroll_visible()
        self.app.notify(f"{path}{extra}", title="sweep definition loaded")

    def checked_definition(self) -> dict[str, Any] | None:
        """The definition, or None after naming the first problem found here."""
        try:
            raw = self.raw_definition()
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        if raw["dataset"] is None:
            self.show_error("dataset: choose a dataset")
            return None
        if raw["model"] is None:
            self.show_error("model: choose a model family")
            return None
        return {key: value for key, value in raw.items() if value is not None}

    # --- start ------------------------------------------------------------------------

    @on(Input.Submitted)
    def field_submitted(self, event: Input.Submitted) -> None:
        """enter in File loads it; in any other field it moves on (only f2 or Start starts)."""
        event.stop()
        if event.input.id == "form-file":
            self.action_load_toml()
        else:
            self.focus_next()

    @on(Button.Pressed, "#form-start")
    def action_submit(self) -> None:
        raw = self.checked_definition()
        if raw is None or self._busy:
            return
        self._busy = True
        self.show_error("")
        self.show_note("checking the definition against the data …")
        self.create_and_start(raw, self.app)

    @work(
        thread=True,
        exclusive=True,
        group="sweep-form-start",
        exit_on_error=False,
        description="starting sweep",
    )
    def create_and_start(self, raw: dict[str, Any], app: App[object]) -> None:
        """`app` is taken on the UI thread: a closed screen's thread may no longer reach it,
        and the start is told even when the form was closed meanwhile."""
        from pipelines.sweeps.lifecycle import create_sweep, start_sweep
        from storage.errors import WorkbenchError

        try:
            created = create_sweep(self.workspace, raw)
        except WorkbenchError as exc:  # refused: say why here, nothing was created
            self.post_message(StartRefused(str(exc)))
            return
        except Exception:
            self.post_message(StartRefused(""))
            raise
        sweep_id, name = created.sweep.id, created.sweep.name
        try:
            start_sweep(self.workspace, sweep_id)
        except Exception as exc:
            self.post_message(StartRefused(f"created sweep {sweep_id}: {exc}"))
            raise
        app.notify(f"{name}: running in the background", title=f"sweep {sweep_id} started")
        self.post_message(SweepStarted(sweep_id))

    @on(StartRefused)
    def refused(self, event: StartRefused) -> None:
        self._busy = False
        self.show_note("")
        self.show_error(event.message)

    @on(SweepStarted)
    def started(self, event: SweepStarted) -> None:
        self.dismiss(event.sweep_id)

    # --- save as TOML -----------------------------------------------------------------

    @on(Button.Pressed, "#form-save")
    def action_save_toml(self) -> None:
        raw = self.checked_definition()
        if raw is not None:
            self.show_error("")
            self.save_toml(raw, self.app)

    @work(
        thread=True,
        exclusive=True,
        group="sweep-form-save",
        exit_on_error=False,
        description="saving sweep definition",
    )
    def save_toml(self, raw: dict[str, Any], app: App[object]) -> None:
        """`app` as for create_and_start: the file is written, and told, even if closed."""
        from pipelines.datasets.versions import get_version
        from pipelines.sweeps.spec import resolve_spec, spec_to_toml
        from storage.errors import WorkbenchError

        try:  # the same checks a start makes, so the file runs as it is
            resolve_spec(raw, get_version(self.workspace, raw["dataset"]))
        except WorkbenchError as exc:
            self.post_message(FormError(str(exc)))
            return
        folder = self.workspace.paths.sweeps
        folder.mkdir(parents=True, exist_ok=True)
        stem = file_stem(raw.get("name") or f"{raw['dataset']}-{raw['model']}")
        path = folder / f"{stem}.toml"
        path.write_text(spec_to_toml(raw), encoding="utf-8")
        app.notify(str(path), title="sweep definition saved")  # thread-safe
        self.post_message(DefinitionSaved(path))

    @on(DefinitionSaved)
    def saved(self, event: DefinitionSaved) -> None:
        path = event.path
        self.show_note(f"saved {path} — `workbench sweep start {path}` runs it headless")

    # --- messages ---------------------------------------------------------------------

    def field_values(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for key in SELECT_FIELDS:
            values[key] = self.query_one(f"#form-{key}", Select).value
        for key in TEXT_FIELDS:
            values[key] = self.query_one(f"#form-{key}", Input).value
        return values

    def show_error(self, message: str) -> None:
        """Show (or clear) the one error line; it names a field as ``field: why`` when it can,
        and goes away once that field (or, naming none, any field) is changed."""
        self.query_one("#form-error", Static).update(message)
        field = message.partition(":")[0].strip()
        self._error_field = field if field in (*SELECT_FIELDS, *TEXT_FIELDS) else None
        self._error_values = self.field_values() if message else {}

    @on(Input.Changed)
    @on(Select.Changed)
    def field_changed(self) -> None:
        """A change (typed, chosen or loaded) to what the error was about clears it."""
        if not self._error_values or not self.is_attached:
            return
        now = self.field_values()
        field = self._error_field
        changed = (
            now != self._error_values
            if field is None
            else (now[field] != self._error_values[field])
        )
        if changed:
            self.show_error("")

    def show_note(self, message: str) -> None:
        self.query_one("#form-note", Static).update(message)

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
