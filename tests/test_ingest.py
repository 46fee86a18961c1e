"""pipelines.datasets.ingest on real files: detection, Parquet contents, and one-line errors."""

from __future__ import annotations

import bz2
import gzip
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.datasets.ingest import IngestResult, convert_to_parquet, detect_format
from storage.errors import DatasetInputError


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


PARQUET = _parquet_bytes(pa.table({"id": [1, 2, 3], "score": [0.5, 1.5, None]}))
JSONL_BROKEN_7 = (
    "\n".join(f'{{"n": {i}}}' for i in range(1, 7)) + '\n{"n": 7, "oops"}\n{"n": 8}\n'
).encode()


def _convert(tmp_path: Path, name: str, content: bytes) -> tuple[IngestResult, pa.Table]:
    source = tmp_path / "in" / name
    source.parent.mkdir()
    source.write_bytes(content)
    out = tmp_path / "out" / "data.parquet"
    result = convert_to_parquet(source, out)
    return result, pq.read_table(out)


# name, content, format, expected columns (name -> values), expected types, options subset
GOOD: list[tuple[str, bytes, str, dict[str, list[Any]], dict[str, pa.DataType], dict[str, Any]]] = [
    (
        "comma.csv",
        b"id,price,name\n1,9.5,apple\n2,,pear\n3,NA,plum\n",
        "csv",
        {"id": [1, 2, 3], "price": [9.5, None, None], "name": ["apple", "pear", "plum"]},
        {"id": pa.int64(), "price": pa.float64(), "name": pa.string()},
        {"delimiter": ",", "quotechar": '"', "encoding": "utf-8", "compression": None},
    ),
    (
        "semicolon.csv",
        b"id;city;amount\n1;Paris;3\n2;Oslo;\n",
        "csv",
        {"id": [1, 2], "city": ["Paris", "Oslo"], "amount": [3, None]},
        {"amount": pa.int64()},
        {"delimiter": ";"},
    ),
    (
        "decimal_comma.csv",
        b"item;weight\nx;1,5\ny;2,25\n",
        "csv",
        {"item": ["x", "y"], "weight": [1.5, 2.25]},
        {"weight": pa.float64()},
        {"delimiter": ";", "decimal": ","},
    ),
    (
        "tabs.tsv",
        b"a\tb\n1\tx, y\n2\tz\n",
        "tsv",
        {"a": [1, 2], "b": ["x, y", "z"]},
        {"a": pa.int64()},
        {"delimiter": "\t"},
    ),
    (
        "bom.csv",
        "name,n\nZoë,1\n".encode("utf-8-sig"),
        "csv",
        {"name": ["Zoë"], "n": [1]},
        {},
        {"encoding": "utf-8-sig"},
    ),
    (
        "windows.csv",
        "name,price\nCafé,5\nEuro €,7.5\n".encode("cp1252"),
        "csv",
        {"name": ["Café", "Euro €"], "price": [5.0, 7.5]},
        {"price": pa.float64()},
        {"encoding": "cp1252"},
    ),
    (
        "latin1.csv",
        b"code,n\n\x81\xe9,1\n",
        "csv",
        {"code": ["\x81é"], "n": [1]},
        {},
        {"encoding": "latin-1"},
    ),
    (
        "crlf.csv",
        b"a,b\r\n1,x\r\n2,y\r\n",
        "csv",
        {"a": [1, 2], "b": ["x", "y"]},
        {},
        {},
    ),
    (
        "quoted.csv",
        b'id,text,n\n1,"hello, world",2\n2,"two\nlines",3\n3,"say ""hi""",4\n',
        "csv",
        {"id": [1, 2, 3], "text": ["hello, world", "two\nlines", 'say "hi"'], "n": [2, 3, 4]},
        {"n": pa.int64()},
        {},
    ),
    (
        "packed.csv.gz",
        gzip.compress(b"a,b\n1,2.5\n3,4\n"),
        "csv",
        {"a": [1, 3], "b": [2.5, 4.0]},
        {"b": pa.float64()},
        {"compression": "gzip"},
    ),
    (
        "types.csv",
        b"when,flag,n\n2024-01-02 10:00:00,true,1\n2024-03-04 11:30:00,false,\n",
        "csv",
        {"flag": [True, False], "n": [1, None]},
        {"flag": pa.bool_(), "n": pa.int64()},
        {},
    ),
    (
        "unnamed.csv",
        b",a\n0,x\n1,y\n",
        "csv",
        {"column_1": [0, 1], "a": ["x", "y"]},
        {},
        {},
    ),
    (
        "excel_unicode.txt",
        "a\tb\n1\tü\n".encode("utf-16"),
        "tsv",
        {"a": [1], "b": ["ü"]},
        {},
        {"encoding": "utf-16", "delimiter": "\t"},
    ),
    (
        "table.parquet",
        PARQUET,
        "parquet",
        {"id": [1, 2, 3], "score": [0.5, 1.5, None]},
        {"id": pa.int64(), "score": pa.float64()},
        {},
    ),
    (
        "rows.jsonl",
        b'{"a": 1, "b": "x"}\n\n{"a": 2, "b": null, "c": true}\n',
        "jsonl",
        {"a": [1, 2], "b": ["x", None], "c": [None, True]},
        {"a": pa.int64(), "c": pa.bool_()},
        {"encoding": "utf-8", "compression": None},
    ),
    (
        "rows.ndjson.gz",
        gzip.compress(b'{"a": 1.5}\r\n{"a": 2}\r\n'),
        "jsonl",
        {"a": [1.5, 2.0]},
        {"a": pa.float64()},
        {"compression": "gzip"},
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "fmt", "values", "types", "options"), GOOD, ids=[g[0] for g in GOOD]
)
def test_good_inputs_become_parquet(
    tmp_path: Path,
    name: str,
    content: bytes,
    fmt: str,
    values: dict[str, list[Any]],
    types: dict[str, pa.DataType],
    options: dict[str, Any],
) -> None:
    result, table = _convert(tmp_path, name, content)
    assert result.file_format == fmt
    assert result.row_count == table.num_rows == len(next(iter(values.values())))
    assert result.columns == table.column_names
    for column, expected in values.items():
        assert table.column(column).to_pylist() == expected, column
    for column, expected_type in types.items():
        assert table.schema.field(column).type == expected_type, column
    assert {k: result.read_options.get(k) for k in options} == options
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data.parquet"]


