"""Small text helpers the screens share: numbers, deltas, durations, parameter values, user
text, statuses and sparkline histograms. They live here, not in the screen that first needed
them, so that screens never import one another."""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text

from pipelines.inert import inert

BARS = " ▁▂▃▄▅▆▇█"
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}
SWEEP_STATUS_STYLE = {
    "created": "dim",
    "running": "bold cyan",
    "stopping": "yellow",
    "finalizing": "yellow",
    "stopped": "yellow",
    "finished": "green",
    "failed": "bold red",
    "stalled": "bold magenta",  # active, but no live worker: resume it
}
RUN_STATUS_STYLE = {"complete": "green", "pruned": "yellow", "failed": "red", "running": "cyan"}


def sparkline(counts: list[int]) -> str:
    """Counts as one line of block characters, scaled to the largest bin."""
    if not counts or max(counts) == 0:
        return ""
    top = max(counts)
    return "".join(BARS[0 if c == 0 else max(1, round(c / top * (len(BARS) - 1)))] for c in counts)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def sweep_status_text(status: str) -> Text:
    return Text(status, style=SWEEP_STATUS_STYLE.get(status, ""))


def run_status_text(status: str) -> Text:
    return Text(status, style=RUN_STATUS_STYLE.get(status, ""))


def number(value: object) -> str:
    """Counts and scores: thousands grouped (2,000 rows), floats to 4 significant digits."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def value_text(value: object) -> str:
    """Parameter values: numbers short, everything else as written (escape sequences made
    visible: a categorical value can come from the data)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    return inert(str(value))


def duration_text(seconds: float | None) -> str:
    """1h 02m, 3m 05s, 12s: wide enough to read, short enough for a table cell."""
    if seconds is None:
        return "–"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def data_number(value: object) -> str:
    """A value from the data (a minimum, a median, a cell): never grouped, because 2007 is
    as likely a year, a code or an id as a quantity, and 2,007 misreads all three."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return inert(str(value))


def delta(value: float) -> str:
    """A signed difference to two significant digits: +0.0075, -0.017, +12, -2.3e-06 (the
    values it compares show four, so more digits here are noise)."""
    if value == 0 or math.isnan(value):
        return "±0" if value == 0 else "nan"
    magnitude = abs(value)
    if 1e-4 <= magnitude < 1e6:
        places = max(0, 1 - math.floor(math.log10(magnitude)))
        return f"{value:+.{places}f}"
    return f"{value:+.1e}"


def user_text(value: object, style: str = "") -> Text:
    """Text that came from a user's file (a name, a value) as inert Text: escape sequences
    shown, not obeyed, and never read as markup."""
    return Text(inert(str(value)), style=style)


def display_path(path: Path | str) -> str:
    """A path for the screen: the home folder as ~ (shorter, and the same on every machine
    for a workspace under it), control characters made visible."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        text = "~" + text[len(home) :]
    return inert(text)


def size(num_bytes: int) -> str:
    amount = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"
