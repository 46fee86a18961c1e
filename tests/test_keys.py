"""Keys across screens: a screen's binding must not shadow one of the App's global keys
(d, s, r, ?, q …) unless it is listed here as deliberate, and every screen keeps focus
across modals (screens.focus.RestoresFocus)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from textual.binding import Binding
from textual.screen import Screen

import screens
from screens.focus import RestoresFocus
from workbench.app import WorkbenchApp

# (screen, key): shadowing the App's key on purpose.
DELIBERATE = {
    ("HelpScreen", "q"),  # q, ? and f1 close help as they would open it
    ("HelpScreen", "question_mark"),
    ("HelpScreen", "f1"),
    ("SweepFormScreen", "ctrl+s"),  # save the form as TOML, not the screen as SVG
}


def keys(bindings: list[object]) -> set[str]:
    found: set[str] = set()
    for binding in bindings:
        key = binding.key if isinstance(binding, Binding) else binding[0]  # type: ignore[index]
        found.update(part.strip() for part in key.split(","))
    return found


def our_screens() -> list[type[Screen[object]]]:
    found: dict[str, type[Screen[object]]] = {}
    for module in pkgutil.walk_packages(screens.__path__, "screens."):
        for name, value in inspect.getmembers(importlib.import_module(module.name)):
            if (
                inspect.isclass(value)
                and issubclass(value, Screen)
                and value.__module__.startswith("screens.")
            ):
                found[name] = value
    return list(found.values())


def test_no_screen_shadows_a_global_key_by_accident() -> None:
    global_keys = keys(WorkbenchApp.BINDINGS)
    screen_types = our_screens()
    assert len(screen_types) >= 10  # every screen module was found
    clashes = sorted(
        (screen.__name__, key)
        for screen in screen_types
        for key in keys(screen.BINDINGS) & global_keys
        if (screen.__name__, key) not in DELIBERATE
    )
    assert clashes == []


def test_every_screen_restores_focus_after_a_modal() -> None:
    missing = [s.__name__ for s in our_screens() if not issubclass(s, RestoresFocus)]
    assert missing == []
