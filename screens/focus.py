"""Focus that survives modals and tab switches.

Textual gives a resumed screen focus again only when nothing is focused, and then picks the
first focusable widget in the DOM, hidden ones included: after a dialog closed over the
compare screen's Insight tab, its hidden filter input took focus and swallowed the next keys.
Every screen mixes in RestoresFocus instead: the widget focused before another screen (a
modal, the palette, a pushed screen) came up gets focus back, and when it is gone or hidden
now, the first widget a person can see does; a hidden widget never does."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.widget import Widget


def focus_shown(screen: Screen[object], wanted: Widget | None = None) -> None:
    """Focus ``wanted`` if it is on screen and focusable; else keep a focus that is; else the
    first focusable widget on screen (Screen.focus_chain holds only displayed ones)."""
    chain = screen.focus_chain
    if wanted is not None and wanted in chain:
        screen.set_focus(wanted)
    elif screen.focused is None or screen.focused not in chain:
        screen.set_focus(chain[0] if chain else None)


class RestoresFocus:
    """Mix into every Screen (naming-convention handlers, so it works from a plain mixin)."""

    _focus_before_cover: Widget | None = None

    def on_screen_suspend(self) -> None:
        self._focus_before_cover = self.focused  # type: ignore[attr-defined]

    def on_screen_resume(self) -> None:
        wanted, self._focus_before_cover = self._focus_before_cover, None
        focus_shown(self, wanted)  # type: ignore[arg-type]
