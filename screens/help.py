"""The help screen: the keys of the screen it was opened from."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from screens.focus import RestoresFocus

CHROME_ROWS = 6  # the box's border (2), title (1) and hint with its padding (2), and a margin


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

    def on_resize(self, event: events.Resize) -> None:
        """The key list scrolls within the terminal (24 rows or fewer) instead of being cut
        off below it: the rest of the box takes CHROME_ROWS rows."""
        table = self.query_one("#help-keys", DataTable)
        table.styles.max_height = max(3, event.size.height - CHROME_ROWS)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
