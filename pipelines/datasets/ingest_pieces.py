"""CSV parsed in pieces cut at record boundaries, so pyarrow's multi-threaded reader can
parse each piece on every core with bounded memory.

Why: a quote-aware streaming read parses on one thread (1.8 s per 300 MB), because only a
serial scan can tell a line break inside quotes from one between records. Here a numpy scan
of each piece's quotes finds the last line break outside quotes, and whether any line
break inside the piece is quoted; only such pieces are parsed quote-aware. The scan trusts
quote parity only where every quote sits beside a delimiter, a line break or another quote
(RFC 4180 quoting); a piece with a quote inside a bare field (`5" screen`), or without a
record boundary within four blocks, hands the rest of the file, from the last boundary
found, to pyarrow's streaming reader, which needs no such trust. So does a parse error, so
the error the user sees is the streaming reader's, found as it always was.

The first piece is parsed as one block, so types are inferred from the same rows as the
streaming reader's first block; later pieces are given those types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

MAX_BLOCKS_PER_PIECE = 4


@dataclass(frozen=True)
class Cut:
    """Where a piece ends (just past a line break outside quotes; 0: no such break yet) and
    whether a line break before that is quoted."""

    end: int
    quoted_breaks: bool


def find_cut(data: bytes, quote: str | None, delimiter: str) -> Cut | None:
    """The last record boundary in `data` (which starts at one), or None when the quoting
    cannot be trusted to tell."""
    import numpy as np

    if quote is None:
        return Cut(data.rfind(b"\n") + 1, False)
    chars = np.frombuffer(data, np.uint8)
    quotes = np.flatnonzero(chars == ord(quote))
    if not len(quotes):
        return Cut(data.rfind(b"\n") + 1, False)
    if not _structural(chars, quotes, ord(quote), ord(delimiter)):
        return None
    if not _breaks_within(chars, quotes):
        # no closed quoted field holds a line break: the last one before a field left open
        # at the end (odd quotes) is between records
        limit = int(quotes[-1]) if len(quotes) % 2 else len(data)
        return Cut(data.rfind(b"\n", 0, limit) + 1, False)
    breaks = np.flatnonzero(chars == 10)
    if b"\r" in data:
        breaks = np.union1d(breaks, np.flatnonzero(chars == 13))
    quoted = (np.searchsorted(quotes, breaks) & 1).astype(bool)
    ends = breaks[~quoted & (chars[breaks] == 10)]
    if not len(ends):
        return Cut(0, False)
    end = int(ends[-1]) + 1
    return Cut(end, bool(quoted[breaks < end].any()))


def _structural(chars: Any, quotes: Any, quote: int, delimiter: int) -> bool:
    """Whether every quote has a delimiter, a line break or a quote (or an edge of the
    piece) on at least one side: where one does not, it is a literal inside a bare field
    and quote parity would misread what follows."""
    import numpy as np

    last = len(chars) - 1
    before = chars[np.maximum(quotes - 1, 0)]
    after = chars[np.minimum(quotes + 1, last)]
    marked = (quotes == 0) | (quotes == last)
    for neighbour in (before, after):
        marked |= (neighbour == delimiter) | (neighbour == quote)
        marked |= (neighbour == 10) | (neighbour == 13)
    return bool(marked.all())


def _breaks_within(chars: Any, quotes: Any) -> bool:
    """Whether a closed quoted field (between quotes 2k and 2k+1) holds a line break; on
    many quoted bytes, conservatively yes (the caller then scans every line break)."""
    import numpy as np

    pairs = len(quotes) // 2
    starts, stops = quotes[0 : 2 * pairs : 2] + 1, quotes[1 : 2 * pairs : 2]
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return False
    if total > len(chars) // 8:
        return True
    offsets = np.cumsum(lengths) - lengths
    inside = chars[np.repeat(starts - offsets, lengths) + np.arange(total)]
    return bool(((inside == 10) | (inside == 13)).any())


class PieceReader:
    """Tables parsed piece by piece from `open_stream()`; `schema` is known once the first
    piece is parsed (None: the first piece could not be cut, use the streaming reader)."""

    def __init__(
        self,
        open_stream: Callable[[], pa.NativeFile],
        read: dict[str, Any],
        parse: dict[str, Any],
        convert: dict[str, Any],
        piece_bytes: int,
    ) -> None:
        self._open = open_stream
        self._read, self._parse, self._convert = read, parse, convert
        self._piece_bytes = piece_bytes
        self._stream = open_stream()
        self._offset = 0  # of the first byte not yet parsed, always a record boundary
        self._carry = b""
        self._first: pa.Table | None = None
        self.schema: pa.Schema | None = None
        try:
            piece = self._next_piece()
            if piece is not None:
                self._first = self._parse_piece(*piece, first=True)
                self.schema = self._first.schema
        except BaseException:
            self._stream.close()
            raise

    def close(self) -> None:
        self._stream.close()

    def __iter__(self) -> Iterator[pa.Table]:
        import pyarrow as pa

        assert self._first is not None and self.schema is not None
        yield self._first
        self._first = None
        while True:
            start = self._offset
            piece = self._next_piece()
            if piece is None:
                break
            if not piece[0]:
                return
            try:
                table = self._parse_piece(*piece, first=False)
            except pa.ArrowInvalid as exc:
                if "conversion error" in str(exc):
                    raise  # the streaming reader's words too; the caller widens the type
                self._offset = start
                break
            yield table
        yield from self._stream_rest()

    def _next_piece(self) -> tuple[bytes, bool] | None:
        """The next piece's bytes and whether it has quoted line breaks; b"" at the end;
        None when it cannot be cut (the rest goes to the streaming reader)."""
        data = self._carry
        for _ in range(MAX_BLOCKS_PER_PIECE):
            more = self._stream.read(self._piece_bytes)
            data += more
            if not more:  # the end of the file: the rest is the last piece
                self._carry = b""
                self._offset += len(data)
                return data, self._quoted_anywhere(data)
            cut = find_cut(data, self._quote, self._delimiter)
            if cut is None:
                return None
            if cut.end:
                self._carry = data[cut.end :]
                self._offset += cut.end
                return data[: cut.end], cut.quoted_breaks
        return None

    @property
    def _quote(self) -> str | None:
        return self._parse.get("quote_char") or None

    @property
    def _delimiter(self) -> str:
        return str(self._parse.get("delimiter", ","))

    def _quoted_anywhere(self, data: bytes) -> bool:
        """For the file's last piece, which needs no cut: parse quote-aware unless it
        certainly has no quoted line break."""
        if not data or self._quote is None or self._quote.encode() not in data:
            return False
        cut = find_cut(data + b"\n", self._quote, self._delimiter)
        return cut is None or cut.quoted_breaks or cut.end != len(data) + 1

    def _parse_piece(self, data: bytes, quoted_breaks: bool, *, first: bool) -> pa.Table:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        parse = {**self._parse, "newlines_in_values": quoted_breaks}
        if first:
            read = {**self._read, "block_size": len(data) + 1}
            convert = self._convert
        else:
            assert self.schema is not None
            read = {**self._read, "column_names": self.schema.names, "block_size": 1 << 20}
            convert = {**self._convert, "column_types": self.schema}
        return pacsv.read_csv(pa.py_buffer(data), **_options(read, parse, convert))

    def _stream_rest(self) -> Iterator[pa.Table]:
        """From the last record boundary on, through pyarrow's streaming reader."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        assert self.schema is not None
        self._stream.close()
        self._stream = self._open()
        _skip(self._stream, self._offset)
        read = {**self._read, "column_names": self.schema.names}
        convert = {**self._convert, "column_types": self.schema}
        reader = pacsv.open_csv(self._stream, **_options(read, self._parse, convert))
        for batch in reader:
            yield pa.Table.from_batches([batch])


