"""The CSV-to-Parquet conversion: pyarrow's multi-threaded reader on pieces cut at record
boundaries (`pipelines.datasets.ingest_pieces`; its streaming reader where a piece cannot be
cut), written in row groups of ROW_GROUP_ROWS while the next piece is parsed; a late type or
encoding surprise widens the schema and starts over, and every other problem becomes a
one-line error naming the physical line (`pipelines.datasets.ingest_text` finds it).

pyarrow is imported inside functions so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.datasets.ingest_pieces import csv_tables
from pipelines.datasets.ingest_scan import unclosed_quote_line
from pipelines.datasets.ingest_text import (
    _CONVERSION,
    _FALLBACK,
    BLOCK_BYTES,
    ROW_GROUP_ROWS,
    UTF8,
    clean_names,
    fail,
    find_bad_row,
    first_line,
    io_problem,
    next_encoding,
    py_encoding,
    target_schema,
    too_long,
)
from pipelines.datasets.profile_stream import StreamProfile

if TYPE_CHECKING:
    import pyarrow as pa

LOW_CARD_LIMIT = 200  # profiling's max(4 * category_limit, 200) at the default limit of 50
_ASCII_COMPATIBLE = (*UTF8, "cp1252", "latin-1")  # a quote or line break is its own byte


class _Retry(Exception):
    """Internal: restart the streaming read with adjusted options."""


def convert_csv(
    path: Path, tmp: Path, options: dict[str, Any]
) -> tuple[dict[str, Any], int, list[str], StreamProfile]:
    """Stream CSV into Parquet, profiling the batches as they go (the profile is finished
    by `pipelines.datasets.profile_finish.finish_profile` on the file written); on a late
    type or encoding surprise, widen and start over. pyarrow's block is BLOCK_BYTES as this
    module sees it when called (tests make it small to cross many blocks)."""
    _fast_allocator()
    block_bytes = BLOCK_BYTES
    options = dict(options)
    column_types: dict[str, pa.DataType] = {}
    for _ in range(200):
        try:
            rows, columns, profile = _stream_csv(path, tmp, options, column_types, block_bytes)
            return options, rows, columns, profile
        except _Retry:
            continue
    raise fail(path, "column types kept changing while reading; cannot settle on a schema")


def _fast_allocator() -> None:
    """jemalloc where pyarrow has it: it keeps the pages it freed for the next block, where
    mimalloc (the default) hands them back and faults them in again (1.2 s of system time
    per 300 MB against 0.4 s, measured on benchmarks/data_add.py's CSV)."""
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    if pa.default_memory_pool().backend_name != "jemalloc":
        pa.set_memory_pool(pool)


def _stream_csv(
    path: Path,
    tmp: Path,
    options: dict[str, Any],
    column_types: dict[str, pa.DataType],
    block_bytes: int,
) -> tuple[int, list[str], StreamProfile]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    encoding = options.get("encoding", "utf-8")
    read = {
        "block_size": block_bytes,
        "encoding": "utf8" if encoding in UTF8 else py_encoding(encoding),
    }
    parse = {
        "delimiter": options.get("delimiter", ","),
        "quote_char": options.get("quotechar") or False,
    }
    convert = {
        "strings_can_be_null": True,
        "column_types": column_types,
        "decimal_point": options.get("decimal", "."),
    }
    header: pa.Schema | None = None
    writer = None
    try:
        with csv_tables(
            lambda: pa.input_stream(str(path), compression=options.get("compression")),
            read,
            parse,
            convert,
            block_bytes,
            in_pieces=encoding in _ASCII_COMPATIBLE,
        ) as (header, tables):
            names = clean_names(path, header.names)
            types = header.types
            if encoding in UTF8 and any(pa.types.is_binary(t) for t in types):
                options["encoding"] = next_encoding(path, options)  # invalid UTF-8 later on
                raise _Retry
            target = target_schema(names, types)
            writer = pq.ParquetWriter(
                str(tmp), target, compression="zstd", use_dictionary=_text_columns(target)
            )
            profile = StreamProfile(target, LOW_CARD_LIMIT)
            rows, last_value = _write_tables(tables, writer, names, target, profile)
    except pa.ArrowInvalid as exc:
        raise _csv_problem(path, exc, options, header, column_types) from exc
    except UnicodeDecodeError as exc:
        if encoding not in _FALLBACK:
            raise fail(path, f"cannot be decoded as {encoding} ({first_line(exc)})") from exc
        options["encoding"] = next_encoding(path, options)
        raise _Retry from exc
    except OSError as exc:
        raise io_problem(path, exc, tmp) from exc
    finally:
        if writer is not None:
            try:
                writer.close()
            except OSError as exc:
                raise io_problem(path, exc, tmp) from exc
    if rows == 0:
        raise fail(path, "has a header but no data rows")
    if isinstance(last_value, str) and ("\n" in last_value or "\r" in last_value):
        line = unclosed_quote_line(path, options, last_value, py_encoding(encoding))
        if line is not None:
            raise fail(path, f"line {line} opens a quoted field that is never closed")
    return rows, names, profile


def _text_columns(schema: pa.Schema) -> list[str]:
    """Dictionary-encode text only: numbers gain little from it (zstd does about as well)
    and it costs about a sixth of the conversion; text keeps it, which keeps files small
    (81 MB against 99 MB for benchmarks/data_add.py's 306 MB CSV) and category counts fast."""
    import pyarrow as pa

    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]


