"""The footer at narrow sizes: `? Help` stays, and a key that does not fit whole is left out
rather than shown without its label (screens.widgets.footer.KeysFooter), also on a screen
a modal covers."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from screens.widgets.footer import KeysFooter
from tests.app_helpers import build_demo_workspace, screen_text, settle
from workbench.app import WorkbenchApp


def shown_keys(pilot) -> tuple[list[str], list[str]]:
    """The "key Label" pairs the footer line shows left of ? Help, and every left key in
    order (what it would show with room for all)."""
    line = screen_text(pilot).splitlines()[-1]
    left, help_key, _ = line.partition("? Help")
    assert help_key, line
    shown_under = [s for s in pilot.app.screen_stack if s.query(KeysFooter)][-1]
    footer = shown_under.query_one(KeysFooter)  # under a modal: the screen it covers
    every = [
        f"{key.key_display} {key.description}"
        for key in footer.query(FooterKey)
        if key.parent is footer
    ]
    return [part.strip() for part in left.split("  ") if part.strip()], every


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_footer_shows_whole_keys_and_help_at_any_width(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    root = build_demo_workspace(tmp_path / "ws", tmp_path / "data")
    app = WorkbenchApp(root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for screen_key in ("d", "s", "r"):
            await pilot.press(screen_key)
            await settle(pilot)
            shown, every = shown_keys(pilot)
            assert shown and shown == every[: len(shown)], (shown, every)
        await pilot.press("s", "n")  # the form covers Sweeps: its footer is still whole
        await settle(pilot)
        shown, every = shown_keys(pilot)
        assert shown and shown == every[: len(shown)], (shown, every)
        await pilot.press("escape")
        await pilot.resize_terminal(220, 45)  # widened: the keys left out come back
        await settle(pilot)
        shown, every = shown_keys(pilot)
        assert shown == every
