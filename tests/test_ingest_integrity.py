"""Files that are wrong in one place are refused naming that place, never read another way:
a stray byte in a UTF-8 (or Windows-1252) file, a quote that never closes, a row longer than
a reader block, a table too wide; and a full disk is named as such."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.datasets.ingest import convert_to_parquet
from pipelines.datasets.versions import register_dataset
from storage.errors import DatasetInputError
from storage.handle import Workspace
from tests.test_cli import run, workspace_files


def refused(tmp_path: Path, name: str, content: bytes) -> str:
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "out" / "data.parquet"
    with pytest.raises(DatasetInputError) as caught:
        convert_to_parquet(source, out)
    message = str(caught.value)
    assert message.startswith(f"{source}: ") and "\n" not in message
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    return message


UTF8_BODY = b"name,n\n" + "café,1\n".encode() * 200_000  # > the 1 MiB detection sample


def test_a_stray_byte_past_the_sample_of_a_utf8_file_is_refused_with_line_and_offset(
    tmp_path: Path,
) -> None:
    message = refused(tmp_path, "late.csv", UTF8_BODY + b"caf\xe9,2\n")
    offset = len(UTF8_BODY) + 3
    assert f"line 200002 has a byte that is not UTF-8 (0xe9 at byte offset {offset:,})" in message
    assert "but line 2 is UTF-8 text" in message


def test_a_stray_byte_past_the_sample_of_json_lines_is_refused_naming_the_users_file(
    tmp_path: Path, workspace: Workspace
) -> None:
    """pyarrow puts invalid UTF-8 into its strings; it used to surface at profiling time,
    naming the workspace's temporary copy instead of the user's file and line."""
    body = b'{"name": "caf\xc3\xa9", "n": 1}\n' * 60_000  # > the 1 MiB detection sample
    message = refused(tmp_path, "late.jsonl", body + b'{"name": "caf\xe9", "n": 2}\n')
    offset = len(body) + len('{"name": "caf')
    assert f"line 60001 has a byte that is not UTF-8 (0xe9 at byte offset {offset:,})" in message
    assert "JSON Lines must be UTF-8" in message
    with pytest.raises(DatasetInputError, match=r"late\.jsonl: line 60001"):
        register_dataset(workspace, tmp_path / "late.jsonl")


def test_a_stray_byte_in_the_sample_is_refused_too(tmp_path: Path) -> None:
    message = refused(tmp_path, "early.csv", b"name,n\nn\xe9e,0\n" + UTF8_BODY[7:])
    assert "line 2 has a byte that is not UTF-8 (0xe9 at byte offset 8)" in message
    assert "line 3 is UTF-8 text" in message


def test_a_legacy_file_without_any_utf8_is_still_read_as_windows_1252(tmp_path: Path) -> None:
    source = tmp_path / "old.csv"
    source.write_bytes(b"name,n\n" + b"plain,1\n" * 200_000 + "Café €,2\n".encode("cp1252"))
    result = convert_to_parquet(source, tmp_path / "old.parquet")
    assert result.read_options["encoding"] == "cp1252"
    assert pq.read_table(tmp_path / "old.parquet").column("name")[-1].as_py() == "Café €"


def test_a_file_read_as_windows_1252_says_so_when_added(
    tmp_path: Path, workspace: Workspace
) -> None:
    """The reading is the honest one, but it was chosen, not given: never silently."""
    source = tmp_path / "old.csv"
    source.write_bytes(b"name,n\n" + b"plain,1\n" * 200_000 + "Café €,2\n".encode("cp1252"))
    added = register_dataset(workspace, source)
    assert added.warnings[0] == "encoding: the file is not UTF-8 and was read as Windows-1252"
    utf8 = tmp_path / "new.csv"
    utf8.write_bytes(b"name,n\n" + "café,1\n".encode() * 10)
    assert not any(w.startswith("encoding") for w in register_dataset(workspace, utf8).warnings)


def test_windows_1252_with_an_undefined_byte_is_refused_not_garbled_as_latin1(
    tmp_path: Path,
) -> None:
    body = b"name,n\n" + "5 €,1\n".encode("cp1252") + b"plain,2\n" * 200_000
    message = refused(tmp_path, "euro.csv", body + b"\x81x,3\n")
    assert "line 200003 has byte 0x81" in message and "line 2 uses Windows-1252" in message


def test_an_unclosed_quote_in_a_large_comma_file_is_refused_naming_its_line(
    tmp_path: Path,
) -> None:
    rows = b"".join(b"%d,%d\n" % (i, i) for i in range(100_000))
    message = refused(tmp_path, "quote.csv", b"a,b\n" + b"1,2\n" * 10 + b'7,"oops\n' + rows)
    assert message.endswith("line 12 opens a quoted field that is never closed")


def test_an_unclosed_quote_at_the_end_of_a_gzip_file(tmp_path: Path) -> None:
    import gzip

    message = refused(tmp_path, "q.csv.gz", gzip.compress(b'a,b\n1,2\n3,"x\n4,5\n'))
    assert message.endswith("line 3 opens a quoted field that is never closed")


def test_quoted_values_spanning_lines_still_read(tmp_path: Path) -> None:
    source = tmp_path / "ok.csv"
    source.write_bytes(b'a,b\n1,"two\nlines"\n2,"say ""hi""\n"\n')
    result = convert_to_parquet(source, tmp_path / "ok.parquet")
    assert pq.read_table(tmp_path / "ok.parquet").column("b").to_pylist() == [
        "two\nlines",
        'say "hi"\n',
    ]
    assert result.row_count == 2


LONG = 40 << 20  # past the two 16 MiB reader blocks a row may straddle


def test_a_line_longer_than_a_block_says_so_naming_the_line(tmp_path: Path) -> None:
    message = refused(tmp_path, "long.csv", b"a,b\n1,2\n3," + b"x" * LONG + b"\n5,6\n")
    assert message.endswith("line 3 is 40 MiB long; Workbench reads rows of up to 16 MiB")


def test_a_json_line_longer_than_a_block_says_so(tmp_path: Path) -> None:
    body = b'{"a": "s"}\n{"a": "' + b"x" * LONG + b'"}\n'
    message = refused(tmp_path, "long.jsonl", body)
    assert message.endswith("line 2 is 40 MiB long; Workbench reads rows of up to 16 MiB")


def test_a_quote_open_for_more_than_a_block_names_its_line(tmp_path: Path) -> None:
    body = b"a,b\n1,2\n" + b'3,"' + (b"x" * 1023 + b"\n") * (LONG // 1024) + b'"\n'
    message = refused(tmp_path, "open.csv", body)
    assert "line 3 opens a quoted field longer than 16 MiB" in message


def test_a_numeric_column_widens_to_text_for_a_late_value_spanning_lines(tmp_path: Path) -> None:
    source = tmp_path / "late.csv"
    pad = b"p" * 60
    source.write_bytes(b"a,c,b\n" + b"1,%s,2\n" % pad * 300_000 + b'3,p,"x\ny"\n')  # > 16 MiB
    convert_to_parquet(source, tmp_path / "late.parquet")
    assert pq.read_table(tmp_path / "late.parquet").column("b")[-1].as_py() == "x\ny"


def test_a_785_column_file_adds_with_a_profile_of_every_column(
    workspace: Workspace, tmp_path: Path
) -> None:
    """MNIST-shaped: a label and 784 pixels; profiled in groups, every column complete."""
    rng = random.Random(0)
    names = ["label"] + [f"pixel{i}" for i in range(784)]
    rows = [
        [i % 10] + [rng.choice((0, 0, 0, rng.randint(1, 255))) for _ in range(784)]
        for i in range(300)
    ]
    rows[0][1:] = list(range(784))  # a known maximum per pixel column
    source = tmp_path / "mnist.csv"
    source.write_text(",".join(names) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    version = register_dataset(workspace, source, target="label").version
    assert (version.row_count, version.column_count) == (300, 785)
    assert [c.name for c in version.schema] == names
    for position in (0, 31, 32, 500, 783):
        column = version.profile.column(f"pixel{position}")
        expected = [r[position + 1] for r in rows]
        assert column.max == max(expected) and column.distinct == len(set(expected))
        assert sum(column.histogram) == 300 - column.missing
    assert version.profile.column("label").distinct == 10


def test_a_table_of_tens_of_thousands_of_columns_is_refused_in_one_line(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(30_000)).encode()
    message = refused(tmp_path, "wide.csv", header + b"\n" + b",".join([b"1"] * 30_000) + b"\n")
    assert "has 30,000 columns; Workbench takes at most 10,000" in message


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs as the workspace; skipped only where mounting is not permitted."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_while_writing_the_frozen_copy_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_disk: Path
) -> None:
    rng = random.Random(1)
    source = tmp_path / "noise.csv"  # incompressible: its Parquet copy needs ~6 MB
    source.write_text(
        "k,v\n" + "".join(f"{rng.getrandbits(64):x},{rng.random()}\n" for _ in range(200_000))
    )
    code, out, err = run(capsys, small_disk, "data", "add", str(source))
    assert code == 1 and err.count("\n") == 1, err
    assert f"{source}: no space left on device while writing {small_disk / 'datasets'}" in err
    assert workspace_files(small_disk) == []
    code, out, _ = run(capsys, small_disk, "data", "ls", "--json")
    assert json.loads(out) == []
