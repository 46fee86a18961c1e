"""Turn a user's data file (CSV, TSV, JSON Lines, Parquet) into one normalized Parquet file.

Detection (format, compression, encoding, delimiter) is done here on a sample, the bulk read
is pyarrow's streaming reader, and every failure is a one-line `DatasetInputError` that names
the file and, where it applies, the line. Heavy libraries are imported inside functions so
importing this module costs nothing at start-up.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.datasets.ingest_csv import convert_csv
from pipelines.datasets.ingest_scan import first_non_utf8
from pipelines.datasets.ingest_text import (
    BLOCK_BYTES,
    ROW_GROUP_ROWS,
    UTF8,
    check_not_binary,
    check_width,
    checked_encoding,
    clean_names,
    decode_sample,
    detect_encoding,
    duplicate_message,
    fail,
    first_line,
    io_problem,
    open_text,
    py_encoding,
    read_head,
    sniff_csv,
    target_schema,
    too_long,
    write_problem,
)
from pipelines.datasets.profile_finish import finish_profile
from storage.errors import DatasetInputError
from storage.records import ColumnSchema, DatasetProfile
from storage.scratch import owner_tag

__all__ = ["IngestResult", "check_file", "convert_to_parquet", "detect_format"]

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class IngestResult:
    """What was read and how, so the same file can be re-read identically later."""

    file_format: str  # "csv" | "tsv" | "parquet" | "jsonl"
    read_options: dict[str, Any]  # JSON-serialisable detection results; {} for Parquet
    row_count: int
    columns: list[str]
    profile: tuple[list[ColumnSchema], DatasetProfile] | None = None  # streamed (CSV/TSV)


def detect_format(path: Path) -> str:
    """By extension (.csv, .tsv, .tab, .txt, .parquet/.pq, .jsonl/.ndjson, optional .gz for
    text), falling back to content sniffing; Parquet magic wins over a misleading name."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1] if suffixes else "")
    if _peek(path, 4) == _PARQUET_MAGIC:
        return "parquet"
    if fmt is not None and not (gzipped and fmt == "parquet"):
        return fmt
    check_file(path)
    head = _peek(path, 2)
    raw, _ = read_head(path, "gzip" if head == _GZIP_MAGIC else None, 64 * 1024)
    text = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        return "jsonl"
    first = text.split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > max(first.count(b","), first.count(b";")) else "csv"


