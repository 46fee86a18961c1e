"""Register the run under the cursor as a model version, from any screen that shows runs
(Runs, Sweep detail, Compare: key M). A small form asks for the name and an optional
alias; the App registers it (pipelines/registry), so a refusal (a run that keeps no
model, a name already used by this run) comes back as one readable notification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from screens.focus import RestoresFocus
from screens.messages import InBackground

if TYPE_CHECKING:
    from storage.handle import Workspace


@dataclass(frozen=True)
class Registration:
    name: str
    alias: str | None


class RegisterModelScreen(RestoresFocus, ModalScreen[Registration | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="register.cancel")]

    def __init__(self, run_id: int, suggested: str = "") -> None:
        super().__init__()
        self.run_id, self.suggested = run_id, suggested

    def compose(self) -> ComposeResult:
        with Vertical(id="register-box", classes="dialog"):
            yield Static(f"[b]Register run {self.run_id} as a model version[/b]")
            yield Label("Model name")
            yield Input(self.suggested, placeholder="e.g. churn", id="register-name", compact=True)
            yield Label("Alias (optional, e.g. staging)")
            yield Input(placeholder="none", id="register-alias", compact=True)
            yield Static("", id="register-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Register", variant="primary", id="register-ok", compact=True)
                yield Button("Cancel", id="register-cancel", compact=True)

    @on(Input.Submitted)
    @on(Button.Pressed, "#register-ok")
    def submit(self) -> None:
        name = self.query_one("#register-name", Input).value.strip()
        if not name:
            self.query_one("#register-error", Static).update("give the model a name")
            return
        alias = self.query_one("#register-alias", Input).value.strip() or None
        self.dismiss(Registration(name, alias))

    @on(Button.Pressed, "#register-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def ask_to_register(
    screen: Screen[None], ws: Workspace, run_id: int | None, suggested: str
) -> None:
    """The form for `run_id`, then the registration as the App's work."""
    if run_id is None:
        screen.notify("no run under the cursor", severity="warning")
        return

    def answered(registration: Registration | None) -> None:
        if registration is None:
            return

        def work() -> str:
            from pipelines.registry.versions import register_model

            record = register_model(ws, run_id, registration.name, alias=registration.alias)
            also = f" as @{registration.alias}" if registration.alias else ""
            return f"registered run {run_id} as {record.ref}{also} (m: Models)"

        screen.post_message(InBackground(f"registering run {run_id}", work))

    screen.app.push_screen(RegisterModelScreen(run_id, suggested), answered)
