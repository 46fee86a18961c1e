"""Small text helpers the screens share: numbers, statuses and sparkline histograms."""

from __future__ import annotations

from rich.text import Text

BARS = " ▁▂▃▄▅▆▇█"
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def sparkline(counts: list[int]) -> str:
    """Counts as one line of block characters, scaled to the largest bin."""
    if not counts or max(counts) == 0:
        return ""
    top = max(counts)
    return "".join(BARS[0 if c == 0 else max(1, round(c / top * (len(BARS) - 1)))] for c in counts)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def size(num_bytes: int) -> str:
    amount = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"
