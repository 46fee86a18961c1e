"""Text charts the sweep and run screens share: bars of importances and whole-number axis
ticks for trial and iteration plots."""

from __future__ import annotations

import math

from textual.markup import escape

from pipelines.inert import inert

BAR_CELLS = 12
NAME_CELLS = 16  # longer parameter or column names are cut, so a bar fits a narrow pane


def short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def whole_ticks(low: int, high: int, most: int = 8) -> list[int]:
    """Trial numbers for the x axis: whole numbers, at most ``most`` of them."""
    step = max(1, math.ceil((high - low + 1) / most))
    return list(range(low, high + 1, step))


def bar_list(values: dict[str, float], width: int = BAR_CELLS) -> str:
    """Names with a proportional bar and the figure, largest first (as markup: names are
    escaped)."""
    if not values:
        return ""
    values = {short(inert(name), NAME_CELLS): value for name, value in values.items()}
    top = max(values.values()) or 1.0
    pad = max(len(name) for name in values)
    lines = []
    for name, value in sorted(values.items(), key=lambda kv: kv[1], reverse=True):
        cells = max(0, round(width * value / top)) if top > 0 else 0
        lines.append(f"{escape(name):<{pad}} {'█' * cells:<{width}} {value:.3f}")
    return "\n".join(lines)
