"""CSV parsed in pieces cut at record boundaries stores exactly what pyarrow's quote-aware
read of the whole file gives, wherever quotes, quoted line breaks, bare quotes, CRLF, gzip,
legacy encodings and late surprises fall against the pieces' ends; the cut itself is
checked against the record boundaries the rows were written with."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import pipelines.datasets.ingest_csv as ingest_csv
from pipelines.datasets.ingest import convert_to_parquet
from pipelines.datasets.ingest_pieces import PieceReader, find_cut
from storage.errors import DatasetInputError

HEADER = "id,name,note,amount,day\n"


def rows(count: int, seed: int, *, breaks: float = 0.0, bare: float = 0.0) -> list[str]:
    """Records with quoted commas and doubled quotes; `breaks` of them quote a line break
    (LF or CRLF), `bare` of those from the 500th on carry a quote inside an unquoted field
    (`5" screen`)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        note = f"plain {rng.randint(0, 99)}"
        roll = rng.random()
        if roll < 0.2:
            note = f'"has, comma {i}"'
        elif roll < 0.3:
            note = f'"said ""hi"" {i}"'
        if rng.random() < breaks:
            note = '"two' + rng.choice(["\n", "\r\n"]) + f'lines {i}"'
        bare_here = i >= 500 and rng.random() < bare  # the first pieces are cut either way
        name = f'{rng.randint(1, 80)}" screen' if bare_here else f"name {i % 7}"
        amount = f"{rng.uniform(-50, 50):.3f}"
        out.append(f"{i},{name},{note},{amount},2024-01-{i % 28 + 1:02d}\n")
    return out


def whole_file(path: Path) -> pa.Table:
    """The oracle: pyarrow's quote-aware read of the whole file in one go."""
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )
    return table


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_csv, "BLOCK_BYTES", 2 << 10)


@pytest.mark.parametrize(
    ("breaks", "bare", "seed"),
    [(0.0, 0.0, 1), (0.02, 0.0, 2), (0.3, 0.0, 3), (0.0, 0.01, 4), (0.02, 0.01, 5)],
)
def test_pieces_store_what_the_whole_file_read_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breaks: float, bare: float, seed: int
) -> None:
    parsed, streamed = watch_paths(monkeypatch)
    source = tmp_path / "data.csv"
    body = rows(3_000, seed, breaks=breaks, bare=bare)
    source.write_text(HEADER + "".join(body), newline="")
    result = convert_to_parquet(source, tmp_path / "out.parquet")
    stored = pq.read_table(tmp_path / "out.parquet")
    assert result.row_count == stored.num_rows == 3_000
    assert stored.equals(whole_file(source))
    assert len(parsed) > (10 if bare else 50)  # in pieces, until a bare quote (if any)
    assert bool(streamed) == (bare > 0)  # after a bare quote, the streaming reader
    assert (True in parsed) == (breaks > 0)  # only pieces with quoted breaks quote-aware
    assert (False in parsed) == (breaks < 0.3 or bare > 0)


def watch_paths(monkeypatch: pytest.MonkeyPatch) -> tuple[list[bool], list[int]]:
    """Which pieces were parsed quote-aware, and where the streaming reader took over."""
    parsed: list[bool] = []
    streamed: list[int] = []
    parse, rest = PieceReader._parse_piece, PieceReader._stream_rest

    def parse_piece(self: PieceReader, data: bytes, quoted: bool, *, first: bool) -> pa.Table:
        parsed.append(quoted)
        return parse(self, data, quoted, first=first)

    def stream_rest(self: PieceReader) -> Iterator[pa.Table]:
        streamed.append(self._offset)
        return rest(self)

    monkeypatch.setattr(PieceReader, "_parse_piece", parse_piece)
    monkeypatch.setattr(PieceReader, "_stream_rest", stream_rest)
    return parsed, streamed


def test_a_file_without_a_final_line_break_and_with_crlf_reads_every_row(tmp_path: Path) -> None:
    source = tmp_path / "crlf.csv"
    body = "".join(rows(2_000, 6, breaks=0.01)).replace("\n", "\r\n").replace("\r\r\n", "\r\n")
    source.write_bytes((HEADER + body).rstrip("\r\n").encode())
    convert_to_parquet(source, tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").equals(whole_file(source))


def test_gzip_and_windows_1252_are_cut_the_same_way(tmp_path: Path) -> None:
    text = HEADER + "".join(rows(2_000, 7, breaks=0.02)).replace("plain", "café ½")
    plain = tmp_path / "legacy.csv"
    plain.write_bytes(text.encode("cp1252"))
    zipped = tmp_path / "data.csv.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    legacy = convert_to_parquet(plain, tmp_path / "legacy.parquet")
    assert legacy.read_options["encoding"] == "cp1252"
    convert_to_parquet(zipped, tmp_path / "zipped.parquet")
    expected = whole_file(zipped)
    assert pq.read_table(tmp_path / "zipped.parquet").equals(expected)
    assert pq.read_table(tmp_path / "legacy.parquet").equals(expected)


def test_a_late_wider_value_widens_the_column_and_a_late_bad_row_is_named(
    tmp_path: Path,
) -> None:
    body = rows(3_000, 8)
    body[2_500] = body[2_500].replace(",2024-", ",not a date-", 1)
    source = tmp_path / "late.csv"
    source.write_text(HEADER + "".join(body))
    convert_to_parquet(source, tmp_path / "out.parquet")
    stored = pq.read_table(tmp_path / "out.parquet")
    assert stored.schema.field("day").type == pa.string()
    assert stored.column("day")[2_500].as_py().startswith("not a date-")
    body[2_700] = body[2_700].rstrip("\n") + ",extra\n"
    source.write_text(HEADER + "".join(body))
    with pytest.raises(DatasetInputError, match=r"line 2702 has 6 fields, expected 5$"):
        convert_to_parquet(source, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


@pytest.mark.parametrize("seed", range(40))
def test_the_cut_is_the_last_record_boundary_the_rows_were_written_with(seed: int) -> None:
    records = rows(60, seed, breaks=0.15)
    ends = list(accumulate(len(r.encode()) for r in records))
    data = "".join(records).encode()
    end = random.Random(seed).randint(1, len(data))
    cut = find_cut(data[:end], '"', ",")
    assert cut is not None
    whole = [e for e in ends if e <= end]
    assert cut.end == (whole[-1] if whole else 0)
    assert cut.quoted_breaks == any('"two' in r for r in records[: len(whole)])


def test_a_bare_quote_is_not_trusted_to_cut() -> None:
    assert find_cut(b'1,5" screen,x\n2,a,b\n', '"', ",") is None
    doubled = find_cut(b'1,"a, b",x\n2,"",b\n3,a,""""\n4,', '"', ",")
    assert doubled is not None and (doubled.end, doubled.quoted_breaks) == (27, False)
    open_at_end = find_cut(b'1,"a\nb",x\n2,"c\nd', '"', ",")
    assert open_at_end is not None and (open_at_end.end, open_at_end.quoted_breaks) == (10, True)
    assert find_cut(b'1,"a\nb', '"', ",") == find_cut(b"1,a", '"', ",")