def test_timestamps_are_inferred(tmp_path: Path) -> None:
    _, table = _convert(tmp_path, "t.csv", b"when,v\n2024-01-02 10:00:00,1\n2024-01-03,2\n")
    assert pa.types.is_timestamp(table.schema.field("when").type)


def test_parquet_is_copied_byte_for_byte(tmp_path: Path) -> None:
    result, _ = _convert(tmp_path, "t.parquet", PARQUET)
    assert result.read_options == {}
    assert (tmp_path / "out" / "data.parquet").read_bytes() == PARQUET


def test_parquet_content_wins_over_a_csv_name(tmp_path: Path) -> None:
    result, table = _convert(tmp_path, "actually.csv", PARQUET)
    assert result.file_format == "parquet"
    assert table.num_rows == 3


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_jsonl_with_clashing_types_still_converts(tmp_path: Path, bom: bytes) -> None:
    content = bom + b'{"a": 1, "b": 2}\n{"a": "x", "b": 3, "c": null}\n'
    result, table = _convert(tmp_path, "mixed.jsonl", content)
    assert result.row_count == 2
    assert table.column("a").to_pylist() == ["1", "x"]
    assert table.column("b").to_pylist() == [2, 3]
    assert table.schema.field("c").type == pa.string()


def test_single_column_csv(tmp_path: Path) -> None:
    result, table = _convert(tmp_path, "one.csv", b"score\n1.5\n\n2\n")
    assert result.columns == ["score"]
    assert table.column("score").to_pylist() == [1.5, 2.0]


def test_read_options_reproduce_the_same_result(tmp_path: Path) -> None:
    first, table = _convert(tmp_path, "w.csv", "x;y\nCafé;1\n".encode("cp1252"))
    again = convert_to_parquet(
        tmp_path / "in" / "w.csv", tmp_path / "again.parquet", first.read_options
    )
    assert again == first
    assert pq.read_table(tmp_path / "again.parquet").equals(table)


