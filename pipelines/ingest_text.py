"""Text detection (compression, encoding, binary junk, CSV dialect) for `pipelines.ingest`,
and the streaming CSV-to-Parquet conversion with errors that name the physical line.

pyarrow is imported inside functions so importing this module stays cheap.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from storage.errors import DatasetInputError

if TYPE_CHECKING:
    import pyarrow as pa

SAMPLE_BYTES = 1 << 20  # detection sample (decompressed)
BLOCK_BYTES = 16 << 20  # pyarrow block; types are inferred from the first one
ROW_GROUP_ROWS = 128 * 1024
DELIMITERS = (",", ";", "\t", "|")
UTF8 = ("utf-8", "utf-8-sig")
_FALLBACK = {"utf-8": "cp1252", "utf-8-sig": "cp1252", "cp1252": "latin-1"}
_EXCEL_HINT = "; if it is an Excel workbook, save it as CSV"
_MAGIC = {
    b"\x89PNG": "looks binary (a PNG image)",
    b"GIF8": "looks binary (a GIF image)",
    b"\xff\xd8\xff": "looks binary (a JPEG image)",
    b"%PDF": "looks binary (a PDF document)",
    b"PK\x03\x04": "looks binary (a ZIP archive)" + _EXCEL_HINT,
    b"\xd0\xcf\x11\xe0": "looks binary (an Office document)" + _EXCEL_HINT,
    b"SQLite format 3\x00": "looks binary (an SQLite database)",
    b"\x28\xb5\x2f\xfd": "is zstd-compressed; only gzip compression is supported",
    b"\xfd7zXZ\x00": "is xz-compressed; only gzip compression is supported",
}
_CONVERSION = re.compile(
    r"In CSV column #(\d+): CSV conversion error to [^:]+: invalid value '(.*)'"
)


def fail(path: Path, message: str) -> DatasetInputError:
    """The one error shape users see: '<file as given>: <what is wrong>'."""
    return DatasetInputError(f"{path}: {message}")


def first_line(exc: BaseException, limit: int = 200) -> str:
    """Library errors can span lines or quote whole rows; keep one short line."""
    lines = str(exc).strip().splitlines()
    line = lines[0].strip() if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def read_head(path: Path, compression: str | None, size: int = SAMPLE_BYTES) -> tuple[bytes, bool]:
    """The first `size` decompressed bytes, and whether they are the whole file."""
    try:
        opener = gzip.open if compression == "gzip" else open
        with opener(path, "rb") as f:
            data = f.read(size + 1)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise fail(path, f"is a damaged gzip file ({first_line(exc)})") from exc
    except OSError as exc:
        raise fail(path, f"cannot be read ({first_line(exc)})") from exc
    return data[:size], len(data) <= size


def detect_encoding(raw: bytes, complete: bool) -> str:
    """UTF-8 (BOM or not), UTF-16 with a BOM, else cp1252, else latin-1 (decodes anything)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=complete)
        return "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def check_not_binary(path: Path, raw: bytes, encoding: str) -> None:
    """Refuse images, archives and other binaries before a parser produces nonsense."""
    for magic, message in _MAGIC.items():
        if raw.startswith(magic):
            raise fail(path, message)
    if raw.startswith(b"BZh") and raw[4:10] == b"1AY&SY":
        raise fail(path, "is bzip2-compressed; only gzip compression is supported")
    if encoding == "utf-16":
        return
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise fail(path, f"looks binary (NUL byte at offset {nul}), not CSV or JSON Lines text")
    head = raw[:8192]
    controls = sum(1 for b in head if b < 32 and b not in b"\t\n\r\x0b\x0c\x1a\x1b")
    if head and controls > len(head) // 20:
        raise fail(path, "looks binary (many control characters), not CSV or JSON Lines text")


def decode_sample(raw: bytes, encoding: str, complete: bool) -> str:
    """Sample text ending at a line break, so a cut-off last line does not skew detection."""
    text = codecs.getincrementaldecoder(py_encoding(encoding))("replace").decode(raw, complete)
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


