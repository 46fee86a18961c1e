"""What the drift panel draws, from real engine results: a numeric and a categorical
column's histograms through plotext itself (the panel's plotting library), the sparkline of
past scores, and the rows of the columns table, untested columns said in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotext

from pipelines.drift import DriftOptions, PreparedReference
from pipelines.watch.watcher import WatchView
from screens.drift_text import column_rows, draw_histogram, score_sparkline


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"amount": rng.normal(0, 1, 500), "plan": rng.choice(["basic", "pro", "team"], 500)}
    )
    current = pd.DataFrame(
        {"amount": rng.normal(2, 1, 300), "plan": rng.choice(["basic", "enterprise"], 300)}
    )
    current["empty"] = np.nan
    reference["empty"] = rng.normal(0, 1, 500)
    return reference, current


def test_histograms_of_both_kinds_are_drawn_by_plotext() -> None:
    reference, current = frames()
    prepared = PreparedReference.prepare(reference, DriftOptions())
    for column in ("amount", "plan"):
        histogram = prepared.histogram(column, current, bins=12)
        assert draw_histogram(plotext, histogram, column) == ""
        plotext.plotsize(60, 12)
        drawn = plotext.build()
        assert "reference" in drawn and "current" in drawn and column in drawn
    assert "untested" in draw_histogram(plotext, None, "empty")


def test_rows_say_untested_columns_in_words_and_scores_become_sparklines() -> None:
    reference, current = frames()
    drift = PreparedReference.prepare(reference).compare(current)
    view = WatchView("d", "m:1", "ref", 500, 300, drift, None, None, None, None, None,
                     history={"amount": (0.1, None, 0.4)})  # fmt: skip
    rows = {row.key: row.cells for row in column_rows(view)}
    assert rows["amount"][4].plain == "yes" and rows["amount"][5] == "▂ █"
    assert rows["empty"][2] == "–" and "missing" in rows["empty"][4].plain
    assert score_sparkline(()) == "" and score_sparkline((0.0, 0.0)) == "▁▁"
