"""Modal forms: add a dataset, confirm a removal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.focus import RestoresFocus


@dataclass(frozen=True)
class AddDatasetRequest:
    path: Path
    name: str | None
    target: str | None
    reference: bool


class AddDatasetScreen(RestoresFocus, ModalScreen[AddDatasetRequest | None]):
    """Asks for a file, a name and a target; checks the path before closing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="add.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="add-box", classes="dialog"):
            yield Static("[b]Add a dataset version[/b]")
            yield Label("File (CSV, TSV, Parquet, JSON Lines, .csv.gz)")
            yield Input(placeholder="path/to/data.csv", id="add-path", compact=True)
            yield Label("Name (default: the file name)")
            yield Input(placeholder="e.g. churn", id="add-name", compact=True)
            yield Label("Target column (optional)")
            yield Input(placeholder="e.g. churned", id="add-target", compact=True)
            yield Checkbox("Keep by reference (no frozen copy)", id="add-reference", compact=True)
            yield Static("", id="add-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):  # one-line fields: the form fits 80×24
                yield Button("Add", variant="primary", id="add-ok", compact=True)
                yield Button("Cancel", id="add-cancel", compact=True)

    @on(Input.Submitted)
    @on(Button.Pressed, "#add-ok")
    def submit(self) -> None:
        raw = self.query_one("#add-path", Input).value.strip()
        error = self.query_one("#add-error", Static)
        if not raw:
            error.update("give the path of a file")
            return
        path = Path(raw).expanduser()
        if not path.is_file():
            error.update(f"{raw}: {'is a directory' if path.is_dir() else 'no such file'}")
            return
        self.dismiss(
            AddDatasetRequest(
                path=path,
                name=self.query_one("#add-name", Input).value.strip() or None,
                target=self.query_one("#add-target", Input).value.strip() or None,
                reference=self.query_one("#add-reference", Checkbox).value,
            )
        )

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(RestoresFocus, ModalScreen[bool]):
    """A yes/no question; y confirms, n or escape declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-box"):
            yield Static(self.question, id="confirm-question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", variant="error", id="confirm-yes", compact=True)
                yield Button("No (n)", id="confirm-no", compact=True)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ChoiceScreen(RestoresFocus, ModalScreen[str | None]):
    """Pick one of a few options by its key letter (or arrows and enter); escape cancels."""

    BINDINGS = [Binding("escape", "choose(None)", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, options: list[tuple[str, str, str]]) -> None:
        """``options``: (key letter, value returned, description)."""
        super().__init__()
        self.heading = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice-box"):
            yield Static(f"[b]{self.heading}[/b]")
            yield OptionList(
                *(Option(f"{key}  {text}", id=value) for key, value, text in self.options),
                id="choice-options",
            )
            yield Static("press a letter, or enter on a line · escape cancels", classes="hint")

    def on_key(self, event: events.Key) -> None:
        for key, value, _ in self.options:
            if event.key == key:
                event.stop()
                self.dismiss(value)

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_choose(self, value: str | None) -> None:
        self.dismiss(value)


class TextScreen(RestoresFocus, ModalScreen[None]):
    """A long text to read (a server's log, a build's log): scrolls; escape closes."""

    BINDINGS = [Binding("escape", "close", "Close", id="text.close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.heading, self.text = title, text

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        with Vertical(classes="dialog", id="text-box"):
            yield Static(self.heading, classes="pane-title", markup=False)
            with VerticalScroll(id="text-scroll"):
                yield Static(self.text or "(empty)", id="text-body", markup=False)
            yield Static("escape closes", classes="hint")

    def on_mount(self) -> None:
        scroll = self.query_one("#text-scroll")
        scroll.focus()
        scroll.scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