def sniff_csv(text: str, preferred: str) -> dict[str, Any]:
    """Pick the delimiter giving a multi-column header and the most consistent row widths."""
    best, best_score = preferred, (False, 0.0, 0)
    for delimiter in (preferred, *(d for d in DELIMITERS if d != preferred)):
        try:
            reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
            rows = [row for row in islice(reader, 1000) if row]
        except csv.Error:
            continue
        if not rows:
            continue
        width, data = len(rows[0]), rows[1:]
        consistent = sum(len(r) == width for r in data) / len(data) if data else 1.0
        score = (width > 1, consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    options: dict[str, Any] = {"delimiter": best, "quotechar": '"'}
    if best != ",":
        rows = islice(csv.reader(io.StringIO(text), delimiter=best), 1000)
        cells = [c.strip() for row in rows for c in row]
        commas = sum(bool(re.fullmatch(r"-?\d+,\d+", c)) for c in cells)
        dots = sum(bool(re.fullmatch(r"-?\d*\.\d+", c)) for c in cells)
        if commas and not dots:
            options["decimal"] = ","  # European exports: "1,5;2,25"
    return options


def clean_names(path: Path, names: list[str]) -> list[str]:
    """Reject duplicate column names; name empty ones `column_<position>` (1-based)."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if name.strip() and name in seen:
            raise fail(path, duplicate_message(name, seen[name], position))
        seen[name] = position
    cleaned = []
    for position, name in enumerate(names, 1):
        if not name.strip():
            name = f"column_{position}"
            while name in seen:
                name += "_"
            seen[name] = position
        cleaned.append(name)
    return cleaned


def duplicate_message(name: str, first: int, second: int) -> str:
    return f"duplicate column name {name!r} (columns {first} and {second})"


def target_schema(names: list[str], types: list[pa.DataType]) -> pa.Schema:
    """Clean names; all-empty (null-typed) columns become strings, which every reader takes."""
    import pyarrow as pa

    pairs = zip(names, types, strict=True)
    fields = [(n, pa.string() if pa.types.is_null(t) else t) for n, t in pairs]
    return pa.schema(fields)


class _Retry(Exception):
    """Internal: restart the streaming read with adjusted options."""


def convert_csv(
    path: Path, tmp: Path, options: dict[str, Any]
) -> tuple[dict[str, Any], int, list[str]]:
    """Stream CSV into Parquet; on a late type or encoding surprise, widen and start over."""
    options = dict(options)
    column_types: dict[str, pa.DataType] = {}
    for _ in range(200):
        try:
            rows, columns = _stream_csv(path, tmp, options, column_types)
            return options, rows, columns
        except _Retry:
            continue
    raise fail(path, "column types kept changing while reading; cannot settle on a schema")


def _stream_csv(
    path: Path, tmp: Path, options: dict[str, Any], column_types: dict[str, pa.DataType]
) -> tuple[int, list[str]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    encoding = options.get("encoding", "utf-8")
    read = pacsv.ReadOptions(
        block_size=BLOCK_BYTES, encoding="utf8" if encoding in UTF8 else py_encoding(encoding)
    )
    parse = pacsv.ParseOptions(
        delimiter=options.get("delimiter", ","),
        quote_char=options.get("quotechar") or False,
        newlines_in_values=True,
    )
    convert = pacsv.ConvertOptions(
        strings_can_be_null=True,
        column_types=column_types,
        decimal_point=options.get("decimal", "."),
    )
    header: pa.Schema | None = None
    writer = None
    try:
        with pa.input_stream(str(path), compression=options.get("compression")) as stream:
            reader = pacsv.open_csv(
                stream, read_options=read, parse_options=parse, convert_options=convert
            )
            header = reader.schema
            names = clean_names(path, header.names)
            types = header.types
            if encoding in UTF8 and any(pa.types.is_binary(t) for t in types):
                options["encoding"] = _FALLBACK[encoding]  # invalid UTF-8 after the sample
                raise _Retry
            target = target_schema(names, types)
            writer = pq.ParquetWriter(str(tmp), target, compression="zstd")
            rows = _write_batches(reader, writer, names, target)
    except pa.ArrowInvalid as exc:
        raise _csv_problem(path, exc, options, header, column_types) from exc
    except UnicodeDecodeError as exc:
        if encoding not in _FALLBACK:
            raise fail(path, f"cannot be decoded as {encoding} ({first_line(exc)})") from exc
        options["encoding"] = _FALLBACK[encoding]
        raise _Retry from exc
    except OSError as exc:
        raise io_problem(path, exc) from exc
    finally:
        if writer is not None:
            writer.close()
    if rows == 0:
        raise fail(path, "has a header but no data rows")
    return rows, names


def _write_batches(reader: Any, writer: Any, names: list[str], target: pa.Schema) -> int:
    """Write in row groups of ROW_GROUP_ROWS whatever the reader's batch sizes are."""
    import pyarrow as pa

    rows, pending = 0, None
    for batch in reader:
        table = pa.Table.from_batches([batch]).rename_columns(names).cast(target)
        pending = table if pending is None else pa.concat_tables([pending, table])
        rows += batch.num_rows
        full = pending.num_rows // ROW_GROUP_ROWS * ROW_GROUP_ROWS
        if full:
            writer.write_table(pending.slice(0, full), row_group_size=ROW_GROUP_ROWS)
            pending = pending.slice(full)
    if pending is not None and pending.num_rows:
        writer.write_table(pending, row_group_size=ROW_GROUP_ROWS)
    return rows


def io_problem(path: Path, exc: OSError) -> DatasetInputError:
    """Read failures: a damaged gzip stream is the usual one."""
    if re.search(r"compress|zlib|gzip|inflate", str(exc), re.IGNORECASE):
        return fail(path, f"is a damaged gzip file ({first_line(exc)})")
    return fail(path, f"cannot be read ({first_line(exc)})")


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
        options["encoding"] = _FALLBACK[encoding]
        return _Retry()
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


def open_text(path: Path, options: dict[str, Any]) -> TextIO:
    """The file as text for the slow, exact scans on the error path."""
    encoding = py_encoding(options.get("encoding", "utf-8"))
    if options.get("compression") == "gzip":
        return gzip.open(path, "rt", encoding=encoding, errors="replace", newline="")
    return path.open(encoding=encoding, errors="replace", newline="")


def find_bad_row(path: Path, options: dict[str, Any]) -> str | None:
    """Physical 1-based line of the first record whose width differs from the header's."""
    with open_text(path, options) as f:
        reader = csv.reader(
            f, delimiter=options.get("delimiter", ","), quotechar=options.get("quotechar") or '"'
        )
        width, start = None, 1
        try:
            for row in reader:
                if row and width is None:
                    width = len(row)
                elif row and len(row) != width:
                    spans_to_end = reader.line_num > start and next(reader, None) is None
                    if spans_to_end and len(row) < width:
                        return f"line {start} opens a quoted field that is never closed"
                    fields = "1 field" if len(row) == 1 else f"{len(row)} fields"
                    return f"line {start} has {fields}, expected {width}"
                start = reader.line_num + 1
        except csv.Error as exc:
            hint = " (unclosed quote?)" if "field larger" in str(exc) else ""
            return f"line {start}: {first_line(exc)}{hint}"
    return None


def py_encoding(encoding: str) -> str:
    """Python codec for a recorded encoding; UTF-8 always drops a BOM."""
    return "utf-8-sig" if encoding in UTF8 else encoding
