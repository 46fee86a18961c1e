"""The profile `data add` streams from a CSV's batches while converting it is the profile the
two DuckDB scans of the Parquet file give (`profile_parquet`, still used for Parquet and JSON
Lines): real CSV files with gaps, NaN, mixed columns and quoted text, read in many small
blocks, through the real conversion and registration."""

from __future__ import annotations

import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

import pipelines.datasets.ingest_csv as ingest_csv
import pipelines.datasets.profile_stream as profile_stream
from pipelines.datasets.ingest import convert_to_parquet
from pipelines.datasets.profiling import profile_parquet
from pipelines.datasets.versions import register_dataset
from storage.handle import Workspace
from storage.records import DatasetProfile

_WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Integers (few and many values, with gaps), floats (gaps, NaN, a constant, negatives),
    text (few values, many values with clear leaders, quoted commas and line breaks, an
    all-empty column), booleans, dates and timestamps."""
    rng = random.Random(seed)
    lines = [
        "id,age,visits,amount,ratio,flat,plan,note,city,active,day,seen,empty,big\n",
    ]
    leaders = [f"top {k}" for k in range(12)]
    for i in range(rows):
        age = "" if rng.random() < 0.07 else str(rng.randint(18, 90))
        visits = "" if rng.random() < 0.03 else str(rng.randint(-5_000, 900_000))
        amount = "" if rng.random() < 0.05 else f"{rng.lognormvariate(8, 1.2):.4f}"
        ratio = "nan" if rng.random() < 0.04 else f"{rng.gauss(-0.2, 3.0):.6g}"
        plan = "" if rng.random() < 0.02 else rng.choice(["free", "basic", "pro", "team"])
        if rng.random() < 0.6:  # leaders with counts far apart, then a long tail
            note = leaders[min(int(rng.expovariate(0.35)), len(leaders) - 1)]
        else:
            note = " ".join(rng.choice(_WORDS) for _ in range(3)) + f" {rng.randint(0, 4000)}"
        if rng.random() < 0.01:
            note = f'"{note}, said ""ok""\nand left"'
        city = f"City {rng.randint(1, 60)}"
        active = "" if rng.random() < 0.05 else rng.choice(["true", "false"])
        day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        seen = f"{day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        big = str(rng.randint(0, 2**62))
        lines.append(
            f"{i},{age},{visits},{amount},{ratio},2.5,{plan},{note},{city},{active},{day},"
            f"{seen},,{big}\n"
        )
    path.write_text("".join(lines))


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of 64 KiB (so a few MB cross dozens of them); returns the batch sizes seen."""
    monkeypatch.setattr(ingest_csv, "BLOCK_BYTES", 64 << 10)
    sizes: list[int] = []
    add = profile_stream.StreamProfile.add

    def counting(self: profile_stream.StreamProfile, table: Any) -> None:
        sizes.append(table.num_rows)
        add(self, table)

    monkeypatch.setattr(profile_stream.StreamProfile, "add", counting)
    return sizes


def assert_same_profile(
    streamed: DatasetProfile, scanned: DatasetProfile, *, approximate: Path | None = None
) -> None:
    """Field by field; floats to 1e-12. `approximate` (the Parquet file): above the exact-row
    limit distinct counts (sketches) and quantiles (samples) are estimates on both sides, so
    distinct counts are held to the true ones in the file and quantiles to DuckDB's within
    2% of the range; top values of many-valued columns are left out (DuckDB finds its
    candidates on a sample, the stream counts every value)."""
    assert streamed.rows == scanned.rows
    assert [c.name for c in streamed.columns] == [c.name for c in scanned.columns]
    for ours, theirs in zip(streamed.columns, scanned.columns, strict=True):
        a, b = asdict(ours), asdict(theirs)
        loose = {"distinct", "quantiles"} if approximate else set()
        if approximate and theirs.distinct > 200:  # no exact value counts on DuckDB's side
            loose.add("top_values")
        for key in a.keys() - loose:
            close(a[key], b[key], f"{ours.name}.{key}")
        if approximate:
            truth = true_distinct(approximate, ours.name)
            assert ours.distinct == pytest.approx(truth, rel=0.03), (ours.name, truth)
            for q, value in ours.quantiles.items():
                spread = (ours.max or 0) - (ours.min or 0)  # type: ignore[operator]
                assert abs(value - theirs.quantiles[q]) <= 0.02 * spread + 1e-9, (ours.name, q)


