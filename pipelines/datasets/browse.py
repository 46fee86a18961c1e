"""Page through a Parquet file of any size with DuckDB, filtered and sorted by SQL fragments.

UI-free: the row browser screen calls this from thread workers, and so could a CLI command.
Measured on 10M rows (benchmarks/browse_10m.py): a page anywhere in the unfiltered file
costs ~0.03 s through the ``file_row_number`` virtual column (row-group pruning), a little
less than ``LIMIT/OFFSET``. A filtered or sorted view answers its first pages with a direct
``LIMIT/OFFSET`` query; deeper pages use the matching row numbers, collected once per view
in display order, because a deep ``OFFSET`` re-runs the filter and sort (~4 s at 5M sorted).
A sorted view of few rows is copied into memory once instead: a sorted page fetched by row
number touches every row group (~0.4 s), a page of the copy takes milliseconds.

Every query runs under a time limit (30 s unless told otherwise): a filter such as
``(SELECT count(*) FROM range(1e12)) > 0`` would otherwise run until the process is killed.
DuckDB has no statement timeout, so a timer interrupts the cursor running the query.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb
    import numpy as np

ROW_NUMBER = "file_row_number"
# Pages ending before this row are read with a direct LIMIT/OFFSET query; beyond it the
# view's row numbers are collected once (cheaper than re-running a deep OFFSET per page).
DIRECT_PAGE_LIMIT = 1_000
# Sorted views up to this many rows are copied, sorted, into DuckDB's memory on first use.
SMALL_SORTED_ROWS = 200_000
# How long one count or page may run before it is interrupted (None: no limit).
DEFAULT_QUERY_SECONDS = 30.0
_copy_names = itertools.count(1)
_PLAIN_TYPES = (bool, int, float, str, Decimal)


class BrowseQueryError(WorkbenchError):
    """A filter or ORDER BY fragment was refused or failed; the message is one line."""


class BrowseTimeoutError(BrowseQueryError):
    """A query ran past the source's time limit and was interrupted."""

    def __init__(self, stage: str, seconds: float) -> None:
        super().__init__(f"{stage} took longer than {seconds:g} s and was stopped")
        self.stage = stage
        self.seconds = seconds


@dataclass(frozen=True)
class Page:
    """Rows ``offset .. offset + len(rows) - 1`` of a view, values ready to display."""

    offset: int
    rows: list[tuple[object, ...]]


def _one_line(error: BaseException) -> str:
    """DuckDB messages carry candidate lists and caret lines; people need the first line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _display_value(value: object) -> object:
    """Keep numbers, text and None as they are (the table aligns numbers); stringify the rest."""
    if value is None or isinstance(value, _PLAIN_TYPES):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _display_rows(rows: list[tuple[Any, ...]]) -> list[tuple[object, ...]]:
    return [tuple(_display_value(value) for value in row) for row in rows]


def _check_fragment(kind: str, fragment: str) -> str:
    """Refuse statement separators; DuckDB's relational API parses the rest as expressions."""
    fragment = fragment.strip()
    if ";" in fragment:
        raise BrowseQueryError(f"{kind}: ';' is not allowed (one expression, not statements)")
    return fragment


@contextmanager
def _time_limit(
    cursor: duckdb.DuckDBPyConnection, seconds: float | None, stage: str
) -> Iterator[None]:
    """Interrupt what `cursor` runs after `seconds`, and say so instead of "Interrupted!"."""
    import duckdb

    if seconds is None or seconds <= 0:
        yield
        return
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        cursor.interrupt()

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    except duckdb.Error as error:
        if expired.is_set():
            raise BrowseTimeoutError(stage, seconds) from error
        raise
    finally:
        timer.cancel()


