"""Run colours the compare and run screens share: each run keeps one colour on every tab,
plot legend and table header, so a line, a bar and a column are the same run at a glance."""

from __future__ import annotations

import colorsys

from rich.text import Text

RUN_COLOURS: list[tuple[int, int, int]] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
]


def run_colour(position: int) -> tuple[int, int, int]:
    """The colour of the run at ``position`` in the order the runs were chosen: a tuned
    palette for the first twelve, then hues a golden angle apart, so no two runs match."""
    if position < len(RUN_COLOURS):
        return RUN_COLOURS[position]
    hue = (position * 0.618033988749895) % 1.0
    value = 0.95 if position % 2 else 0.75
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.65, value)
    return (round(red * 255), round(green * 255), round(blue * 255))


def rich_colour(rgb: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*rgb)


def legend(entries: list[tuple[str, tuple[int, int, int]]], mark: str = "━━") -> Text:
    """A plot's legend as a line of text under it: plotext draws its own legend inside the
    plot's top-left corner, over the lines it names."""
    parts: list[Text | str] = []
    for name, colour in entries:
        parts += [Text(mark, style=rich_colour(colour)), f" {name}  "]
    return Text.assemble(*parts)
