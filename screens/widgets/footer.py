"""The footer every screen shows, with `? Help` kept on screen and no key cut in half.

Textual's Footer lists the focused widget's and the screen's keys before the App's, and a
narrow terminal (80 columns) cuts the row at its right edge: the help key, the one that lists
every other key, was the first to go. Here it sits with the palette key in a group docked
right, and the screen's own keys that do not fit whole before it are left out (help lists
them all) instead of showing a key without its label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import HorizontalGroup
from textual.geometry import Size
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual import events
    from textual.app import ComposeResult
    from textual.screen import Screen
    from textual.widget import Widget

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

    _widths: list[tuple[Widget, int]] = []  # every child and its natural width
    _recompose_pending = False
    _keys_shown: tuple[object, ...] | None = None  # what the last recompose showed

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

    def bindings_changed(self, screen: Screen) -> None:
        """Recompose once for any number of binding changes before the next refresh.

        Footer schedules a recompose per change, and a screen being mounted changes its
        bindings a dozen times (each focus move, each tab): each recompose restyles every
        key, 30–400 ms apiece on a loaded machine, before the screen's first useful frame.
        The one recompose reads the bindings as they are by then, so it shows them all."""
        self._bindings_ready = True
        if not screen.app.app_focus or self._recompose_pending:
            return
        if self.is_attached and screen is self.screen:
            self._recompose_pending = True
            self.call_after_refresh(self.recompose)

    async def recompose(self) -> None:
        """Measure the new keys, then keep those that fit; nothing to do when the keys are
        the ones already shown (most binding changes while a screen mounts are focus moves
        between widgets whose own keys are hidden)."""
        self._recompose_pending = False  # a change from here on recomposes again
        if not self.is_attached or self._pruning:
            return  # its screen closed before this ran (Widget.recompose returns too)
        shown = self._shown_keys()
        if shown == self._keys_shown and self.children:
            return
        self._keys_shown = shown
        await super().recompose()
        self._widths = [(child, natural_width(child)) for child in self.children]
        self._fit()

    def _shown_keys(self) -> tuple[object, ...]:
        """Everything Footer.compose draws from: the shown bindings and the footer's state."""
        if not self._bindings_ready:
            return ()
        keys = tuple(
            (b.key, b.key_display, b.description, b.action, b.group, enabled, tooltip, b.show)
            for (_, b, enabled, tooltip) in self.screen.active_bindings.values()
            if b.show or b.key == self.app.COMMAND_PALETTE_BINDING
        )
        return (self.compact, self.show_command_palette, *keys)

    def on_resize(self, event: events.Resize) -> None:
        self._fit()

    def _fit(self) -> None:
        """Show the left keys, in order, while each fits whole beside the right group."""
        right = sum(width for child, width in self._widths if child.id == "footer-right")
        used, fits = 0, True
        for child, width in self._widths:
            if child.id != "footer-right":
                fits = fits and used + width <= self.size.width - right
                child.display = fits
                used += width if fits else 0


def natural_width(widget: Widget) -> int:
    """The width a key (or group of keys) takes with room to spare, from its content rather
    than its layout: a footer under a modal is not laid out again when it recomposes."""
    unbounded = Size(10_000, 1)
    content = widget.get_content_width(unbounded, unbounded)
    return content + widget.styles.gutter.width + widget.styles.margin.width
