"""Row browsing: the DuckDB paging engine on a real Parquet file, and the screen driven by keys."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Static

from pipelines.datasets import browse
from pipelines.datasets.browse import (
    DIRECT_PAGE_LIMIT,
    BrowseQueryError,
    BrowseTimeoutError,
    RowSource,
    RowView,
)
from screens.row_browser import RowBrowserScreen
from screens.widgets.lazy_table import LazyTable

ROWS = 50_000
CITIES = ["Oslo", "Lyon", "Porto", "Kyoto", "Quito"]


def expected_row(i: int) -> tuple[object, ...]:
    """The values written for row ``i``, so every test can compute what it must see."""
    return (i, 18 + i % 70, CITIES[i % 5], round(i * 0.5, 1), f"name-{i:05d}")


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [expected_row(i) for i in range(ROWS)]
    columns = ["id", "age", "city", "amount", "name"]
    table = pa.table({name: [row[k] for row in rows] for k, name in enumerate(columns)})
    path = tmp_path_factory.mktemp("browse") / "people.parquet"
    # Small row groups, so row-group pruning is exercised as on a big file.
    pq.write_table(table, path, row_group_size=7_000)
    return path


@pytest.fixture(scope="module")
def source(parquet_file: Path) -> RowSource:
    return RowSource(parquet_file)


# -- pipeline ---------------------------------------------------------------------------------


def test_columns_and_count(source: RowSource) -> None:
    assert source.columns == ["id", "age", "city", "amount", "name"]
    assert source.column_types[:3] == ["BIGINT", "BIGINT", "VARCHAR"]
    assert source.query().row_count == ROWS


@pytest.mark.parametrize("offset", [0, 1, 24_990, ROWS - 200])
def test_unfiltered_pages_are_file_rows(source: RowSource, offset: int) -> None:
    page = source.query().page(offset, 200)
    assert page.offset == offset
    assert page.rows == [expected_row(i) for i in range(offset, offset + 200)]


def test_page_past_the_end_is_short(source: RowSource) -> None:
    view = source.query()
    assert view.page(ROWS - 3, 200).rows == [expected_row(i) for i in range(ROWS - 3, ROWS)]
    assert view.page(ROWS + 10, 200).rows == []


def test_filter_counts_and_pages(source: RowSource) -> None:
    view = source.query("age > 80 AND city = 'Oslo'")
    matching = [i for i in range(ROWS) if 18 + i % 70 > 80 and i % 5 == 0]
    assert view.row_count == len(matching)
    # Both paths: a direct LIMIT/OFFSET for the first rows, row numbers deeper in.
    for offset in (0, DIRECT_PAGE_LIMIT + 5, len(matching) - 50):
        rows = view.page(offset, 100).rows
        assert rows == [expected_row(i) for i in matching[offset : offset + 100]]


@pytest.fixture(params=["in-memory copy", "by row number"])
def sorted_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sorted views are read from a sorted copy when small, by file row number when big."""
    if request.param == "by row number":
        monkeypatch.setattr(browse, "SMALL_SORTED_ROWS", 0)


@pytest.mark.usefixtures("sorted_path")
def test_order_by_sorts_and_breaks_ties_by_file_position(source: RowSource) -> None:
    view = source.query("city = 'Kyoto'", "age DESC, amount")
    kyoto = [i for i in range(ROWS) if i % 5 == 3]
    ordered = sorted(kyoto, key=lambda i: (-(18 + i % 70), i * 0.5))
    for offset in (0, 2_000, len(ordered) - 100):
        rows = view.page(offset, 100).rows
        assert rows == [expected_row(i) for i in ordered[offset : offset + 100]]


@pytest.mark.usefixtures("sorted_path")
def test_order_by_without_filter_reaches_the_end(source: RowSource) -> None:
    view = source.query("", "id DESC")
    assert view.row_count == ROWS
    assert view.page(0, 2).rows == [expected_row(ROWS - 1), expected_row(ROWS - 2)]
    assert view.page(ROWS - 2, 2).rows == [expected_row(1), expected_row(0)]


