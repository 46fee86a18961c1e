"""The Textual App: only a shell. Global keys, the command palette, one error router,
and opening the workspace in a worker so the first frame never waits for the database
(it shows the datasets from a glance of milliseconds: storage/first_look.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Provider
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from screens.datasets import DatasetsScreen
from screens.formatting import display_path
from screens.help import HelpScreen
from screens.messages import (
    BrowseRows,
    ChangeSweepState,
    CompareRuns,
    InBackground,
    OpenDataset,
    OpenDriftPanel,
    OpenModels,
    OpenRun,
    OpenRuns,
    OpenSweep,
    WorkerFailed,
)
from workbench.live import LiveLayer, sweep_sources

if TYPE_CHECKING:
    from storage.handle import Workspace

ASSETS = Path(__file__).resolve().parent.parent / "assets"
THEMES = ("textual-dark", "textual-light", "nord", "gruvbox", "tokyo-night")
# (palette name, App action, what it does): the actions that work from every screen.
GLOBAL_COMMANDS = (
    ("Go to datasets", "show_datasets", "the datasets and their versions (key d)"),
    ("Go to sweeps", "show_sweeps", "every sweep, live (key s)"),
    ("Go to runs", "show_runs", "every run, filtered and sorted by SQL (key r)"),
    ("Go to models", "show_models", "registered models, versions and aliases (key m)"),
    ("Go to deployments", "show_deployments", "deployments, live, with their traffic (key D)"),
    ("Go to images", "show_images", "serving images and their builds (key I)"),
    ("New sweep", "new_sweep", "open the launch form (n on the sweeps screen)"),
    ("Add dataset", "add_dataset", "register a file as a dataset version (a on datasets)"),
    ("Next theme", "next_theme", "switch to the next colour theme (ctrl+t)"),
    ("Help: keys of this screen", "help", "every key of the current screen (?)"),
    ("Save screen as SVG", "save_screen", "into the workspace's reports/ (ctrl+s)"),
)


# What the App's own thread workers post to the App (post_message is thread-safe).


@dataclass
class WorkspaceOpened(Message, bubble=False):
    workspace: Workspace


@dataclass
class WorkspaceFailed(Message, bubble=False):
    reason: str


@dataclass
class SweepStateChanged(Message, bubble=False):
    message: str  # what the change did, to tell
    sweep_id: int


class GlobalCommands(Provider):
    """The App's own actions in the command palette, whatever screen it is opened on."""

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        for name, action, text in GLOBAL_COMMANDS:
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for name, action, text in GLOBAL_COMMANDS:
            score = matcher.match(name)
            if score > 0:
                run = partial(self.app.run_action, action)
                yield Hit(score, matcher.highlight(name), run, help=text)


