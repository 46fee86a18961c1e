"""Text from users' files shown without side effects: a column name or value holding a
terminal escape sequence (ESC, CSI, BEL, backspace, carriage return…) would otherwise move
the cursor, recolour or retitle the terminal when printed. Every such character is shown as
a visible escape instead (`\\x1b`, `\\n`), so what is on screen is what is in the file."""

from __future__ import annotations

import re

# C0 controls (tab included: it shifts columns), DEL, C1 controls, and the bidirectional
# overrides that reorder what follows them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """`text` with every control character replaced by a visible escape (a no-op, and no
    copy, for ordinary text)."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)
