"""The Datasets screen: every dataset, its versions, and the actions on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from pipelines.inert import inert
from screens.focus import RestoresFocus
from screens.formatting import display_path, number, size, status_text, user_text
from screens.loaded import (
    DatasetsLoaded,
    RegisterEnded,
    RegisterProgressed,
    RemovalUsersFound,
    VersionsLoaded,
)
from screens.messages import OpenDataset
from screens.routing import ForwardsWorkerFailures
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import TableRow, fill_table

if TYPE_CHECKING:
    from textual.widgets import ProgressBar

    from screens.dialogs import AddDatasetRequest, ConfirmScreen
    from storage.first_look import DatasetGlance
    from storage.handle import Workspace
    from storage.records import DatasetSummary, DatasetVersionRecord


# Most telling first: a narrow terminal cuts the columns on the right.
DATASET_COLUMNS = ("name", "check", "rows", "versions")
VERSION_COLUMNS = ("version", "check", "rows", "cols", "registered", "size", "kept", "sha256")
WIDEST = {"name": 24}


def dataset_row(name: str, status: str | None, rows: int | None, versions: int) -> TableRow:
    """One line of the datasets table; status and rows of the newest version (None: none)."""
    return TableRow(
        name,
        (
            user_text(name),
            status_text(status) if status is not None else "–",
            number(rows) if rows is not None else "–",
            str(versions),
        ),
    )


class DatasetsScreen(RestoresFocus, ForwardsWorkerFailures, Screen[None]):
    """Datasets on the left, the selected dataset's versions on the right."""

    BINDINGS = [
        Binding("enter", "open_version", "Details", id="datasets.open", show=False),
        Binding("b", "browse", "Browse rows", id="datasets.browse"),
        Binding("a", "add", "Add", id="datasets.add"),
        Binding("v", "validation", "Validation", id="datasets.validation"),
        Binding("x,delete", "remove", "Remove", id="datasets.remove"),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="datasets.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.workspace: Workspace | None = None
        self.summaries: list[DatasetSummary] = []
        self.versions: list[DatasetVersionRecord] = []
        self.selected_dataset: str | None = None
        self.glances: list[DatasetGlance] | None = None  # the App's first look, if it had one

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="datasets-body"):
            with Vertical(id="datasets-pane", classes="pane"):
                yield Static("Datasets", classes="pane-title")
                table: DataTable[object] = DataTable(id="datasets-table", cursor_type="row")
                table.add_columns(*DATASET_COLUMNS)
                yield table
            with Vertical(id="versions-pane", classes="pane"):
                yield Static("Versions", classes="pane-title", id="versions-title")
                versions: DataTable[object] = DataTable(id="versions-table", cursor_type="row")
                versions.add_columns(*VERSION_COLUMNS)
                yield versions
                yield Static("", id="version-summary")
        # The progress bar (and the dialogs) load when first needed, not for the first frame.
        yield Static("opening workspace …", id="datasets-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "Datasets"
        if self.glances:
            self.show_glance(self.glances)

    # --- data in ---------------------------------------------------------------------

    def workspace_opened(self, workspace: Workspace) -> None:
        """Called by the App once the workspace is open (attributes down)."""
        self.workspace = workspace
        self.sub_title = display_path(workspace.root)
        self.set_status(f"workspace {display_path(workspace.root)}")
        self.load_datasets()

    def workspace_failed(self, reason: str) -> None:
        self.set_status(reason, error=True)

    @work(
        thread=True,
        exclusive=True,
        group="datasets",
        exit_on_error=False,
        description="loading datasets",
    )
    def load_datasets(self, select: str | None = None) -> None:
        from pipelines.datasets.versions import list_datasets

        assert self.workspace is not None
        self.post_message(DatasetsLoaded(list_datasets(self.workspace), select))

    @on(DatasetsLoaded)
    def datasets_loaded(self, event: DatasetsLoaded) -> None:
        self.show_datasets(event.summaries, event.select)

    def show_datasets(self, summaries: list[DatasetSummary], select: str | None) -> None:
        self.summaries = summaries
        table = self.query_one("#datasets-table", DataTable)
        fill_table(
            table,
            DATASET_COLUMNS,
            [
                dataset_row(
                    s.name,
                    s.latest.validation.status if s.latest else None,
                    s.latest.row_count if s.latest else None,
                    s.version_count,
                )
                for s in summaries
            ],
            widest=WIDEST,
        )
        if not summaries:
            self.set_status("no datasets yet — press a to add a file, or run `workbench demo`")
            self.show_versions(None, [])
            return
        names = [s.name for s in summaries]
        wanted = select if select in names else self.selected_dataset
        row = names.index(wanted) if wanted in names else 0
        table.move_cursor(row=row)
        self.select_dataset(names[row])
        if self.focused is None:
            table.focus()

    def show_glance(self, glances: list[DatasetGlance]) -> None:
        """The datasets as the App's first look read them, drawn in the first frame while the
        workspace opens: the same rows the listing will show; versions follow it."""
        if self.workspace is not None or self.summaries:
            return  # the real listing is here already
        rows = [dataset_row(g.name, g.status, g.row_count, g.version_count) for g in glances]
        table = self.query_one("#datasets-table", DataTable)
        fill_table(table, DATASET_COLUMNS, rows, widest=WIDEST)
        if self.focused is None:
            table.focus()

    @on(DataTable.RowHighlighted, "#datasets-table")
    def dataset_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value and event.row_key.value != self.selected_dataset:
            self.select_dataset(str(event.row_key.value))

    def select_dataset(self, name: str) -> None:
        self.selected_dataset = name
        if self.workspace is not None:  # before, only the glance: the listing selects again
            self.load_versions(name)

    @work(
        thread=True,
        exclusive=True,
        group="versions",
        exit_on_error=False,
        description="loading versions",
    )
    def load_versions(self, name: str) -> None:
        from pipelines.datasets.versions import list_versions

        assert self.workspace is not None
        self.post_message(VersionsLoaded(name, list_versions(self.workspace, name)))

    @on(VersionsLoaded)
    def versions_loaded(self, event: VersionsLoaded) -> None:
        self.show_versions(event.name, event.versions)

    def show_versions(self, name: str | None, versions: list[DatasetVersionRecord]) -> None:
        if name is not None and name != self.selected_dataset:
            return  # a superseded fetch: exclusive workers are cancelled, threads run on
        self.versions = list(reversed(versions))  # newest first
        self.query_one("#versions-title", Static).update(
            user_text(f"Versions of {name}" if name else "Versions")
        )
        rows = [
            TableRow(
                v.label,
                (
                    v.label,
                    status_text(v.validation.status),
                    number(v.row_count),
                    str(v.column_count),
                    f"{v.created_at:%Y-%m-%d %H:%M}",
                    size(v.size_bytes),
                    "reference" if v.is_reference else "copy",
                    v.sha256[:12],
                ),
            )
            for v in self.versions
        ]
        fill_table(self.query_one("#versions-table", DataTable), VERSION_COLUMNS, rows)
        self.show_summary()

    @on(DataTable.RowHighlighted, "#versions-table")
    def show_summary(self) -> None:
        version = self.current_version()
        summary = self.query_one("#version-summary", Static)
        if version is None:
            summary.update("")
            return
        problems = [c for c in version.validation.checks if c.status != "pass"]
        lines = [
            f"[b]{escape(inert(version.ref))}[/b] · target: {escape(inert(version.target or '–'))}"
            f" · source: {escape(display_path(version.source_path))}",
            f"validation {version.validation.status}"
            + (f" against {version.validation.against}" if version.validation.against else ""),
        ]
        lines += [
            f"  {c.status}: {c.check}{escape(inert(f' [{c.column}]')) if c.column else ''}"
            f" — {escape(inert(c.reason))}"
            for c in problems[:6]
        ]
        if len(problems) > 6:
            lines.append(f"  … {len(problems) - 6} more (press v)")
        summary.update("\n".join(lines))

    @on(DataTable.RowSelected, "#datasets-table")
    def dataset_selected(self) -> None:
        """enter on a dataset opens its version under the versions cursor (the newest, unless
        moved): the footer and help promise Details, and moving focus alone looked like a
        swallowed key."""
        self.action_open_version()

    @on(DataTable.RowSelected, "#versions-table")
    def version_selected(self) -> None:
        self.action_open_version()

    # --- actions ---------------------------------------------------------------------

    def current_version(self) -> DatasetVersionRecord | None:
        """The version under the versions cursor: the newest until the user moves it."""
        if not self.versions:
            return None
        row = self.query_one("#versions-table", DataTable).cursor_row
        return self.versions[min(max(row, 0), len(self.versions) - 1)]

    def action_open_version(self, tab: str = "schema") -> None:
        version = self.current_version()
        if version is None or self.workspace is None:
            self.notify("no dataset version selected", severity="warning")
            return
        self.post_message(OpenDataset(version, tab))

    def action_validation(self) -> None:
        self.action_open_version(tab="validation")

    def action_browse(self) -> None:
        from screens.browse_launcher import browse_version

        version = self.current_version()
        if version is None or self.workspace is None:
            self.notify("no dataset version selected", severity="warning")
            return
        browse_version(self, self.workspace, version)

    def action_refresh(self) -> None:
        if self.workspace is not None:
            self.load_datasets()

    def action_add(self) -> None:
        if self.workspace is None:
            self.notify("the workspace is not open yet", severity="warning")
            return
        from screens.dialogs import AddDatasetScreen

        self.app.push_screen(AddDatasetScreen(), self.add_requested)

    def add_requested(self, request: AddDatasetRequest | None) -> None:
        if request is not None:
            self.register(request)

    @work(
        thread=True,
        exclusive=True,
        group="register",
        exit_on_error=False,
        description="adding dataset",
    )
    def register(self, request: AddDatasetRequest) -> None:
        from pipelines.datasets.versions import register_dataset

        assert self.workspace is not None
        self.post_message(RegisterProgressed(f"adding {request.path}", 0.0))
        try:
            result = register_dataset(
                self.workspace,
                request.path,
                name=request.name,
                target=request.target,
                reference=request.reference,
                progress=lambda stage, fraction: self.post_message(
                    RegisterProgressed(stage, fraction)
                ),
            )
        except Exception as exc:
            self.post_message(RegisterEnded(str(exc), True, None))
            raise
        self.post_message(RegisterEnded(result.message, False, result.version.dataset_name))

    @on(RegisterProgressed)
    def register_progressed(self, event: RegisterProgressed) -> None:
        self.show_progress(event.stage, event.fraction)

    @on(RegisterEnded)
    def register_ended(self, event: RegisterEnded) -> None:
        """Added (or removed): say so, and list the datasets again."""
        self.hide_progress(event.message, event.error)
        if not event.error:
            self.load_datasets(event.dataset)

    def action_remove(self) -> None:
        version = self.current_version()
        if version is None:
            return
        versions_focused = self.query_one("#versions-table").has_focus
        ref = version.ref if versions_focused else version.dataset_name
        what = f"version {ref}" if versions_focused else f"dataset {ref} and all its versions"
        what = inert(what)
        from screens.dialogs import ConfirmScreen

        dialog = ConfirmScreen(f"Remove {what}?")
        told: list[str] = []  # the sweeps the question has named, once it has

        def confirmed(answer: bool | None) -> None:
            if answer:  # forced only over sweeps the person was told about; else refused
                self.remove(ref, force=bool(told))

        self.app.push_screen(dialog, confirmed)
        self.name_users(dialog, ref, what, told)

    @work(thread=True, exit_on_error=False, description="checking what uses it")
    def name_users(self, dialog: ConfirmScreen, ref: str, what: str, told: list[str]) -> None:
        """Add to the open question the sweeps a removal would orphan."""
        from pipelines.datasets.versions import describe_users, removal_users

        assert self.workspace is not None
        users = removal_users(self.workspace, ref)
        if not users:
            return
        used = describe_users(users)
        question = f"Remove {what}? It is used by {used}; they would be orphaned."
        self.post_message(RemovalUsersFound(dialog, question, used, told))

    @on(RemovalUsersFound)
    def removal_users_found(self, event: RemovalUsersFound) -> None:
        if event.dialog.is_attached:  # the question may be answered already
            event.dialog.query_one("#confirm-question", Static).update(event.question)
            event.told.append(event.used)

    @work(
        thread=True,
        exclusive=True,
        group="register",
        exit_on_error=False,
        description="removing dataset",
    )
    def remove(self, ref: str, force: bool = False) -> None:
        from pipelines.datasets.versions import remove

        assert self.workspace is not None
        message = remove(self.workspace, ref, force=force).message
        self.post_message(RegisterEnded(message, False, None))

    # --- status ----------------------------------------------------------------------

    def set_status(self, message: str, error: bool = False) -> None:
        status = self.query_one("#datasets-status", Static)
        status.update(message)
        status.set_class(error, "error")

    def show_progress(self, stage: str, fraction: float | None) -> None:
        bar = self.progress_bar()
        bar.display = True
        bar.update(total=None if fraction is None else 1.0, progress=fraction or 0.0)
        self.set_status(stage)

    def hide_progress(self, message: str, error: bool) -> None:
        for bar in self.query("#datasets-progress"):  # none until a registration showed one
            bar.display = False
        self.set_status(message, error=error)

    def progress_bar(self) -> ProgressBar:
        """The bar above the status line, mounted the first time a registration shows it."""
        from textual.widgets import ProgressBar

        found = self.query("#datasets-progress")
        if found:
            return found.first(ProgressBar)
        bar = ProgressBar(id="datasets-progress", show_eta=False)
        self.mount(bar, before=self.query_one("#datasets-status"))
        return bar