def _write_tables(
    tables: Iterator[pa.Table],
    writer: Any,
    names: list[str],
    target: pa.Schema,
    profile: StreamProfile,
) -> tuple[int, Any]:
    """Write in row groups of ROW_GROUP_ROWS whatever the reader's table sizes are; return
    the row count and the last value read (an unclosed quote ends up there). Each write
    runs on a thread while the next piece is parsed (both release the GIL), one at a time
    and in order, so a second core compresses while the first parses; the profile takes
    each table on a third thread, also one at a time and in order (numpy and Arrow's
    kernels release the GIL too)."""
    import pyarrow as pa

    rows, pending, last_value = 0, None, None
    with ThreadPoolExecutor(2, thread_name_prefix="parquet-write") as pool:
        writing: Future[None] | None = None
        profiling: Future[None] | None = None
        for read in tables:
            if read.num_rows and read.num_columns:
                last_value = read.column(read.num_columns - 1)[read.num_rows - 1].as_py()
            table = read.rename_columns(names).cast(target)
            if profiling is not None:
                profiling.result()
            profiling = pool.submit(profile.add, table)
            pending = table if pending is None else pa.concat_tables([pending, table])
            rows += read.num_rows
            full = pending.num_rows // ROW_GROUP_ROWS * ROW_GROUP_ROWS
            if full:
                if writing is not None:
                    writing.result()
                chunk, pending = pending.slice(0, full), pending.slice(full)
                writing = pool.submit(writer.write_table, chunk, row_group_size=ROW_GROUP_ROWS)
        for running in (writing, profiling):
            if running is not None:
                running.result()
    if pending is not None and pending.num_rows:
        writer.write_table(pending, row_group_size=ROW_GROUP_ROWS)
    return rows, last_value


def _csv_problem(
    path: Path,
    exc: Exception,
    options: dict[str, Any],
    header: pa.Schema | None,
    column_types: dict[str, pa.DataType],
) -> Exception:
    """Turn a pyarrow CSV error into a retry (wider type/encoding) or a one-line error."""
    message = str(exc)
    encoding = options.get("encoding", "utf-8")
    if "invalid UTF8" in message and encoding in _FALLBACK:
        options["encoding"] = next_encoding(path, options)
        return _Retry()
    if "straddling" in message:
        problem = too_long(path, options) or find_bad_row(path, options)
        if problem:
            return fail(path, problem)
    found = _CONVERSION.search(message)
    if found and header is not None and int(found.group(1)) < len(header):
        field, value = header.field(int(found.group(1))), found.group(2)
        wider = _wider(column_types.get(field.name, field.type), value, options.get("decimal", "."))
        if wider != column_types.get(field.name, field.type):
            column_types[field.name] = wider
            return _Retry()
    if "CSV parse error" in message:
        problem = find_bad_row(path, options)
        if problem:
            return fail(path, problem)
    if "Empty CSV file" in message:
        return fail(path, "has no header line")
    return fail(path, f"cannot be read as CSV ({first_line(exc)})")


def _wider(current: pa.DataType, value: str, decimal: str) -> pa.DataType:
    """The next type up that can hold `value`: null -> int64 -> float64 -> string."""
    import pyarrow as pa

    def parses(kind: type[Any]) -> bool:
        try:
            kind(value.strip().replace(decimal, "."))
            return True
        except ValueError:
            return False

    if pa.types.is_null(current) and parses(int):
        return pa.int64()
    if (pa.types.is_null(current) or pa.types.is_integer(current)) and parses(float):
        return pa.float64()
    return pa.string()
