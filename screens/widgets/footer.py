"""The footer every screen shows, with `? Help` kept on screen.

Textual's Footer lists the focused widget's and the screen's keys before the App's, and a
narrow terminal (80 columns) cuts the row at its right edge: the help key, the one that lists
every other key, was the first to go. Here it sits with the palette key in a group docked
right, so a narrow terminal shortens the screen's own keys instead."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_ACTION = "help"  # the App's `?` binding (workbench.app)


class KeysFooter(Footer):
    """A Footer whose help and palette keys never scroll off the right edge."""

    DEFAULT_CSS = """
    KeysFooter #footer-right {
        dock: right;
        width: auto;
        height: 1;
        FooterKey.-command-palette {
            dock: none;
        }
    }
    """

    def compose(self) -> ComposeResult:
        right: list[FooterKey] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey) and (
                widget.action == HELP_ACTION or widget.has_class("-command-palette")
            ):
                right.append(widget)
            else:
                yield widget
        if right:
            with HorizontalGroup(id="footer-right"):
                yield from right
