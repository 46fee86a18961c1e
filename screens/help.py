"""The help screen: the keys of the screen it was opened from."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from screens.focus import RestoresFocus


class HelpScreen(RestoresFocus, ModalScreen[None]):
    """Lists (key, what it does) pairs; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.help_title = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(f"[b]{escape(self.help_title)}[/b] · keys", id="help-title")
            yield Static("ctrl+p opens the command palette · escape closes this", id="help-hint")
            table: DataTable[str] = DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            table.add_columns("key", "action")
            for key, description in self.keys:
                table.add_row(key, description)
            yield table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