def _skip(stream: pa.NativeFile, offset: int) -> None:
    if stream.seekable():
        stream.seek(offset)
        return
    while offset > 0:
        offset -= len(stream.read(min(offset, 16 << 20)))


def _options(
    read: dict[str, Any], parse: dict[str, Any], convert: dict[str, Any]
) -> dict[str, Any]:
    """pyarrow's CSV options from plain keyword dicts; quote-aware unless told otherwise."""
    import pyarrow.csv as pacsv

    return {
        "read_options": pacsv.ReadOptions(**read),
        "parse_options": pacsv.ParseOptions(**{"newlines_in_values": True, **parse}),
        "convert_options": pacsv.ConvertOptions(**convert),
    }


@contextmanager
def csv_tables(
    open_stream: Callable[[], pa.NativeFile],
    read: dict[str, Any],
    parse: dict[str, Any],
    convert: dict[str, Any],
    piece_bytes: int,
    *,
    in_pieces: bool,
) -> Iterator[tuple[pa.Schema, Iterator[pa.Table]]]:
    """The file's header and its tables: in pieces where asked for and the first piece can
    be cut, else through the streaming reader (quote-aware) from the start."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if in_pieces:
        pieces = PieceReader(open_stream, read, parse, convert, piece_bytes)
        try:
            if pieces.schema is not None:
                yield pieces.schema, iter(pieces)
                return
        finally:
            pieces.close()
    with open_stream() as stream:
        reader = pacsv.open_csv(stream, **_options(read, parse, convert))
        yield reader.schema, (pa.Table.from_batches([batch]) for batch in reader)
