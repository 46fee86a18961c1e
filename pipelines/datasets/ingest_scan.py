"""Whole-file scans for `ingest_text`, run only when the fast read hit a surprise:
a byte that does not fit the detected encoding, a row longer than a reader block, a quoted
field that may never close. Each answers with the physical line, so the one-line error can
name it instead of guessing another way to read the file.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK_BYTES = 4 << 20
# A well-formed multi-byte UTF-8 sequence (RFC 3629): what UTF-8 text has and a legacy
# 8-bit file almost never does.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# Windows-1252 leaves five bytes undefined; the other 0x80-0x9f bytes are €, ‚, „, curly
# quotes, dashes... which Latin-1 would turn into invisible control characters.
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_CP1252_SPECIFIC = re.compile(rb"[\x80\x82-\x8c\x8e\x91-\x9c\x9e\x9f]")


_UTF8_CANDIDATE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")  # cheap first filter, C speed


def _utf8_sequence_at(data: bytes) -> int | None:
    """Where the first well-formed multi-byte UTF-8 sequence starts, if any."""
    for candidate in _UTF8_CANDIDATE.finditer(data):
        if _UTF8_SEQUENCE.match(data, candidate.start()):
            return candidate.start()
    return None


def chunks(path: Path, compression: str | None, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's (decompressed) bytes in pieces."""
    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rb") as f:
        while piece := f.read(size):
            yield piece


def _where(compression: str | None, offset: int) -> str:
    return f"byte offset {offset:,}" + (" of the uncompressed data" if compression else "")


def utf8_conflict(path: Path, compression: str | None) -> str | None:
    """For a file that is not valid UTF-8 throughout: a one-line problem when other parts of
    it are UTF-8 text (reading it all as Windows-1252 would garble those, e.g. é -> Ã©), or
    None when it has no UTF-8 text at all and a legacy encoding is the honest reading."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = lines = 0
    bad: tuple[int, int, int] | None = None  # offset, line, byte
    text_line: int | None = None
    tail = b""
    for piece in chunks(path, compression):
        if bad is None:
            held = len(decoder.getstate()[0])  # bytes of a sequence cut at the last chunk
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                at = max(exc.start - held, 0)
                bad = (offset + at, lines + piece.count(b"\n", 0, at) + 1, piece[at])
        if text_line is None:
            found = _utf8_sequence_at(tail + piece)
            if found is not None:
                at = max(found - len(tail), 0)
                text_line = lines + piece.count(b"\n", 0, at) + 1
        if bad is not None and text_line is not None:
            break
        offset += len(piece)
        lines += piece.count(b"\n")
        tail = piece[-3:]
    if bad is None and tail:
        try:
            decoder.decode(b"", True)
        except UnicodeDecodeError:  # the file ends in the middle of a sequence
            bad = (offset - len(decoder.getstate()[0]), lines + 1, tail[-1])
    if bad is None or text_line is None:
        return None
    where, line, byte = bad
    return (
        f"line {line} has a byte that is not UTF-8 (0x{byte:02x} at {_where(compression, where)})"
        f", but line {text_line} is UTF-8 text: the file mixes encodings; fix that line or "
        "save the whole file as UTF-8"
    )


def first_non_utf8(path: Path, compression: str | None) -> str | None:
    """Where the first byte that is not UTF-8 lies, as a one-line problem (None: valid)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = lines = 0
    for piece in chunks(path, compression):
        held = len(decoder.getstate()[0])
        try:
            decoder.decode(piece)
        except UnicodeDecodeError as exc:
            at = max(exc.start - held, 0)
            line = lines + piece.count(b"\n", 0, at) + 1
            where = _where(compression, offset + at)
            return f"line {line} has a byte that is not UTF-8 (0x{piece[at]:02x} at {where})"
        offset += len(piece)
        lines += piece.count(b"\n")
    try:
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return f"line {lines + 1} ends in the middle of a UTF-8 character (the file is cut)"
    return None


def cp1252_conflict(path: Path, compression: str | None) -> str | None:
    """For a file Windows-1252 cannot decode: a one-line problem when it also uses
    characters only Windows-1252 has (Latin-1 would turn € or ’ into control characters),
    or None when Latin-1 reads everything Windows-1252 would have read the same way."""
    offset = lines = 0
    bad: tuple[int, int, int] | None = None
    specific: int | None = None
    for piece in chunks(path, compression):
        if bad is None and (found := _CP1252_UNDEFINED.search(piece)) is not None:
            at = found.start()
            bad = (offset + at, lines + piece.count(b"\n", 0, at) + 1, piece[at])
        if specific is None and (found := _CP1252_SPECIFIC.search(piece)) is not None:
            specific = lines + piece.count(b"\n", 0, found.start()) + 1
        if bad is not None and specific is not None:
            break
        offset += len(piece)
        lines += piece.count(b"\n")
    if bad is None or specific is None:
        return None
    where, line, byte = bad
    return (
        f"line {line} has byte 0x{byte:02x} ({_where(compression, where)}), which Windows-1252 "
        f"does not define, but line {specific} uses Windows-1252 characters (such as € or ’): "
        "the file mixes encodings; save it as UTF-8"
    )


def first_long_line(path: Path, compression: str | None, limit: int) -> tuple[int, int] | None:
    """Physical 1-based number and byte length of the first line longer than `limit` bytes."""
    line = length = 0
    for piece in chunks(path, compression):
        start = 0
        while (end := piece.find(b"\n", start)) >= 0:
            length += end - start
            if length > limit:
                return line + 1, length
            line, length, start = line + 1, 0, end + 1
        length += len(piece) - start
    return (line + 1, length) if length > limit else None


def unclosed_quote_line(
    path: Path, options: dict[str, Any], last_value: str, text_encoding: str
) -> int | None:
    """When the file's last record ends inside a quoted field (the reader then takes
    everything after the quote as one value), the line where that quote opens; else None.

    Called only when the last value spans lines: the file then ends with the opening quote
    followed by the value exactly (doubled quotes inside), with no closing quote after it.
    """
    quote = options.get("quotechar") or ""
    if not quote:
        return None
    expected = quote + last_value.replace(quote, quote * 2)
    compression = options.get("compression")
    keep = 4 * len(expected) + 16
    newlines, tail = 0, b""
    if text_encoding.startswith("utf-16"):
        return None  # rare enough; the bytes below do not split into UTF-16 characters
    for piece in chunks(path, compression):
        newlines += piece.count(b"\n")
        tail = (tail + piece)[-keep:]
    text = tail.decode(text_encoding, errors="replace")
    if not text.endswith(expected):
        return None
    return newlines - last_value.count("\n") + 1