class RowSource:
    """One open Parquet file.

    Thread-safe: each call may come from a different worker thread, so every call opens a
    fresh cursor on one shared in-memory DuckDB connection. The connection may read only
    this file (``allowed_paths``, external access off, configuration locked), so a filter
    cannot reach other files. Each count and each page may run for ``time_limit`` seconds.
    """

    def __init__(
        self, parquet_path: Path, time_limit: float | None = DEFAULT_QUERY_SECONDS
    ) -> None:
        import duckdb

        self.time_limit = time_limit
        self.path = Path(parquet_path).resolve()
        if not self.path.is_file():
            raise BrowseQueryError(f"{self.path}: no such file")
        self._connection = duckdb.connect(":memory:")
        literal = str(self.path).replace("'", "''")
        try:
            self._connection.execute("SET parquet_metadata_cache = true")
            self._connection.execute("SET autoinstall_known_extensions = false")
            names = [
                row[0]
                for row in self._connection.execute(
                    f"DESCRIBE SELECT * FROM read_parquet('{literal}')"
                ).fetchall()
            ]
            # A file with its own column of that name cannot use the virtual one.
            self.has_row_numbers = ROW_NUMBER not in names
            options = ", file_row_number = true" if self.has_row_numbers else ""
            self._connection.execute(
                f"CREATE VIEW src AS SELECT * FROM read_parquet('{literal}'{options})"
            )
            self._connection.execute(f"SET allowed_paths = ['{literal}']")
            self._connection.execute("SET enable_external_access = false")
            self._connection.execute("SET lock_configuration = true")
            relation = self._connection.view("src")
            if self.has_row_numbers:
                relation = relation.project(f"* EXCLUDE ({ROW_NUMBER})")
            self.columns: list[str] = list(relation.columns)
            self.column_types: list[str] = [str(kind) for kind in relation.types]
        except duckdb.Error as error:
            self._connection.close()
            raise BrowseQueryError(f"{self.path.name}: {_one_line(error)}") from error

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of this thread's own on the shared database."""
        return self._connection.cursor()

    def relation(self, cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
        """All rows of the file (plus ``file_row_number`` when the file allows it)."""
        return cursor.view("src")

    def output(self, relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
        """Drop the virtual row number from what people see."""
        if self.has_row_numbers:
            return relation.project(f"* EXCLUDE ({ROW_NUMBER})")
        return relation

    def query(self, where: str = "", order_by: str = "") -> RowView:
        """Validate ``where``/``order_by`` and count the matching rows (once, here)."""
        import duckdb

        where = _check_fragment("filter", where)
        order_by = _check_fragment("order by", order_by)
        cursor = self.cursor()
        try:
            relation = self.relation(cursor)
            stage = "filter"
            try:
                if where:
                    relation = relation.filter(where)
                stage = "order by"
                if order_by:
                    relation.order(order_by)
                stage = "filter"
                with _time_limit(cursor, self.time_limit, stage):
                    row_count = int(relation.aggregate("count(*)").fetchall()[0][0])
            except duckdb.Error as error:
                raise BrowseQueryError(f"{stage}: {_one_line(error)}") from error
        finally:
            cursor.close()
        return RowView(self, where, order_by, row_count)

    def drop_table(self, name: str) -> None:
        """Forget a view's in-memory copy (called when the view is garbage-collected)."""
        import duckdb

        try:
            cursor = self.cursor()
            try:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
            finally:
                cursor.close()
        except duckdb.Error:
            pass  # the connection is closed already: nothing left to free

    def close(self) -> None:
        """Release DuckDB's memory; views made from this source stop working."""
        self._connection.close()


class RowView:
    """The rows of one ``RowSource.query``: a fixed filter and order, and their count."""

    def __init__(self, source: RowSource, where: str, order_by: str, row_count: int) -> None:
        self.source = source
        self.where = where
        self.order_by = order_by
        self.row_count = row_count
        self._lock = threading.Lock()
        self._row_numbers: np.ndarray | None = None
        self._copy: str | None = None

    @property
    def is_plain(self) -> bool:
        """No filter and no order: rows are file rows, addressable by number."""
        return not self.where and not self.order_by

    def page(self, offset: int, limit: int) -> Page:
        """Rows ``offset .. offset + limit - 1`` (fewer at the end), in view order."""
        import duckdb

        offset = max(0, min(offset, self.row_count))
        limit = max(0, min(limit, self.row_count - offset))
        if limit == 0:
            return Page(offset, [])
        cursor = self.source.cursor()
        try:
            with _time_limit(cursor, self.source.time_limit, "page"):
                rows = self._fetch(cursor, offset, limit)
        except duckdb.Error as error:
            raise BrowseQueryError(f"page: {_one_line(error)}") from error
        finally:
            cursor.close()
        return Page(offset, _display_rows(rows))

    def _fetch(
        self, cursor: duckdb.DuckDBPyConnection, offset: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """The rows of one page, by the cheapest way this view allows."""
        relation = self.source.relation(cursor)
        if self.is_plain and self.source.has_row_numbers:
            last = offset + limit - 1
            return self.source.output(
                relation.filter(f"{ROW_NUMBER} BETWEEN {offset} AND {last}").order(ROW_NUMBER)
            ).fetchall()
        if self.order_by and self.row_count <= SMALL_SORTED_ROWS:
            copy = cursor.table(self._copy_table(cursor))
            return self.source.output(copy.limit(limit, offset)).fetchall()
        if not self.source.has_row_numbers or offset + limit <= DIRECT_PAGE_LIMIT:
            return self._direct(relation, offset, limit)
        return self._by_row_numbers(cursor, offset, limit)

    def _ordered(self, relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
        """Apply the view's filter and order, tie-broken by file position to stay stable."""
        if self.where:
            relation = relation.filter(self.where)
        if self.order_by:
            tie_break = f", {ROW_NUMBER}" if self.source.has_row_numbers else ""
            relation = relation.order(self.order_by + tie_break)
        return relation

    def _direct(
        self, relation: duckdb.DuckDBPyRelation, offset: int, limit: int
    ) -> list[tuple[Any, ...]]:
        return self.source.output(self._ordered(relation).limit(limit, offset)).fetchall()

    def _by_row_numbers(
        self, cursor: duckdb.DuckDBPyConnection, offset: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """Fetch rows by file row number; ``BETWEEN`` lets DuckDB skip row groups."""
        numbers = [int(n) for n in self._view_row_numbers(cursor)[offset : offset + limit]]
        listed = ", ".join(str(n) for n in numbers)
        relation = self.source.relation(cursor).filter(
            f"{ROW_NUMBER} BETWEEN {min(numbers)} AND {max(numbers)} AND {ROW_NUMBER} IN ({listed})"
        )
        fetched = relation.project(f"{ROW_NUMBER}, * EXCLUDE ({ROW_NUMBER})").fetchall()
        by_number = {row[0]: row[1:] for row in fetched}
        return [by_number[n] for n in numbers if n in by_number]

    def _copy_table(self, cursor: duckdb.DuckDBPyConnection) -> str:
        """Name of the view's sorted in-memory copy, made on first use, dropped with the view."""
        with self._lock:
            if self._copy is None:
                name = f"browse_copy_{next(_copy_names)}"
                self._ordered(self.source.relation(cursor)).create(name)
                self._copy = name
                weakref.finalize(self, self.source.drop_table, name)
            return self._copy

    def _view_row_numbers(self, cursor: duckdb.DuckDBPyConnection) -> np.ndarray:
        """The file row numbers of the view in display order, collected once per view."""
        with self._lock:
            if self._row_numbers is None:
                relation = self._ordered(self.source.relation(cursor)).project(ROW_NUMBER)
                self._row_numbers = relation.fetchnumpy()[ROW_NUMBER]
            return self._row_numbers