class WorkbenchApp(App[None]):
    CSS_PATH = ASSETS / "app.tcss"
    TITLE = "Workbench"
    COMMANDS = App.COMMANDS | {GlobalCommands}
    BINDINGS = [
        Binding("d", "show_datasets", "Datasets", id="app.datasets"),
        Binding("s", "show_sweeps", "Sweeps", id="app.sweeps"),
        Binding("r", "show_runs", "Runs", id="app.runs"),
        Binding("m", "show_models", "Models", id="app.models", show=False),
        Binding("D", "show_deployments", "Deployments", id="app.deployments", show=False),
        Binding("I", "show_images", "Images", id="app.images", show=False),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "next_theme", "Theme", id="app.theme"),
        Binding("ctrl+s", "save_screen", "Save SVG", id="app.screenshot", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
        # Priority: focus moves when tab is read, not when the widget that had focus gets to
        # it, so keys typed right after a tab land in the next field (fast typists, pastes).
        Binding("tab", "focus_next", "Focus Next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Focus Previous", show=False, priority=True),
    ]

    def __init__(
        self,
        workspace_root: Path,
        *,
        database_url: str | None = None,
        drift_panel: str | None = None,
    ) -> None:
        super().__init__()
        self.workspace_root = workspace_root
        self.database_url = database_url
        self.first_drift_panel = drift_panel  # the demo opens on its deployment's panel
        self.workspace: Workspace | None = None
        self.datasets_screen = DatasetsScreen()
        self.live = LiveLayer(self)  # polls what is live for the screens showing it

    def get_default_screen(self) -> Screen[None]:
        """The datasets screen is the bottom of the stack itself: pushed over Textual's blank
        default screen, that one would be laid out and drawn first, for nothing."""
        from storage.first_look import glance_workspace

        # The first frame lists the datasets: a read-only stdlib sqlite3 query of a few
        # milliseconds (None when it cannot be sure), while SQLAlchemy, the schema check and
        # the full listing (most of a second) come in the worker after that frame.
        self.datasets_screen.glances = glance_workspace(self.workspace_root, self.database_url)
        return self.datasets_screen

    def on_mount(self) -> None:
        # After the first frame: the worker's imports would compete with it for the GIL.
        self.call_after_refresh(self.open_workspace)
        self.call_after_refresh(self.collect_from_here)

    @staticmethod
    def collect_from_here() -> None:
        """Garbage collection back on after the first frame (`workbench.cli.open_tui` turns it
        off), with what start-up made frozen: modules, classes and styles live as long as the
        App, and the collector need not walk them again. Cheap (no collection runs here);
        the price is that cycles dropped during start-up (about 3,000 objects) are never
        freed. An App run otherwise (tests, `run_test`) finds collection on and leaves it."""
        import gc

        if not gc.isenabled():
            gc.freeze()
            gc.enable()

    @work(
        thread=True,
        exclusive=True,
        group="workspace",
        exit_on_error=False,
        description="opening workspace",
    )
    def open_workspace(self) -> None:
        from storage.handle import open_workspace

        try:
            workspace = open_workspace(self.workspace_root, database_url=self.database_url)
        except Exception as exc:
            self.post_message(WorkspaceFailed(str(exc)))
            raise
        if not self.post_message(WorkspaceOpened(workspace)):
            workspace.close()  # the App closed meanwhile: nobody else will

    @on(WorkspaceFailed)
    def workspace_failed(self, event: WorkspaceFailed) -> None:
        self.datasets_screen.workspace_failed(event.reason)

    @on(WorkspaceOpened)
    def workspace_ready(self, event: WorkspaceOpened) -> None:
        self.workspace_opened(event.workspace)

    def workspace_opened(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.sub_title = display_path(workspace.root)
        from workbench.live_serving import serving_sources

        self.live.start(sweep_sources(workspace) + serving_sources(workspace))
        self.datasets_screen.workspace_opened(workspace)
        if self.first_drift_panel is not None:
            self.post_message(OpenDriftPanel(self.first_drift_panel))

    # --- the one error router -----------------------------------------------------------

    @on(Worker.StateChanged)
    def app_worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            what = event.worker.description or event.worker.name or "background work"
            self.post_message(WorkerFailed(what, event.worker.error))

    @on(WorkerFailed)
    def route_worker_failure(self, event: WorkerFailed) -> None:
        """Every failed worker, anywhere, becomes one readable notification."""
        error = event.error
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self.notify(text, title=f"{event.what} failed", severity="error", timeout=10)

    # --- navigation: screens post what they want shown, the App opens it ---------------
    # (so no screen imports another; each screen module loads when first opened)

    def _push(self, make: Callable[[Workspace], Screen[None]]) -> None:
        if self.workspace is None:
            self.notify("the workspace is not open yet", severity="warning")
            return
        self.push_screen(make(self.workspace))

    @on(OpenSweep)
    def open_sweep(self, event: OpenSweep) -> None:
        from screens.sweep_detail import SweepDetailScreen

        self._push(lambda ws: SweepDetailScreen(ws, event.sweep_id))

    @on(OpenRuns)
    def open_runs(self, event: OpenRuns) -> None:
        from screens.runs import RunsScreen

        self._push(lambda ws: RunsScreen(ws, sweep_id=event.sweep_id))

    @on(OpenRun)
    def open_run(self, event: OpenRun) -> None:
        from screens.run_detail import RunDetailScreen

        self._push(lambda ws: RunDetailScreen(ws, event.run_id))

    @on(CompareRuns)
    def compare_runs(self, event: CompareRuns) -> None:
        from screens.compare import CompareScreen

        self._push(lambda ws: CompareScreen(ws, event.run_ids))

    @on(OpenDataset)
    def open_dataset(self, event: OpenDataset) -> None:
        from screens.dataset_detail import DatasetDetailScreen

        self._push(lambda ws: DatasetDetailScreen(ws, event.version, tab=event.tab))

    @on(OpenModels)
    def open_models(self, event: OpenModels) -> None:
        from screens.models import ModelsScreen

        self._push(lambda ws: ModelsScreen(ws, event.name))

    @on(OpenDriftPanel)
    def open_drift_panel(self, event: OpenDriftPanel) -> None:
        from screens.drift_panel import DriftPanelScreen

        self._push(lambda ws: DriftPanelScreen(ws, event.deployment))

    @on(BrowseRows)
    def browse_rows(self, event: BrowseRows) -> None:
        from screens.row_browser import RowBrowserScreen

        self.push_screen(RowBrowserScreen(event.path, event.title))

    # --- work that outlives the screen that asked for it --------------------------------

    @on(ChangeSweepState)
    @work(thread=True, group="sweep-state", exit_on_error=False, description="changing sweep state")
    def change_sweep_state(self, event: ChangeSweepState) -> None:
        from screens.sweep_state import change_sweep_state

        assert self.workspace is not None
        message = change_sweep_state(self.workspace, event.sweep_id, event.verb)
        self.post_message(SweepStateChanged(message, event.sweep_id))

    @on(SweepStateChanged)
    def sweep_state_changed(self, event: SweepStateChanged) -> None:
        self.notify(event.message, title=f"sweep {event.sweep_id}")
        self.live.poll_now("sweeps")

    @on(InBackground)
    def in_background(self, event: InBackground) -> None:
        def run() -> None:
            said = event.work()
            self.notify(said, timeout=8)  # thread-safe: it posts a Notify to the App

        self.run_worker(run, thread=True, exit_on_error=False, description=event.what)

    # --- global actions ------------------------------------------------------------------

    def action_show_datasets(self) -> None:
        while len(self.screen_stack) > 1 and self.screen is not self.datasets_screen:
            self.pop_screen()

    async def action_show_sweeps(self) -> None:
        from screens.sweeps import SweepsScreen

        await self._show_top_level(SweepsScreen)

    async def action_show_runs(self) -> None:
        from screens.runs import RunsScreen

        await self._show_top_level(RunsScreen)

    async def action_show_models(self) -> None:
        from screens.models import ModelsScreen

        await self._show_top_level(ModelsScreen)

    async def action_show_deployments(self) -> None:
        from screens.deployments import DeploymentsScreen

        await self._show_top_level(DeploymentsScreen)

    async def action_show_images(self) -> None:
        from screens.images import ImagesScreen

        await self._show_top_level(ImagesScreen)

    async def _show_top_level(self, screen_type: type[Screen[None]]) -> None:
        """Top-level screens sit directly on the datasets screen: back to it, then push."""
        if self.workspace is None:
            self.notify("the workspace is not open yet", severity="warning")
            return
        if isinstance(self.screen, screen_type):
            return
        self.action_show_datasets()
        await self.push_screen(screen_type(self.workspace))  # type: ignore[call-arg]

    async def action_new_sweep(self) -> None:
        """The launch form over the sweeps screen, from anywhere (its result opens the sweep)."""
        from screens.sweeps import SweepsScreen

        await self._show_top_level(SweepsScreen)
        if isinstance(self.screen, SweepsScreen):
            self.screen.action_new_sweep()

    async def action_add_dataset(self) -> None:
        self.action_show_datasets()
        self.datasets_screen.action_add()

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        # Our own keys (they carry ids) first, the screen's before the global ones; then
        # generic widget keys (cursor movement, focus).
        rank = {screen: 0, self: 1}
        actives = sorted(
            screen.active_bindings.values(),
            key=lambda a: (a.binding.id is None, rank.get(a.node, 2)),
        )
        for active in actives:
            binding = active.binding
            if not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            keys.append((self.get_key_display(binding), binding.tooltip or binding.description))
        self.push_screen(HelpScreen(screen.title or self.title, keys))

    def action_next_theme(self) -> None:
        current = THEMES.index(self.theme) if self.theme in THEMES else -1
        self.theme = THEMES[(current + 1) % len(THEMES)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_save_screen(self) -> None:
        folder = self.workspace.paths.reports if self.workspace else Path.cwd()
        path = self.save_screenshot(path=str(folder))
        self.notify(f"screen saved to {path}", title="screenshot")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every key of the current screen is also a palette command (the App's own keys
        are GlobalCommands); a widget's hidden keys (a table's cursor moves) are not."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding, node = active.binding, active.node
            if not binding.description or binding.description in seen or not active.enabled:
                continue
            if node is self or (node is not screen and not binding.show):
                continue
            seen.add(binding.description)
            yield SystemCommand(
                binding.tooltip or binding.description,  # the long name, where there is one
                f"key: {self.get_key_display(binding)}",
                lambda action=binding.action, node=node: self.run_action(action, node),
            )

    def on_unmount(self) -> None:
        self.live.stop()
        if self.workspace is not None:
            self.workspace.close()