@pytest.mark.usefixtures("sorted_path")
def test_pages_from_many_threads_at_once(source: RowSource) -> None:
    """Workers share one view: the lazily built copy/row numbers must be built once, right."""
    from concurrent.futures import ThreadPoolExecutor

    view = source.query("city <> 'Oslo'", "age, id")
    ordered = sorted((i for i in range(ROWS) if i % 5), key=lambda i: (18 + i % 70, i))
    offsets = [0, 900, 5_000, 20_000, 39_800] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        pages = list(pool.map(lambda offset: view.page(offset, 200), offsets))
    for page in pages:
        assert page.rows == [expected_row(i) for i in ordered[page.offset : page.offset + 200]]


def test_sorted_copy_is_dropped_with_its_view(source: RowSource) -> None:
    def copies() -> int:
        cursor = source.cursor()
        sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'browse_copy_%'"
        return cursor.execute(sql).fetchall()[0][0]

    gc.collect()
    view = source.query("age > 80", "amount DESC")
    highest = max(i for i in range(ROWS) if 18 + i % 70 > 80)
    assert view.page(0, 1).rows == [expected_row(highest)]
    assert copies() == 1
    del view
    gc.collect()
    assert copies() == 0


@pytest.mark.parametrize(
    ("where", "order_by", "starts"),
    [
        ("nope > 3", "", "filter: Binder Error:"),
        ("age >", "", "filter: Parser Error:"),
        ("age > 1) UNION SELECT 1 WHERE (1", "", "filter: Parser Error:"),
        ("", "nope DESC", "order by: Binder Error:"),
    ],
)
def test_bad_sql_is_one_line(source: RowSource, where: str, order_by: str, starts: str) -> None:
    with pytest.raises(BrowseQueryError) as caught:
        source.query(where, order_by)
    message = str(caught.value)
    assert message.startswith(starts)
    assert "\n" not in message


@pytest.mark.parametrize(("where", "order_by"), [("age > 1; DROP TABLE x", ""), ("", "age; x")])
def test_semicolons_are_refused(source: RowSource, where: str, order_by: str) -> None:
    with pytest.raises(BrowseQueryError, match="';' is not allowed"):
        source.query(where, order_by)


def test_filters_cannot_read_other_files(source: RowSource, tmp_path: Path) -> None:
    other = tmp_path / "secret.csv"
    other.write_text("a\n1\n")
    with pytest.raises(BrowseQueryError, match="Permission Error"):
        source.query(f"age > (SELECT max(a) FROM read_csv('{other}'))")


ENDLESS = "(SELECT count(*) FROM range(1000000000000)) > 0"  # runs for hours


def test_a_count_past_the_time_limit_is_stopped(parquet_file: Path) -> None:
    source = RowSource(parquet_file, time_limit=0.3)
    with pytest.raises(BrowseTimeoutError) as caught:
        source.query(ENDLESS)
    assert str(caught.value) == "filter took longer than 0.3 s and was stopped"
    assert source.query("age = 18").row_count == ROWS // 70 + 1  # the source still answers


def test_a_page_past_the_time_limit_is_stopped(parquet_file: Path) -> None:
    source = RowSource(parquet_file, time_limit=0.3)
    view = RowView(source, ENDLESS, "", row_count=10)  # as if the count had been quick
    with pytest.raises(BrowseTimeoutError, match=r"^page took longer than 0\.3 s"):
        view.page(0, 5)
    assert source.query().page(0, 1).rows == [expected_row(0)]


def test_the_default_time_limit_is_thirty_seconds(source: RowSource) -> None:
    assert source.time_limit == 30


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BrowseQueryError, match="no such file"):
        RowSource(tmp_path / "absent.parquet")


def test_file_that_is_not_parquet_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("id,age\n1,2\n")
    with pytest.raises(BrowseQueryError) as caught:
        RowSource(path)
    assert str(caught.value).startswith("fake.parquet: ")
    assert "\n" not in str(caught.value)


# -- screen -------------------------------------------------------------------------------------


