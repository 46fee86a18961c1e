"""Bad input files, each paired with a phrase its one-line error must contain."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def png_bytes() -> bytes:
    """A real 1×1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


def truncated_parquet(path: Path) -> None:
    table = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
    pq.write_table(table, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_FILES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    # id: (file name, writer, phrase in the error)
    "missing": ("missing.csv", lambda p: None, "no such file"),
    "directory": ("folder.csv", lambda p: p.mkdir(), "directory"),
    "empty": ("empty.csv", lambda p: p.write_bytes(b""), "empty"),
    "header-only": ("header.csv", lambda p: p.write_text("a,b,c\n"), "no data rows"),
    "ragged": ("ragged.csv", lambda p: p.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n"), "line 4"),
    "nul-bytes": ("nul.csv", lambda p: p.write_bytes(b"a,b\n1,\x002\n3,4\n"), "binary"),
    "png-renamed": ("image.csv", lambda p: p.write_bytes(png_bytes()), "binary"),
    "duplicate-columns": ("dupes.csv", lambda p: p.write_text("a,b,a\n1,2,3\n"), "duplicate"),
    "truncated-parquet": ("broken.parquet", truncated_parquet, "Parquet"),
    "broken-jsonl": (
        "broken.jsonl",
        lambda p: p.write_text('{"a": 1}\n{"a": 2}\n{"a": 3\n{"a": 4}\n'),
        "line 3",
    ),
    # what is really wrong, not "empty" or "no such file"
    "fifo": ("pipe.csv", os.mkfifo, "is a named pipe (FIFO), not a regular file"),
    "symlink-loop": ("loop.csv", lambda p: p.symlink_to(p.name), "symbolic link loop"),
    "dangling-symlink": (
        "gone.csv",
        lambda p: p.symlink_to("nowhere.csv"),
        "is a symbolic link to nowhere.csv, which does not exist",
    ),
    # one stray quote or byte must not reinterpret the whole file
    "unclosed-quote": (
        "quote.csv",
        lambda p: p.write_text('a,b\n1,"x\n2,3\n4,5\n'),
        "line 2 opens a quoted field that is never closed",
    ),
    "mixed-encodings": (
        "mixed.csv",
        lambda p: p.write_bytes(b"a,b\n" + "café,1\n".encode() + b"caf\xe9,2\n"),
        "line 3 has a byte that is not UTF-8 (0xe9",
    ),
    "gzip-junk": (
        "junk.csv.gz",
        lambda p: p.write_bytes(gzip.compress(b"\x00\x01\x02" * 50)),
        "binary",
    ),
}
