"""The Models screen: registered models, the versions of the one under the cursor with their
aliases and metrics, the selected version's lineage, alias promotion and demotion by key,
and a diff of two versions. Every read and write goes through pipelines/registry in a
worker; the screen only shows what comes back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from pipelines.inert import inert
from screens.focus import RestoresFocus
from screens.formatting import display_path, number, user_text
from screens.loaded import AliasChanged, ModelsLoaded, ModelVersionsLoaded
from screens.messages import InBackground
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import TableRow, fill_table

if TYPE_CHECKING:
    from textual.app import App

    from pipelines.registry.diff import ModelDiff
    from storage.handle import Workspace
    from storage.records import ModelVersionRecord, RegisteredModelRecord

CSS_FILE = Path(__file__).resolve().parent.parent / "assets" / "models.tcss"
MODEL_COLUMNS = (("name", "name"), ("versions", "versions"), ("aliases", "aliases"))
VERSION_COLUMNS = (
    ("version", "version"),
    ("aliases", "aliases"),
    ("metric", "metric"),
    ("run", "run"),
    ("dataset", "dataset"),
    ("sha256", "sha"),
    ("registered", "registered"),
)
# (key letter, alias, description) offered by promote.
PROMOTE_TO = [
    ("p", "production", "production: what serves traffic"),
    ("s", "staging", "staging: the next candidate"),
    ("c", "champion", "champion: the best so far"),
]


def headline(record: ModelVersionRecord) -> str:
    """'accuracy 0.8989': the sweep's metric, as the version scored on it."""
    metric = record.lineage.get("metric")
    value = record.metrics.get(metric) if metric else None
    return f"{metric} {number(value)}" if value is not None else "–"


def model_cells(model: RegisteredModelRecord) -> list[object]:
    aliases = ", ".join(f"{a}→{v}" for a, v in model.aliases.items())
    return [user_text(model.name), str(model.version_count), user_text(aliases or "–")]


def version_cells(record: ModelVersionRecord, marked: bool) -> list[object]:
    label = Text(f"{'● ' if marked else ''}{record.version}", justify="right")
    return [
        label,
        Text(", ".join(record.aliases) or "–", style="bold green" if record.aliases else "dim"),
        headline(record),
        str(record.run_id),
        user_text(str(record.lineage.get("dataset_version", "–"))),
        record.bundle_sha256[:12],
        f"{record.created_at:%Y-%m-%d %H:%M}",
    ]


def inert_lines(lines: list[str]) -> str:
    """Lines of user text for a markup-free Static: each made inert, the breaks kept."""
    return "\n".join(inert(line) for line in lines)


def version_detail(record: ModelVersionRecord) -> str:
    """Metrics, parameters and lineage of one version, as plain text."""
    lineage = record.lineage
    commit = str(lineage.get("git_commit") or "unknown")[:12]
    dirty = " (dirty)" if lineage.get("git_dirty") else ""
    lines = [
        f"{record.ref}  {', '.join('@' + a for a in record.aliases)}".rstrip(),
        f"{lineage.get('family')} {lineage.get('task')} of {lineage.get('target')}",
        f"run {record.run_id} (trial {lineage.get('trial')}) of sweep {lineage.get('sweep')} "
        f"{lineage.get('sweep_name')!r}",
        f"data {lineage.get('dataset_version')} sha256 {str(lineage.get('dataset_sha256'))[:12]}",
        f"git {commit}{dirty} · bundle sha256 {record.bundle_sha256[:12]}",
        "",
        "metrics: " + ", ".join(f"{k} {number(v)}" for k, v in sorted(record.metrics.items())),
        "params: " + ", ".join(f"{k}={number(v)}" for k, v in sorted(record.params.items())),
    ]
    if record.description:
        lines.insert(1, record.description)
    return inert_lines(lines)


def diff_detail(result: ModelDiff) -> str:
    """A diff as plain text: params that differ, every metric with its delta, schema and
    lineage differences."""
    lines = [f"diff {result.a} → {result.b}"]
    sections = (
        ("params", result.params),
        ("metrics", result.metrics),
        ("schema", result.schema),
        ("lineage", result.lineage),
    )
    for title, rows in sections:
        lines.append(f"{title}:" + ("" if rows else " no differences"))
        for row in rows:
            change = f" ({row.delta:+.3g})" if row.delta is not None else ""
            note = f" [{row.note}]" if row.note else ""
            lines.append(f"  {row.key}: {number(row.a)} → {number(row.b)}{change}{note}")
    return inert_lines(lines)


class ModelsScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """Registered models on the left; the versions of the highlighted one on the right."""

    CSS_PATH = CSS_FILE
    BINDINGS = [
        Binding("escape", "back", "Back", id="models.back"),
        Binding(
            "p",
            "promote",
            "Promote",
            tooltip="Point an alias (production, staging, champion) at the selected version",
            id="models.promote",
        ),
        Binding(
            "x", "demote", "Demote", tooltip="Remove an alias from the version", id="models.demote"
        ),
        Binding(
            "space", "mark", "Mark", tooltip="Mark the version to diff against", id="models.mark"
        ),
        Binding(
            "c", "diff", "Diff", tooltip="Diff the marked version with this one", id="models.diff"
        ),
        Binding(
            "i",
            "build_image",
            "Build image",
            tooltip="Build a serving image of the version",
            id="models.image",
        ),
        Binding(
            "y",
            "deploy",
            "Deploy",
            tooltip="Deploy the version (its image, or locally)",
            id="models.deploy",
        ),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="models.refresh"),
    ]

    def __init__(self, ws: Workspace, name: str | None = None) -> None:
        super().__init__()
        self.workspace = ws
        self.wanted_name = name
        self.models: list[RegisteredModelRecord] = []
        self.versions: list[ModelVersionRecord] = []
        self.versions_of: str | None = None
        self.requested: str | None = None  # the model whose versions were asked for last
        self.marked: ModelVersionRecord | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="models-body"):
            models: DataTable[object] = DataTable(id="models-table", cursor_type="row")
            fill_table(models, MODEL_COLUMNS, [])
            yield models
            with Vertical(id="models-right"):
                versions: DataTable[object] = DataTable(id="versions-table", cursor_type="row")
                fill_table(versions, VERSION_COLUMNS, [])
                yield versions
                yield Static("", id="model-detail", markup=False)
        yield Static("loading models …", id="models-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "Models"
        self.sub_title = display_path(self.workspace.root)
        self.query_one("#models-table").focus()
        self.load_models()

    # --- data in ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="models", exit_on_error=False,
          description="loading models")  # fmt: skip
    def load_models(self) -> None:
        from pipelines.registry.versions import list_models

        self.post_message(ModelsLoaded(list_models(self.workspace)))

    @on(ModelsLoaded)
    def models_loaded(self, event: ModelsLoaded) -> None:
        self.show_models(event.models)

    def show_models(self, models: list[RegisteredModelRecord]) -> None:
        table = self.query_one("#models-table", DataTable)
        keep = self.wanted_name or self.versions_of
        self.models = models
        fill_table(table, MODEL_COLUMNS, [TableRow(m.name, model_cells(m)) for m in models])
        names = [m.name for m in models]
        status = self.query_one("#models-status", Static)
        if not models:
            status.update(
                "no registered models yet — M on a run (Runs, Sweep, Compare) or "
                "`workbench model register RUN --name NAME` registers one"
            )
            self.show_versions(None, [])
            return
        status.update(f"{len(models)} model{'s' * (len(models) != 1)}")
        if keep in names:
            table.move_cursor(row=names.index(keep))
        self.wanted_name = None
        self.request_versions(names[table.cursor_row])

    @on(DataTable.RowHighlighted, "#models-table")
    def model_highlighted(self) -> None:
        """Read the cursor, not the event: a refill highlights row 0 before the cursor is
        put back, and that late event must not load another model's versions."""
        table = self.query_one("#models-table", DataTable)
        if self.models and 0 <= table.cursor_row < len(self.models):
            name = self.models[table.cursor_row].name
            if name != self.requested:
                self.request_versions(name)

    @on(DataTable.RowSelected, "#models-table")
    def model_selected(self) -> None:
        self.query_one("#versions-table").focus()

    def request_versions(self, name: str) -> None:
        """Load `name`'s versions; the newest request wins (the worker group is exclusive)."""
        self.requested = name
        self.load_versions(name)

    @work(thread=True, exclusive=True, group="model-versions", exit_on_error=False,
          description="loading model versions")  # fmt: skip
    def load_versions(self, name: str) -> None:
        from pipelines.registry.versions import list_versions

        self.post_message(ModelVersionsLoaded(name, list_versions(self.workspace, name)))

    @on(ModelVersionsLoaded)
    def versions_loaded(self, event: ModelVersionsLoaded) -> None:
        self.show_versions(event.name, event.versions)

    def show_versions(self, name: str | None, versions: list[ModelVersionRecord]) -> None:
        table = self.query_one("#versions-table", DataTable)
        keep = self.current_version()
        same_model = name == self.versions_of
        self.versions_of, self.versions = name, versions
        if self.marked is not None and self.marked.model_name != name:
            self.marked = None
        self.fill_versions()
        numbers = [v.version for v in versions]
        if same_model and keep is not None and keep.version in numbers:
            table.move_cursor(row=numbers.index(keep.version))
        elif versions:
            table.move_cursor(row=len(versions) - 1)  # the newest
        self.show_detail()

    def fill_versions(self) -> None:
        marked = self.marked.version if self.marked else None
        rows = [
            TableRow(str(v.version), version_cells(v, v.version == marked)) for v in self.versions
        ]
        fill_table(self.query_one("#versions-table", DataTable), VERSION_COLUMNS, rows)

    @on(DataTable.RowHighlighted, "#versions-table")
    def version_highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        record = self.current_version()
        detail = self.query_one("#model-detail", Static)
        detail.update(version_detail(record) if record else "")

    # --- selection -------------------------------------------------------------------

    def current_version(self) -> ModelVersionRecord | None:
        table = self.query_one("#versions-table", DataTable)
        if not self.versions or not 0 <= table.cursor_row < len(self.versions):
            return None
        return self.versions[table.cursor_row]

    def version_or_warn(self) -> ModelVersionRecord | None:
        record = self.current_version()
        if record is None:
            self.notify("no model version selected", severity="warning")
        return record

    # --- actions ---------------------------------------------------------------------

    def action_promote(self) -> None:
        from screens.dialogs import ChoiceScreen

        record = self.version_or_warn()
        if record is None:
            return

        def chosen(alias: str | None) -> None:
            if alias is not None:
                self.change_alias(
                    record.model_name, record.version, alias, remove=False, app=self.app
                )

        self.app.push_screen(
            ChoiceScreen(f"Point which alias at {record.ref}?", PROMOTE_TO), chosen
        )

    def action_demote(self) -> None:
        from screens.dialogs import ChoiceScreen

        record = self.version_or_warn()
        if record is None:
            return
        if not record.aliases:
            self.notify(f"{record.ref} has no alias to remove", severity="warning")
            return
        if len(record.aliases) == 1:
            self.change_alias(
                record.model_name, record.version, record.aliases[0], remove=True, app=self.app
            )
            return
        options = [(str(i + 1), a, a) for i, a in enumerate(record.aliases[:9])]

        def chosen(alias: str | None) -> None:
            if alias is not None:
                self.change_alias(
                    record.model_name, record.version, alias, remove=True, app=self.app
                )

        self.app.push_screen(ChoiceScreen(f"Remove which alias of {record.ref}?", options), chosen)

    @work(thread=True, exclusive=True, group="model-alias", exit_on_error=False,
          description="changing an alias")  # fmt: skip
    def change_alias(
        self, name: str, version: int, alias: str, *, remove: bool, app: App[object]
    ) -> None:
        """`app` is taken on the UI thread (a closed screen's thread may not reach it), so the
        change is told even when the screen was closed meanwhile."""
        from pipelines.registry import versions as registry

        if remove:
            registry.remove_alias(self.workspace, name, alias)
            message = f"removed {name}@{alias} (it pointed at {name}:{version})"
        else:
            move = registry.set_alias(self.workspace, name, version, alias)
            if not move.changed:
                message = f"{name}@{alias} already points at {name}:{version}"
            elif move.previous is None:
                message = f"{name}@{alias} → {name}:{version}"
            else:
                message = f"{name}@{alias} moved from {name}:{move.previous} to {name}:{version}"
        app.notify(inert(message), title="alias")  # thread-safe
        self.post_message(AliasChanged())

    @on(AliasChanged)
    def alias_changed(self) -> None:
        self.load_models()

    def action_mark(self) -> None:
        record = self.version_or_warn()
        if record is None:
            return
        self.marked = None if self.marked == record else record
        self.fill_versions()
        self.query_one("#versions-table", DataTable).move_cursor(row=self.versions.index(record))
        if self.marked is not None:
            self.notify(f"{record.ref} marked: select another version and press c to diff")

    def action_diff(self) -> None:
        from pipelines.registry.diff import diff_records

        record = self.version_or_warn()
        if record is None:
            return
        if self.marked is None or self.marked == record:
            self.notify(
                "mark a version with space, then select another and press c", severity="warning"
            )
            return
        result = diff_records(self.marked, record)
        self.query_one("#model-detail", Static).update(diff_detail(result))

    def action_build_image(self) -> None:
        """Start a build (a supervised process: it outlives this screen) and show it."""
        record = self.current_version()
        if record is None:
            self.notify("no version here", severity="warning")
            return
        ws, ref = self.workspace, record.ref

        def work() -> str:
            from pipelines.packaging.builds import start_build

            build = start_build(ws, ref)
            return f"building {build.tag} (build {build.id}): see the Images screen (I)"

        self.post_message(InBackground(f"building an image of {ref}", work))

    def action_deploy(self) -> None:
        """Deploy the version: its newest image where an engine answers, else locally."""
        record = self.current_version()
        if record is None:
            self.notify("no version here", severity="warning")
            return
        ws, ref = self.workspace, record.ref

        def work() -> str:
            from pipelines.deploy.deployments import deploy
            from storage.errors import WorkbenchError

            try:
                deployed = deploy(ws, ref)
            except WorkbenchError as exc:
                if "no image is built" not in str(exc):
                    raise
                deployed = deploy(ws, ref, local=True)
                notice = "no image is built for it: running as a local process"
            else:
                notice = deployed.notice or ""
            record = deployed.record
            said = f"deployed {record.model_ref} as {record.name} at {record.url} ({record.kind})"
            return f"{said}; {notice}" if notice else said

        self.post_message(InBackground(f"deploying {ref}", work))

    def action_refresh(self) -> None:
        self.load_models()

    def action_back(self) -> None:
        self.app.pop_screen()