class BrowserApp(App[None]):
    """Just the row browser, pushed over an empty default screen."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def on_mount(self) -> None:
        self.push_screen(RowBrowserScreen(self.path, "people.parquet"))


async def settle(pilot: Pilot[None]) -> None:
    """Wait for query workers, the page workers they cause, and the messages they post."""
    for _ in range(100):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return
    raise AssertionError("workers did not settle")


def table_text(table: LazyTable) -> list[str]:
    """The table's lines as rendered (header first)."""
    return [table.render_line(y).text for y in range(table.size.height)]


def header_text(pilot: Pilot[None]) -> str:
    return str(pilot.app.screen.query_one("#browse-title", Static).render())


async def test_first_rows_appear(parquet_file: Path) -> None:
    async with BrowserApp(parquet_file).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = pilot.app.screen.query_one(LazyTable)
        lines = table_text(table)
        assert lines[0].split() == ["id", "age", "city", "amount", "name"]
        assert lines[1].split() == ["0", "18", "Oslo", "0", "name-00000"]
        assert lines[2].split() == ["1", "19", "Lyon", "0.5", "name-00001"]
        assert "50,000 of 50,000 rows" in header_text(pilot)


async def test_end_shows_the_last_row(parquet_file: Path) -> None:
    async with BrowserApp(parquet_file).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("end")
        await settle(pilot)
        table = pilot.app.screen.query_one(LazyTable)
        assert table.cursor_row == ROWS - 1
        lines = table_text(table)
        assert lines[0].split()[0] == "id"
        assert lines[-1].split() == [str(value) for value in expected_row(ROWS - 1)]
        assert "…" not in "".join(lines)
        await pilot.press("home")
        await settle(pilot)
        assert table_text(table)[1].split()[0] == "0"


async def test_filter_shows_matching_rows_and_count(parquet_file: Path) -> None:
    async with BrowserApp(parquet_file).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(pilot.app.focused, Input)
        await pilot.press(*"city = 'Porto' AND age < 20", "enter")
        await settle(pilot)
        matching = [i for i in range(ROWS) if i % 5 == 2 and 18 + i % 70 < 20]
        assert f"{len(matching):,} of 50,000 rows" in header_text(pilot)
        table = pilot.app.screen.query_one(LazyTable)
        body = [line.split() for line in table_text(table)[1:] if line.strip()]
        assert [int(cells[0]) for cells in body] == matching[: len(body)]
        assert all(cells[2] == "Porto" for cells in body)


async def test_bad_filter_shows_error_and_keeps_rows(parquet_file: Path) -> None:
    async with BrowserApp(parquet_file).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"height > 2", "enter")
        await settle(pilot)
        error = pilot.app.screen.query_one("#browse-error", Static)
        assert error.display
        assert str(error.render()).startswith("filter: Binder Error:")
        table = pilot.app.screen.query_one(LazyTable)
        assert table_text(table)[1].split()[0] == "0"
        assert "50,000 of 50,000 rows" in header_text(pilot)
        # Clearing the filter runs the plain query again and hides the error.
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert not error.display


async def test_filter_matching_nothing_leaves_only_the_header(parquet_file: Path) -> None:
    async with BrowserApp(parquet_file).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"age > 500", "enter")
        await settle(pilot)
        assert "0 of 50,000 rows" in header_text(pilot)
        table = pilot.app.screen.query_one(LazyTable)
        lines = table_text(table)
        assert lines[0].split()[0] == "id"
        assert not "".join(lines[1:]).strip()
        await pilot.press("end", "down", "pageup")
        assert table.cursor_row == 0


async def test_page_keys_move_cursor_and_view_together(parquet_file: Path) -> None:
    async with BrowserApp(parquet_file).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = pilot.app.screen.query_one(LazyTable)
        body = table.size.height - 1
        await pilot.press("down", "down", "pagedown", "pagedown")
        await settle(pilot)
        assert table.cursor_row == 2 + 2 * body
        # The cursor keeps its place on screen: third row below the header.
        assert table_text(table)[3].split()[0] == str(2 + 2 * body)
        await pilot.press("pageup")
        await settle(pilot)
        assert table.cursor_row == 2 + body
        assert table_text(table)[3].split()[0] == str(2 + body)