def convert_to_parquet(
    path: Path, out_path: Path, read_options: dict[str, Any] | None = None
) -> IngestResult:
    """Read `path` (detecting everything unless `read_options` from an earlier detection is
    given) and write Parquet at `out_path` atomically: a temp file in the same folder, then
    os.replace. On any failure raise DatasetInputError and leave no out_path or temp file."""
    path, out_path = Path(path), Path(out_path)
    tmp: Path | None = None
    done = False
    try:
        check_file(path)
        fmt = detect_format(path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_path(out_path)
        if fmt == "parquet":
            result = _copy_parquet(path, tmp)
        else:
            result = _convert_text(path, tmp, fmt, read_options or None)
        os.replace(tmp, out_path)
        done = True
        return result
    except DatasetInputError:
        raise
    except Exception as exc:  # anything unforeseen still reaches the user as one line
        full = write_problem(exc)
        if full is not None:
            raise fail(path, f"{full} while writing {out_path.parent}") from exc
        raise fail(path, f"cannot be converted ({first_line(exc)})") from exc
    finally:
        if not done:
            for leftover in (tmp, out_path):
                if leftover is not None:
                    with contextlib.suppress(OSError):
                        leftover.unlink(missing_ok=True)


_NOT_REGULAR = {
    stat.S_IFIFO: "is a named pipe (FIFO), not a regular file; save what it carries to a file",
    stat.S_IFSOCK: "is a socket, not a regular file",
    stat.S_IFCHR: "is a character device, not a regular file",
    stat.S_IFBLK: "is a block device, not a regular file",
}


def check_file(path: Path) -> os.stat_result:
    """Missing, a symbolic link loop or to nothing, a directory, a pipe or device, or 0 bytes:
    say which before anything else (a pipe would block the reader, not read as empty)."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        if path.is_symlink():
            target = os.readlink(path)
            raise fail(path, f"is a symbolic link to {target}, which does not exist") from exc
        raise fail(path, "no such file") from exc
    except PermissionError as exc:
        raise fail(path, "permission denied") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise fail(path, "is a symbolic link loop (it leads back to itself)") from exc
        raise fail(path, f"cannot be read ({first_line(exc)})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise fail(path, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise fail(path, _NOT_REGULAR.get(stat.S_IFMT(info.st_mode), "is not a regular file"))
    if info.st_size == 0:
        raise fail(path, "is empty (0 bytes)")
    return info


def _peek(path: Path, size: int) -> bytes:
    """The first bytes of the file, or b'' when it cannot be opened (reported elsewhere)."""
    try:
        with path.open("rb") as f:
            return f.read(size)
    except OSError:
        return b""


def _temp_path(out_path: Path) -> Path:
    """A hidden temp name beside out_path, so the final os.replace is atomic; the writer
    creates it with the usual permissions (mkstemp's 0600 would stick to the result). The
    name carries this process, so a later command removes it only once this one is gone."""
    return out_path.with_name(f".{out_path.name}.{owner_tag()}-{os.urandom(6).hex()}.tmp")


def _copy_parquet(path: Path, tmp: Path) -> IngestResult:
    """Validate the footer and schema only, then copy bytes: never loads the data."""
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(str(path)) as parquet:
            names = parquet.schema_arrow.names
            rows = parquet.metadata.num_rows
    except Exception as exc:
        raise fail(path, f"not a valid Parquet file ({first_line(exc)})") from exc
    if not names:
        raise fail(path, "has no columns")
    check_width(path, len(names))
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if not name.strip():
            raise fail(path, f"column {position} has an empty name")
        if name in seen:
            raise fail(path, duplicate_message(name, seen[name], position))
        seen[name] = position
    if rows == 0:
        raise fail(path, "has no rows")
    try:
        shutil.copyfile(path, tmp)
    except OSError as exc:
        raise io_problem(path, exc, tmp) from exc
    return IngestResult("parquet", {}, rows, list(names))


def _convert_text(path: Path, tmp: Path, fmt: str, given: dict[str, Any] | None) -> IngestResult:
    """Detect on a sample (unless `given`), refuse binaries, then stream-convert."""
    if given is not None:
        fmt = "csv" if "delimiter" in given else "jsonl"
        compression = given.get("compression")
    else:
        compression = "gzip" if _peek(path, 2) == _GZIP_MAGIC else None
    raw, complete = read_head(path, compression)
    encoding = given.get("encoding", "utf-8") if given else detect_encoding(raw, complete)
    check_not_binary(path, raw, encoding)
    if not given:  # the sample ruled UTF-8 out: make sure the rest of the file agrees
        encoding = checked_encoding(path, {"compression": compression}, encoding)
    text = decode_sample(raw, encoding, complete)
    if not text.strip():
        raise fail(path, "has only blank lines (no header, no data)")
    if fmt == "jsonl":
        options = {"compression": compression, "encoding": encoding}
        rows, columns = _convert_jsonl(path, tmp, options)
        return IngestResult("jsonl", options, rows, columns)
    if given is not None:
        options = dict(given)
    else:
        preferred = "\t" if fmt == "tsv" else ","
        options = {"compression": compression, "encoding": encoding, **sniff_csv(text, preferred)}
    options, rows, columns, streamed = convert_csv(path, tmp, options)
    profile = finish_profile(streamed, tmp)
    kind = "tsv" if options["delimiter"] == "\t" else "csv"
    return IngestResult(kind, options, rows, columns, profile)


def _convert_jsonl(path: Path, tmp: Path, options: dict[str, Any]) -> tuple[int, list[str]]:
    """JSON Lines via pyarrow (fast, in memory); if a field's type differs between lines,
    DuckDB, which turns such fields into text."""
    import pyarrow as pa
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    encoding = options.get("encoding", "utf-8")
    try:
        with pa.input_stream(str(path), compression=options.get("compression")) as raw:
            if encoding == "utf-8-sig":
                raw.read(3)
            stream = (
                raw
                if encoding in UTF8
                else pa.transcoding_input_stream(raw, py_encoding(encoding), "utf-8")
            )
            read = pajson.ReadOptions(block_size=BLOCK_BYTES)
            table = pajson.read_json(stream, read_options=read)
    except OSError as exc:
        raise io_problem(path, exc) from exc
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        problem = too_long(path, options) if "straddling" in str(exc) else None
        problem = problem or _find_bad_json_line(path, options)
        if problem:
            raise fail(path, problem) from exc
        if "changed from" not in str(exc):
            raise fail(path, f"cannot be read as JSON Lines ({first_line(exc)})") from exc
        _jsonl_with_duckdb(path, tmp, options)
        with pq.ParquetFile(str(tmp)) as written:
            return written.metadata.num_rows, written.schema_arrow.names
    if encoding in UTF8:  # pyarrow passes invalid UTF-8 into strings: say where it is
        try:
            table.validate(full=True)
        except pa.ArrowInvalid as exc:
            problem = first_non_utf8(path, options.get("compression"))
            if problem:
                raise fail(path, f"{problem}; JSON Lines must be UTF-8 throughout") from exc
            raise fail(path, f"cannot be read as JSON Lines ({first_line(exc)})") from exc
    if table.num_rows == 0:
        raise fail(path, "has no JSON objects")
    if table.num_columns == 0:
        raise fail(path, "has objects but no fields in any of them")
    names = clean_names(path, table.column_names)
    table = table.rename_columns(names).cast(target_schema(names, table.schema.types))
    pq.write_table(table, str(tmp), compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return table.num_rows, names


def _jsonl_with_duckdb(path: Path, tmp: Path, options: dict[str, Any]) -> None:
    """Scan every line for types; a column mixing kinds becomes text ("1", "x")."""
    import duckdb

    compression = "gzip" if options.get("compression") == "gzip" else "none"
    plain, source_path = tmp.with_name(tmp.name + ".utf8"), path
    if options.get("encoding", "utf-8") != "utf-8":  # DuckDB reads only UTF-8 without a BOM
        with open_text(path, options) as src, plain.open("w", encoding="utf-8") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        compression, source_path = "none", plain
    source, target = (str(p).replace("'", "''") for p in (source_path, tmp))
    scan = (
        f"read_json('{source}', format = 'newline_delimited', records = 'true', "
        f"sample_size = -1, compression = '{compression}')"
    )
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = '{tempfile.gettempdir()}'")
        columns = []
        for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall():
            quoted = '"' + name.replace('"', '""') + '"'
            if kind in ("JSON", '"NULL"', "NULL"):
                columns.append(f"{quoted} ->> '$' AS {quoted}")
            else:
                columns.append(quoted)
        con.execute(
            f"COPY (SELECT {', '.join(columns)} FROM {scan}) TO '{target}' "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"
        )
    except duckdb.Error as exc:
        raise fail(path, f"cannot be read as JSON Lines ({first_line(exc)})") from exc
    finally:
        con.close()
        plain.unlink(missing_ok=True)


class _DuplicateKey(Exception):
    """Internal: an object repeats a key (pyarrow refuses these)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _find_bad_json_line(path: Path, options: dict[str, Any]) -> str | None:
    """Physical 1-based line of the first line that is not a JSON object."""
    kinds = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    seen_object = False
    with open_text(path, options) as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            if not seen_object and text.startswith("["):
                return f"line {number} starts a JSON array; JSON Lines needs one object per line"
            try:
                value = json.loads(text, object_pairs_hook=_no_duplicates)
            except _DuplicateKey as exc:
                return f"line {number} has duplicate key {exc.args[0]!r}"
            except json.JSONDecodeError as exc:
                column = exc.colno + len(line) - len(line.lstrip())
                return f"line {number} is not valid JSON: {exc.msg} (column {column})"
            if not isinstance(value, dict):
                return f"line {number} is {kinds.get(type(value), 'a value')}, not a JSON object"
            seen_object = True
    return None