def test_late_surprises_beyond_the_first_block(tmp_path: Path) -> None:
    """Types and encoding are inferred on the first blocks; later rows can still widen them."""
    body = b"".join(b"%d,%d,abc,\n" % (i, i % 7) for i in range(1_700_000))  # > 16 MiB
    tail = b"1,2.5,caf\xe9,hello\n"  # float in an int column, cp1252 byte, text in empty column
    result, table = _convert(tmp_path, "big.csv", b"id,v,s,late\n" + body + tail)
    assert result.row_count == 1_700_001
    assert result.read_options["encoding"] == "cp1252"
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("v").type == pa.float64()
    assert table.column("v")[-1].as_py() == 2.5
    assert table.column("s")[-1].as_py() == "café"
    assert table.column("late")[-1].as_py() == "hello"
    groups = pq.ParquetFile(tmp_path / "out" / "data.parquet").metadata.num_row_groups
    assert groups == -(-result.row_count // (128 * 1024))


def test_cp1252_that_fails_after_the_sample_falls_back_to_latin1(tmp_path: Path) -> None:
    body = b"name,n\ncaf\xe9,1\n" + b"plain,2\n" * 200_000  # > 1 MiB sample
    result, table = _convert(tmp_path, "old.csv", body + b"\x81x,3\n")
    assert result.read_options["encoding"] == "latin-1"
    assert table.column("name")[0].as_py() == "café"
    assert table.column("name")[-1].as_py() == "\x81x"


def _make_dir(path: Path) -> None:
    path.mkdir()


def _truncated_parquet(path: Path) -> None:
    path.write_bytes(PARQUET[: len(PARQUET) // 2])


def _empty_parquet(path: Path) -> None:
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), path)


# name, content (bytes, a function that makes the path, or None for "missing"), phrase
BAD: list[tuple[str, bytes | Callable[[Path], None] | None, str]] = [
    ("missing.csv", None, "no such file"),
    ("folder.csv", _make_dir, "is a directory, not a file"),
    ("empty.csv", b"", "is empty (0 bytes)"),
    ("blank.csv", b"  \n\n\r\n", "has only blank lines"),
    ("header.csv", b"a,b,c\n", "has a header but no data rows"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n", "line 4 has 4 fields, expected 3"),
    ("short.csv", b'a,b,c\n1,"x\ny",3\n\n4,5\n', "line 5 has 2 fields, expected 3"),
    ("ragged_crlf.csv", b"a;b\r\n1;2\r\n3\r\n", "line 3 has 1 field, expected 2"),
    ("unclosed.csv", b'a,b\n"x,1\n2,3\n', "line 2 opens a quoted field that is never closed"),
    ("nul.csv", b"a,b\n1,\x00\x00\x00\n", "looks binary (NUL byte"),
    ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(64), "looks binary (a PNG image"),
    ("sheet.csv", b"PK\x03\x04" + b"\x14\x00" * 40, "looks binary (a ZIP archive"),
    ("packed.csv", bz2.compress(b"a,b\n1,2\n"), "is bzip2-compressed"),
    ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage-not-deflate", "is a damaged gzip file"),
    ("cut.csv.gz", gzip.compress(b"a,b\n" + b"1,2\n" * 500)[:-30], "is a damaged gzip file"),
    ("dupes.csv", b"a,b,a\n1,2,3\n", "duplicate column name 'a' (columns 1 and 3)"),
    ("cut.parquet", _truncated_parquet, "not a valid Parquet file"),
    ("nothing.parquet", _empty_parquet, "has no rows"),
    ("text.parquet", b"a,b\n1,2\n", "not a valid Parquet file"),
    ("broken.jsonl", JSONL_BROKEN_7, "line 7 is not valid JSON: "),
    ("gappy.jsonl", b'{"a": 1}\n\n\n{"a": 2\n', "line 4 is not valid JSON: "),
    ("array_line.jsonl", b'{"a": 1}\n[1, 2]\n', "line 2 is an array, not a JSON object"),
    ("number_line.jsonl", b'{"a": 1}\n42\n', "line 2 is a number, not a JSON object"),
    ("array.jsonl", b'[{"a": 1},\n{"a": 2}]\n', "line 1 starts a JSON array"),
    ("dupkey.jsonl", b'{"a": 1}\n{"a": 1, "a": 2}\n', "line 2 has duplicate key 'a'"),
]


@pytest.mark.parametrize(("name", "content", "phrase"), BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_fail_in_one_line_and_leave_nothing(
    tmp_path: Path, name: str, content: bytes | Callable[[Path], None] | None, phrase: str
) -> None:
    source = tmp_path / "in" / name
    source.parent.mkdir()
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        content(source)
    out_dir = tmp_path / "out"
    with pytest.raises(DatasetInputError) as caught:
        convert_to_parquet(source, out_dir / "data.parquet")
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{source}: ")
    assert phrase in message
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_relative_path_is_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_bytes(b"a,b\n1\n")
    with pytest.raises(DatasetInputError, match=r"^r\.csv: line 2 has 1 field, expected 2$"):
        convert_to_parquet(Path("r.csv"), tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("a.csv", b"x,y\n", "csv"),
        ("a.CSV.gz", gzip.compress(b"x,y\n"), "csv"),
        ("a.tsv", b"x\ty\n", "tsv"),
        ("a.tab", b"x\ty\n", "tsv"),
        ("a.parquet", PARQUET, "parquet"),
        ("a.pq", PARQUET, "parquet"),
        ("a.jsonl", b'{"x": 1}\n', "jsonl"),
        ("a.ndjson.gz", gzip.compress(b'{"x": 1}\n'), "jsonl"),
        ("a.txt", b"x;y\n1;2\n", "csv"),
        ("a.txt", b"x\ty\n1\t2\n", "tsv"),
        ("a.txt", b'{"x": 1}\n', "jsonl"),
        ("noext", PARQUET, "parquet"),
        ("a.dat", b'\xef\xbb\xbf{"x": 1}\n', "jsonl"),
        ("a.gz", gzip.compress(b"x,y\n1,2\n"), "csv"),
        ("mislabelled.csv", PARQUET, "parquet"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: bytes, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) == fmt


def test_importing_ingest_loads_no_heavy_library() -> None:
    code = (
        "import sys, pipelines.datasets.ingest; "
        "heavy = {'pyarrow', 'pandas', 'duckdb', 'textual'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
