"""Row labels of a filled DataTable are on screen from the first painted frame and stay there.

DataTable turns its label column on, and measures it, only on its next idle tick, from row
renderables it caches by its update count. A frame painted before that tick (a loaded
machine, a refresh timer firing between the fill and the table's idle) cached the rows
without labels, the idle tick then measured those cached, label-less rows as 0 cells wide,
and the labels stayed hidden until the table was filled again. These tests paint a frame
straight after the fill, before the table has had an idle tick, as such a machine would."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable

from screens.widgets.tables import TableRow, append_row, fill_table, update_row
from tests.app_helpers import first_words, screen_text


class TableApp(App[None]):
    CSS = "DataTable { height: 1fr; }"  # laid out before the fill, so a frame shows the rows

    def compose(self) -> ComposeResult:
        yield DataTable(id="table")


COLUMNS = [("run 1", "run-1"), ("run 2", "run-2")]
ROWS = [
    TableRow("section-metric", [Text(""), Text("")], Text("Metrics", style="bold reverse")),
    TableRow("row-0", [Text("0.91"), Text("0.93 ★")], Text("accuracy")),
    TableRow("row-1", [Text("0.88"), Text("0.90 ★")], "f1_macro_long_name"),
]


def assert_labels_shown(text: str, rows: list[TableRow] = ROWS) -> None:
    """Every row's label starts its line, and the first cells line up one column after the
    longest label (the label column is as wide as that label, not 0, not the old fill's)."""
    words = first_words(text)
    labels = [str(row.label) for row in rows]
    missing = [name for name in labels if name not in words]
    assert not missing, f"row labels {missing} are missing:\n{text}"
    cell_at = max(len(name) for name in labels) + 3  # border/padding, label, padding
    for row, name in zip(rows, labels, strict=True):
        first = str(row.cells[0])
        if first:
            assert words[name][cell_at:].startswith(first), f"{name!r} misaligned:\n{text}"


async def fill_and_paint(pilot: Pilot[None], rows: list[TableRow]) -> str:
    """Fill the table and paint a frame before the table gets an idle tick."""
    table = pilot.app.query_one(DataTable)
    fill_table(table, COLUMNS, rows)
    return screen_text(pilot)


async def test_labels_are_on_the_first_frame_and_after_the_idle_tick() -> None:
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        assert_labels_shown(await fill_and_paint(pilot, ROWS))
        await pilot.pause(0.1)  # the table's idle tick has run: the labels are still there
        assert_labels_shown(screen_text(pilot))


async def test_labels_survive_a_refill_painted_early() -> None:
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        await fill_and_paint(pilot, ROWS)
        await pilot.pause()
        refill = [*ROWS[:2], TableRow("row-1", [Text("0.5"), Text("0.6")], "f1")]
        assert_labels_shown(await fill_and_paint(pilot, refill), refill)
        await pilot.pause(0.1)
        assert_labels_shown(screen_text(pilot), refill)


async def test_two_fills_in_one_tick_keep_the_labels() -> None:
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(DataTable)
        fill_table(table, COLUMNS, ROWS)
        fill_table(table, COLUMNS, ROWS)
        assert_labels_shown(screen_text(pilot))
        await pilot.pause(0.1)
        assert_labels_shown(screen_text(pilot))


async def test_a_table_without_labels_has_no_label_column() -> None:
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        unlabelled = [TableRow(row.key, row.cells) for row in ROWS]
        text = await fill_and_paint(pilot, unlabelled)
        await pilot.pause(0.1)
        for shown in (text, screen_text(pilot)):
            assert not {"Metrics", "accuracy"} & set(first_words(shown))
            assert "0.91" in first_words(shown)


async def test_an_appended_label_shows_at_once_and_widens_the_label_column() -> None:
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(DataTable)
        fill_table(table, COLUMNS, ROWS[:2])
        await pilot.pause(0.1)
        append_row(table, ROWS[2])
        assert_labels_shown(screen_text(pilot))
        await pilot.pause(0.1)
        assert_labels_shown(screen_text(pilot))


async def test_a_label_appended_to_an_unlabelled_table_shows_at_once() -> None:
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(DataTable)
        fill_table(table, COLUMNS, [TableRow(row.key, row.cells) for row in ROWS[:2]])
        await pilot.pause(0.1)
        append_row(table, ROWS[2])
        text = screen_text(pilot)
        await pilot.pause(0.1)
        for shown in (text, screen_text(pilot)):
            assert "f1_macro_long_name" in first_words(shown), shown


async def test_textual_sizes_the_label_column_as_show_labels_does() -> None:
    """show_labels sets DataTable's private label state; this fails if Textual renames it or
    measures labels otherwise (then the idle tick would resize the column under cached rows)."""
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(DataTable)
        for _, key in COLUMNS:
            table.add_column(key, key=key)
        for row in ROWS:
            table.add_row(*row.cells, key=row.key, label=row.label)
        await pilot.pause(0.1)  # Textual's own idle tick, no frame painted before it
        textual_state = (table._labelled_row_exists, table._label_column.content_width)
        fill_table(table, COLUMNS, ROWS)
        assert (table._labelled_row_exists, table._label_column.content_width) == textual_state
        assert textual_state == (True, len("f1_macro_long_name"))
        await pilot.pause(0.1)
        assert (table._labelled_row_exists, table._label_column.content_width) == textual_state


STATUS_COLUMNS = [("status", "status"), ("value", "value")]
STATUS_ROWS = [TableRow("1", ["running", "0.5"]), TableRow("2", ["queued", "0.7"])]


async def test_a_grown_or_shrunk_cell_is_measured_before_the_next_frame() -> None:
    """The same idle-tick caching cut a live status that grew ("finishe") for good."""
    async with TableApp().run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(DataTable)
        fill_table(table, STATUS_COLUMNS, STATUS_ROWS)
        await pilot.pause(0.1)
        update_row(table, "1", {"status": "finished after a long while"})
        early = screen_text(pilot)
        await pilot.pause(0.1)
        for text in (early, screen_text(pilot)):
            assert "finished after a long while  0.5" in first_words(text)["finished"], text
        update_row(table, "1", {"status": "done"})
        early = screen_text(pilot)
        await pilot.pause(0.1)
        for text in (early, screen_text(pilot)):
            assert first_words(text)["status"].startswith(" status  value"), text
            assert first_words(text)["done"].startswith(" done    0.5"), text