def true_distinct(path: Path, name: str) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=[name])[name]
    if column.type == "double":
        column = pc.filter(column, pc.invert(pc.is_nan(column)))
    return pc.count_distinct(column).as_py()


def close(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(ours, float) and isinstance(theirs, float):
        assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-300), (where, ours, theirs)
    elif isinstance(ours, dict) and isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            close(ours[key], theirs[key], f"{where}[{key}]")
    elif isinstance(ours, list | tuple) and isinstance(theirs, list | tuple):
        assert len(ours) == len(theirs), (where, ours, theirs)
        for k, (x, y) in enumerate(zip(ours, theirs, strict=True)):
            close(x, y, f"{where}[{k}]")
    else:
        assert ours == theirs, (where, ours, theirs)


def test_the_streamed_profile_is_the_two_scan_profile_over_many_blocks(
    tmp_path: Path, small_blocks: list[int]
) -> None:
    source = tmp_path / "mixed.csv"
    write_csv(source, 40_000)
    out = tmp_path / "out.parquet"
    result = convert_to_parquet(source, out)
    assert len(small_blocks) > 40 and sum(small_blocks) == 40_000  # many blocks, every row
    assert result.profile is not None
    schema, profile = result.profile
    old_schema, old_profile = profile_parquet(out)
    assert schema == old_schema
    assert_same_profile(profile, old_profile)
    columns = {c.name: c for c in profile.columns}
    assert columns["ratio"].missing > 0 and columns["empty"].missing == 40_000
    assert columns["note"].top_values[0][0] == "top 0" and columns["note"].distinct > 5_000
    assert columns["age"].histogram and columns["amount"].histogram


def test_a_registered_csv_stores_the_two_scan_profile(
    tmp_path: Path, workspace: Workspace, small_blocks: list[int]
) -> None:
    source = tmp_path / "churn.csv"
    write_csv(source, 12_000, seed=11)
    version = register_dataset(workspace, source).version
    assert len(small_blocks) > 10
    stored = workspace.paths.resolve(version.stored_path or "")
    old_schema, old_profile = profile_parquet(stored)
    assert version.schema == old_schema
    assert_same_profile(version.profile, old_profile)


def test_text_past_the_exact_count_limit_is_profiled_by_duckdb_as_before(
    tmp_path: Path, small_blocks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_stream, "TEXT_VALUES", 500)
    source = tmp_path / "wide_text.csv"
    write_csv(source, 20_000, seed=3)
    result = convert_to_parquet(source, tmp_path / "out.parquet")
    assert result.profile is not None
    assert_same_profile(result.profile[1], profile_parquet(tmp_path / "out.parquet")[1])


def test_above_the_exact_limits_the_estimates_agree_and_the_rest_is_equal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_csv, "BLOCK_BYTES", 1 << 20)
    source = tmp_path / "big.csv"
    write_csv(source, 230_000, seed=5)
    result = convert_to_parquet(source, tmp_path / "out.parquet")
    assert result.profile is not None
    old = profile_parquet(tmp_path / "out.parquet")[1]
    assert_same_profile(result.profile[1], old, approximate=tmp_path / "out.parquet")
    columns = {c.name: c for c in result.profile[1].columns}
    assert columns["id"].distinct == pytest.approx(230_000, rel=0.03)
    assert columns["note"].top_values[:3] == sorted(
        columns["note"].top_values[:3], key=lambda kv: -kv[1]
    )
