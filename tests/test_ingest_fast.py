"""Quoted line breaks read right wherever they fall (inside a reader block or across its
end), malformed rows past the first block are one line naming them, text-only dictionary
encoding stores the same table, and the hash taken beside the conversion is the file's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.datasets.ingest import convert_to_parquet
from pipelines.datasets.ingest_text import BLOCK_BYTES
from pipelines.datasets.versions import list_versions, register_dataset
from storage.errors import DatasetInputError
from storage.handle import Workspace

MIXED = (
    "id,city,when,score,note,flag\n"
    + "".join(
        f'{i},City {i % 5},2024-01-{i % 28 + 1:02d},{i * 0.25},"said ""hi"", then {i}",'
        f"{'true' if i % 3 else 'false'}\n"
        for i in range(2_000)
    )
    + '2000,City 0,2024-02-01,,"two\nlines",true\n'
)


def plain_copy(source: Path, out: Path) -> None:
    """The whole file through pyarrow's reader, written with its default encodings."""
    import pyarrow.csv as pacsv

    options = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    table = pacsv.read_csv(source, parse_options=options, convert_options=convert)
    pq.write_table(table, out)


def spanning_csv(path: Path) -> int:
    """Just over one reader block, with a quoted value of 600 lines across the block's end:
    a reader cutting blocks at any line break would cut inside it. Returns the data rows."""
    parts, size, i = ["id,text,n\n"], len("id,text,n\n"), 0
    while size < BLOCK_BYTES - 2_000:
        line = f"{i},word{i % 7},{i * 0.5}\n"
        parts.append(line)
        size += len(line)
        i += 1
    value = "\n".join(f"note {k}" for k in range(600))
    parts.append(f'{i},"{value}",1.5\n')
    parts += [f"{j},tail,{j}.25\n" for j in range(i + 1, i + 1_001)]
    path.write_text("".join(parts))
    return i + 1_001


def test_the_stored_table_is_pyarrows_whole_file_read_of_mixed_quoted_text(
    tmp_path: Path,
) -> None:
    source = tmp_path / "mixed.csv"
    source.write_text(MIXED)
    convert_to_parquet(source, tmp_path / "stored.parquet")
    plain_copy(source, tmp_path / "plain.parquet")
    stored = pq.read_table(tmp_path / "stored.parquet")
    assert stored.schema == pq.read_schema(tmp_path / "plain.parquet")
    assert stored.equals(pq.read_table(tmp_path / "plain.parquet"))
    assert stored.column("note")[2_000].as_py() == "two\nlines"
    assert stored.column("note")[1].as_py() == 'said "hi", then 1'
    encodings = pq.ParquetFile(tmp_path / "stored.parquet").metadata.row_group(0)
    dictionary = {
        encodings.column(i).path_in_schema: "RLE_DICTIONARY" in encodings.column(i).encodings
        for i in range(encodings.num_columns)
    }
    assert dictionary == {
        "id": False,
        "city": True,
        "when": False,
        "score": False,
        "note": True,
        "flag": False,
    }


def test_a_quoted_value_across_the_reader_block_end_reads_every_row(
    tmp_path: Path,
) -> None:
    source = tmp_path / "spanning.csv"
    rows = spanning_csv(source)
    result = convert_to_parquet(source, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert result.row_count == table.num_rows == rows
    spanning = table.column("text")[rows - 1_001].as_py()
    assert spanning == "\n".join(f"note {k}" for k in range(600))
    assert result.read_options == {
        "compression": None,
        "encoding": "utf-8",
        "delimiter": ",",
        "quotechar": '"',
    }
    plain_copy(source, tmp_path / "plain.parquet")
    assert table.equals(pq.read_table(tmp_path / "plain.parquet"))


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("1,2,3,4\n", "has 4 fields, expected 3"),
        ('1,"never closed\nx,y\n', "opens a quoted field that is never closed"),
    ],
)
def test_a_malformed_row_past_the_first_block_is_one_line_naming_it_and_nothing_written(
    tmp_path: Path, tail: str, expected: str
) -> None:
    source = tmp_path / "late.csv"
    body = "a,b,c\n" + "1,2,3\n" * (BLOCK_BYTES // 6 + 10)
    source.write_text(body + tail)
    line = body.count("\n") + 1
    out = tmp_path / "out" / "data.parquet"
    with pytest.raises(DatasetInputError) as caught:
        convert_to_parquet(source, out)
    message = str(caught.value)
    assert message == f"{source}: line {line} {expected}" or (
        message.startswith(f"{source}: line {line}") and expected in message
    ), message
    assert "\n" not in message
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_the_hash_taken_beside_the_conversion_is_the_files_and_a_same_add_is_a_no_op(
    tmp_path: Path, workspace: Workspace
) -> None:
    source = tmp_path / "mixed.csv"
    source.write_text(MIXED)
    added = register_dataset(workspace, source, name="m")
    assert added.created
    assert added.version.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    again = register_dataset(workspace, source, name="m")
    assert not again.created and "same content as m@D0" in again.message
    other = tmp_path / "other.csv"
    other.write_text(MIXED.replace("City 4", "City 9"))  # same size, other content
    second = register_dataset(workspace, other, name="m")
    assert (
        second.created and second.version.sha256 == hashlib.sha256(other.read_bytes()).hexdigest()
    )
    assert [v.sha256 for v in list_versions(workspace, "m")] == [
        added.version.sha256,
        second.version.sha256,
    ]
