"""Benchmark: browse a 10-million-row Parquet file (DESIGN.md: first page <= 0.5 s, filter <= 1 s).

Run with the project's venv: ``.venv/bin/python benchmarks/browse_10m.py``. The data file is
generated once (vectorised numpy/pyarrow, a few seconds) and cached under ``bench-data/``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

BENCH_DATA = REPO_ROOT / "bench-data"
ROW_COUNT = 10_000_000
PAGE_ROWS = 200

T = TypeVar("T")


def generate(path: Path, row_count: int = ROW_COUNT, seed: int = 7) -> None:
    """Write a ~10-column file of ints, floats, strings and a category, without Python loops."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ids = np.arange(row_count, dtype=np.int64)
    first_names = pa.array(
        ["Ada", "Bo", "Chen", "Dana", "Emil", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kofi"]
    )
    cities = pa.array(
        ["Oslo", "Lyon", "Porto", "Kyoto", "Quito", "Perth", "Cork", "Turin", "Accra", "Lima"]
    )
    regions = ["north", "south", "east", "west"]
    table = pa.table(
        {
            "id": ids,
            "customer_id": rng.integers(1, 500_000, row_count, dtype=np.int64),
            "age": rng.integers(18, 90, row_count, dtype=np.int16),
            "amount": np.round(rng.gamma(2.0, 150.0, row_count), 2),
            "score": rng.random(row_count).astype(np.float32),
            "name": first_names.take(pa.array(rng.integers(0, len(first_names), row_count))),
            "city": cities.take(pa.array(rng.integers(0, len(cities), row_count))),
            "region": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, len(regions), row_count, dtype=np.int8)),
                pa.array(regions),
            ),
            "order_ref": pc.binary_join_element_wise(
                "ORD-", pc.cast(pa.array(ids), pa.string()), ""
            ),
            "is_returned": rng.random(row_count) < 0.07,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    pq.write_table(table, partial, compression="zstd")
    partial.replace(path)


def timed(label: str, action: Callable[[], T]) -> T:
    """Run ``action`` once and print its wall time, one figure per line."""
    started = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - started:.2f} s", flush=True)
    return result


def main() -> None:
    from pipelines.datasets.browse import RowSource, RowView

    path = BENCH_DATA / "browse_10m.parquet"
    if not path.exists():
        timed(f"generate {ROW_COUNT:,} rows (once)", lambda: generate(path))
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB)")

    def open_first_page() -> RowSource:
        source = RowSource(path)
        source.query().page(0, PAGE_ROWS)
        return source

    source = timed("open + first page", open_first_page)
    view = source.query()
    timed("page at offset 5M", lambda: view.page(5_000_000, PAGE_ROWS))
    timed("page at the end", lambda: view.page(view.row_count - PAGE_ROWS, PAGE_ROWS))

    where = "amount > 900 AND region = 'north'"

    def filtered_first_page() -> None:
        filtered = source.query(where)
        filtered.page(0, PAGE_ROWS)
        print(f"  ({filtered.row_count:,} matching rows)")

    timed(f"filtered page ({where})", filtered_first_page)
    filtered = source.query(where)
    timed(
        "filtered page at the end", lambda: filtered.page(filtered.row_count - PAGE_ROWS, PAGE_ROWS)
    )

    def sorted_first_page(where: str, order_by: str) -> RowView:
        sorted_view = source.query(where, order_by)
        sorted_view.page(0, PAGE_ROWS)
        return sorted_view

    filtered_sorted = timed(
        "filtered + sorted page (ORDER BY amount DESC)",
        lambda: sorted_first_page(where, "amount DESC"),
    )
    timed(
        "filtered + sorted page at the end",
        lambda: filtered_sorted.page(filtered_sorted.row_count - PAGE_ROWS, PAGE_ROWS),
    )
    by_score = timed("sorted page (ORDER BY score)", lambda: sorted_first_page("", "score"))
    timed("sorted page at offset 5M (first deep page)", lambda: by_score.page(5_000_000, PAGE_ROWS))
    timed("sorted page at offset 6M (next deep page)", lambda: by_score.page(6_000_000, PAGE_ROWS))

    try:
        from pipelines.datasets.profiling import profile_parquet
    except ImportError:
        print("profile: skipped (pipelines.datasets.profiling not available)")
    else:
        timed("profile", lambda: profile_parquet(path))


if __name__ == "__main__":
    main()
