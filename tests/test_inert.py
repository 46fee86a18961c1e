"""Terminal escape sequences in user data are shown, never executed."""

from __future__ import annotations

from pipelines.inert import inert


def test_ordinary_text_is_unchanged() -> None:
    text = "tenure_months é 東京 ✓"
    assert inert(text) is text


def test_escape_sequences_become_visible() -> None:
    assert inert("\x1b[2J\x1b]0;pwned\x07name") == "\\x1b[2J\\x1b]0;pwned\\x07name"
    assert inert("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert inert("\x9b31m") == "\\x9b31m"
    assert inert("abc\u202edef") == "abc\\u202edef"
    assert "\x1b" not in inert("\x1b" * 3)
