"""Text detection (compression, encoding, binary junk, CSV dialect) for `pipelines.datasets.ingest`,
and the scans behind errors that name the physical line (the conversion itself is in
`pipelines.datasets.ingest_csv`).

pyarrow is imported inside functions so importing this module stays cheap.
"""

from __future__ import annotations

import codecs
import csv
import errno
import gzip
import io
import re
import zlib
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipelines.datasets.ingest_scan import (
    cp1252_conflict,
    first_long_line,
    utf8_conflict,
)
from storage.errors import DatasetInputError

if TYPE_CHECKING:
    import pyarrow as pa

SAMPLE_BYTES = 1 << 20  # detection sample (decompressed)
BLOCK_BYTES = 16 << 20  # pyarrow block; types are inferred from the first one
ROW_GROUP_ROWS = 128 * 1024
MAX_COLUMNS = 10_000  # 785 (MNIST) add in ~4 s, 10,000 in about a minute
DELIMITERS = (",", ";", "\t", "|")
UTF8 = ("utf-8", "utf-8-sig")
_FALLBACK = {"utf-8": "cp1252", "utf-8-sig": "cp1252", "cp1252": "latin-1"}
_FULL_DISK = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}
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
_CONVERSION = re.compile(  # DOTALL: a quoted value may span lines
    r"In CSV column #(\d+): CSV conversion error to [^:]+: invalid value '(.*)'", re.DOTALL
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


def next_encoding(path: Path, options: dict[str, Any]) -> str:
    """The encoding to retry with when bytes do not fit the current one, but only if the
    retry garbles nothing already read: a UTF-8 file with one stray byte, or a Windows-1252
    file with an undefined one, is refused naming the line instead of silently re-decoded."""
    encoding = options.get("encoding", "utf-8")
    if encoding not in _FALLBACK:
        raise fail(path, f"cannot be decoded as {encoding}")
    compression = options.get("compression")
    try:
        problem = utf8_conflict(path, compression)
        if problem is None and _FALLBACK[encoding] == "latin-1":
            problem = cp1252_conflict(path, compression)
    except (OSError, EOFError, zlib.error) as exc:
        raise fail(path, f"cannot be read ({first_line(exc)})") from exc
    if problem is not None:
        raise fail(path, problem)
    return _FALLBACK[encoding]


def checked_encoding(path: Path, options: dict[str, Any], detected: str) -> str:
    """`detected` on the sample, confirmed on the whole file when the sample ruled UTF-8 (or
    Windows-1252) out: the stray byte may sit in a file that is otherwise UTF-8."""
    ruled_out = {"cp1252": "utf-8", "latin-1": "cp1252"}.get(detected)
    if ruled_out is not None:
        next_encoding(path, {**options, "encoding": ruled_out})
    return detected


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
        rows = _sample_rows(text, delimiter)
        if not rows:
            continue
        width, data = len(rows[0]), rows[1:]
        consistent = sum(len(r) == width for r in data) / len(data) if data else 1.0
        score = (width > 1, consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    options: dict[str, Any] = {"delimiter": best, "quotechar": '"'}
    if best != ",":
        sample = islice(csv.reader(io.StringIO(text), delimiter=best), 1000)
        cells = [c.strip() for row in sample for c in row]
        commas = sum(bool(re.fullmatch(r"-?\d+,\d+", c)) for c in cells)
        dots = sum(bool(re.fullmatch(r"-?\d*\.\d+", c)) for c in cells)
        if commas and not dots:
            options["decimal"] = ","  # European exports: "1,5;2,25"
    return options


def _sample_rows(text: str, delimiter: str) -> list[list[str]]:
    """Up to 1,000 rows of the sample; a parse error (a quote that never closes) ends the
    list, so the rows before it still vote instead of the delimiter being dropped."""
    _raise_field_limit()
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    rows: list[list[str]] = []
    try:
        for row in islice(reader, 1000):
            if row:
                rows.append(row)
    except csv.Error:
        pass
    return rows


def _raise_field_limit() -> None:
    """Python's csv refuses fields over 128 KiB; pyarrow reads up to a whole block."""
    if csv.field_size_limit() < BLOCK_BYTES:
        csv.field_size_limit(BLOCK_BYTES)


def check_width(path: Path, count: int) -> None:
    """Profiling and validation work per column (about 5 ms each): refuse, in one line, a
    table so wide that adding it would take minutes."""
    if count > MAX_COLUMNS:
        raise fail(
            path,
            f"has {count:,} columns; Workbench takes at most {MAX_COLUMNS:,} "
            "(keep the columns a model should see, then add that file)",
        )


def clean_names(path: Path, names: list[str]) -> list[str]:
    """Reject duplicate column names; name empty ones `column_<position>` (1-based)."""
    check_width(path, len(names))
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


def io_problem(path: Path, exc: OSError, writing: Path | None = None) -> DatasetInputError:
    """Read failures (a damaged gzip stream is the usual one), and a full disk while
    `writing` the Parquet copy, which is no fault of the file."""
    full = write_problem(exc)
    if full is not None and writing is not None:
        return fail(path, f"{full} while writing {writing.parent}")
    if re.search(r"compress|zlib|gzip|inflate", str(exc), re.IGNORECASE):
        return fail(path, f"is a damaged gzip file ({first_line(exc)})")
    return fail(path, f"cannot be read ({first_line(exc)})")


def write_problem(exc: BaseException) -> str | None:
    """'no space left on device' (or quota) when that is what stopped a write."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL_DISK:
            return _FULL_DISK[seen.errno]
        seen = seen.__cause__ or seen.__context__
    return None


def too_long(path: Path, options: dict[str, Any]) -> str | None:
    """A row too long for the reader (it takes a row across two blocks at most): which line,
    how long, and what is always read."""
    compression = options.get("compression")
    try:
        found = first_long_line(path, compression, 2 * BLOCK_BYTES) or first_long_line(
            path, compression, BLOCK_BYTES
        )
    except (OSError, EOFError, zlib.error):
        return None
    if found is None:
        return None
    line, length = found
    return (
        f"line {line} is {length / (1 << 20):,.0f} MiB long; Workbench reads rows of up to "
        f"{BLOCK_BYTES >> 20} MiB"
    )


def open_text(path: Path, options: dict[str, Any]) -> TextIO:
    """The file as text for the slow, exact scans on the error path."""
    encoding = py_encoding(options.get("encoding", "utf-8"))
    if options.get("compression") == "gzip":
        return gzip.open(path, "rt", encoding=encoding, errors="replace", newline="")
    return path.open(encoding=encoding, errors="replace", newline="")


def find_bad_row(path: Path, options: dict[str, Any]) -> str | None:
    """Physical 1-based line of the first record whose width differs from the header's."""
    _raise_field_limit()
    with open_text(path, options) as f:
        reader = csv.reader(
            f, delimiter=options.get("delimiter", ","), quotechar=options.get("quotechar") or '"'
        )
        width, start = None, 1
        try:
            for row in reader:
                if row and width is None:
                    width = len(row)
                elif row and width is not None and len(row) != width:
                    spans_to_end = reader.line_num > start and next(reader, None) is None
                    if spans_to_end and len(row) < width:
                        return f"line {start} opens a quoted field that is never closed"
                    fields = "1 field" if len(row) == 1 else f"{len(row)} fields"
                    return f"line {start} has {fields}, expected {width}"
                start = reader.line_num + 1
        except csv.Error as exc:
            if "field larger" in str(exc):
                limit = f"{BLOCK_BYTES >> 20} MiB"
                return f"line {start} opens a quoted field longer than {limit} (unclosed quote?)"
            return f"line {start}: {first_line(exc)}"
    return None


def py_encoding(encoding: str) -> str:
    """Python codec for a recorded encoding; UTF-8 always drops a BOM."""
    return "utf-8-sig" if encoding in UTF8 else encoding
