"""The Sweeps screen: every sweep with live progress, and the keys that start, stop, resume
and open them. Sweeps run in background processes; this screen only reads their state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from screens.focus import RestoresFocus
from screens.formatting import display_path, duration_text, number, sweep_status_text, user_text
from screens.live_messages import SweepProgressed, SweepsListed, WatchesLive
from screens.messages import ChangeSweepState, OpenRuns, OpenSweep
from screens.routing import ForwardsWorkerFailures
from screens.sweep_state import ACTIVE, elapsed_s, progress_text
from screens.widgets.footer import KeysFooter
from screens.widgets.tables import TableRow, fill_table, update_row

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import SweepRecord

POLL_S = 1.0  # as the live layer polls a sweep that is active
# Most telling first, so an 80-column terminal still shows status, progress and best.
COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("status", "status"),
    ("progress", "progress"),
    ("best", "best"),
    ("metric", "metric"),
    ("done/pruned/failed", "counts"),
    ("elapsed", "elapsed"),
    ("remaining", "remaining"),
    ("dataset", "dataset"),
    ("model", "model"),
)
OTHER_COLUMNS_BEFORE_METRIC = 56  # id, status, progress and best (with padding) at 80 columns


def widest_cells(screen_width: int) -> dict[str, int]:
    """How wide a name may be before it is cut: 24 at 80 columns (so status, progress and
    best still show), more on a wider terminal, never more than 48."""
    return {"name": min(48, max(24, screen_width - OTHER_COLUMNS_BEFORE_METRIC)), "dataset": 24}


def sweep_cells(sweep: SweepRecord, remaining: float | None) -> dict[str, object]:
    """One table row, by column key."""
    return {
        "id": str(sweep.id),
        "name": user_text(sweep.name),
        "dataset": user_text(sweep.dataset_ref),
        "model": sweep.model,
        "metric": f"{sweep.metric} {'↑' if sweep.direction == 'maximize' else '↓'}",
        "status": sweep_status_text(sweep.status),
        "progress": progress_text(sweep),
        "counts": "/".join(str(sweep.counts.get(s, 0)) for s in ("complete", "pruned", "failed")),
        "best": Text(number(sweep.best_value), justify="right"),
        "elapsed": duration_text(elapsed_s(sweep)),
        "remaining": duration_text(remaining),
    }


class SweepsScreen(RestoresFocus, WatchesLive, ForwardsWorkerFailures, Screen[None]):
    """All sweeps, kept current by the App's live layer while this screen shows."""

    BINDINGS = [
        Binding("enter", "open_sweep", "Details", id="sweeps.open", show=False),
        Binding("n", "new_sweep", "New sweep", id="sweeps.new"),
        Binding("x", "stop", "Stop", id="sweeps.stop"),
        Binding("u", "resume", "Resume", id="sweeps.resume"),
        Binding("o", "open_runs", "Runs of sweep", id="sweeps.runs"),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="sweeps.refresh"),
        Binding("escape", "back", "Back", id="sweeps.back"),
    ]

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.workspace = ws
        self.sweeps: list[SweepRecord] = []
        self.remaining: dict[int, float | None] = {}
        self._pending: dict[int, tuple[SweepRecord, float | None]] = {}
        self._open_after_load: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[object] = DataTable(id="sweeps-table", cursor_type="row")
        fill_table(table, COLUMNS, [])
        yield table
        yield Static("loading sweeps …", id="sweeps-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "Sweeps"
        self.sub_title = display_path(self.workspace.root)
        self.query_one("#sweeps-table").focus()

    # --- data in: the App's live layer sends every sweep, then what changes -----------

    @on(SweepProgressed)
    def sweep_progressed(self, event: SweepProgressed) -> None:
        """Gather this poll's changed sweeps; SweepsListed ends the batch."""
        self._pending[event.sweep.id] = (event.sweep, event.remaining_s)

    @on(SweepsListed)
    def sweeps_listed(self, event: SweepsListed) -> None:
        known = {s.id: (s, self.remaining.get(s.id)) for s in self.sweeps}
        known.update(self._pending)
        self._pending = {}
        listed = [known[i] for i in event.sweep_ids if i in known]
        self.show_sweeps([s for s, _ in listed], {s.id: left for s, left in listed})

    def show_sweeps(self, sweeps: list[SweepRecord], remaining: dict[int, float | None]) -> None:
        """Update cells in place when the same sweeps are listed, so the cursor stays put."""
        table = self.query_one("#sweeps-table", DataTable)
        keep = self.current_sweep_id()
        ids = [s.id for s in sweeps]
        same = ids == [s.id for s in self.sweeps] and table.row_count == len(sweeps)
        self.sweeps, self.remaining = sweeps, remaining
        cells = {s.id: sweep_cells(s, remaining.get(s.id)) for s in sweeps}
        widest = widest_cells(self.app.size.width)
        if same:  # in place, each changed column measured again (finished, 30/30, 0.9421)
            for sweep in sweeps:
                update_row(table, str(sweep.id), cells[sweep.id], widest=widest)
        else:
            rows = [TableRow(str(s.id), [cells[s.id][key] for _, key in COLUMNS]) for s in sweeps]
            fill_table(table, COLUMNS, rows, widest=widest)
        wanted = self._open_after_load or keep
        if not same and wanted in ids:
            table.move_cursor(row=ids.index(wanted))
        self.show_status()
        if self._open_after_load in ids:
            opened, self._open_after_load = self._open_after_load, None
            self.open_detail(opened)

    def show_status(self) -> None:
        status = self.query_one("#sweeps-status", Static)
        if not self.sweeps:
            status.update("no sweeps yet — press n to start one (or `workbench sweep start FILE`)")
            return
        running = sum(s.status in ACTIVE for s in self.sweeps)
        live = f" · {running} running, refreshing every {POLL_S:g} s" if running else ""
        status.update(f"{len(self.sweeps)} sweep{'s' * (len(self.sweeps) != 1)}{live}")

    # --- selection -------------------------------------------------------------------

    def current_sweep(self) -> SweepRecord | None:
        table = self.query_one("#sweeps-table", DataTable)
        if not self.sweeps or not 0 <= table.cursor_row < len(self.sweeps):
            return None
        return self.sweeps[table.cursor_row]

    def current_sweep_id(self) -> int | None:
        sweep = self.current_sweep()
        return sweep.id if sweep else None

    def selected_or_warn(self) -> SweepRecord | None:
        sweep = self.current_sweep()
        if sweep is None:
            self.notify("no sweep selected", severity="warning")
        return sweep

    # --- actions ---------------------------------------------------------------------

    @on(DataTable.RowSelected, "#sweeps-table")
    def action_open_sweep(self) -> None:
        sweep = self.selected_or_warn()
        if sweep is not None:
            self.open_detail(sweep.id)

    def open_detail(self, sweep_id: int) -> None:
        self.post_message(OpenSweep(sweep_id))

    def action_open_runs(self) -> None:
        sweep = self.selected_or_warn()
        if sweep is not None:
            self.post_message(OpenRuns(sweep.id))

    def action_new_sweep(self) -> None:
        from screens.sweep_form import SweepFormScreen

        self.app.push_screen(SweepFormScreen(self.workspace), self.sweep_started)

    def sweep_started(self, sweep_id: int | None) -> None:
        """The form created and started a sweep: list it, then open its detail."""
        if sweep_id is not None:
            self._open_after_load = sweep_id
            self.refresh_live()

    def action_stop(self) -> None:
        sweep = self.selected_or_warn()
        if sweep is not None:
            self.change_state(sweep.id, "stop")

    def action_resume(self) -> None:
        sweep = self.selected_or_warn()
        if sweep is None:
            return
        if sweep.status == "finished":
            self.notify(f"sweep {sweep.id} is finished: every trial is done", severity="warning")
            return
        self.change_state(sweep.id, "resume")

    def change_state(self, sweep_id: int, verb: str) -> None:
        """The App stops or resumes it (a resume launches workers: not this screen's work)."""
        self.post_message(ChangeSweepState(sweep_id, verb))

    def action_refresh(self) -> None:
        self.refresh_live()

    def action_back(self) -> None:
        self.app.pop_screen()
