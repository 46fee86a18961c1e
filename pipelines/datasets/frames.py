"""A table named on the command line, as a frame: a dataset version (`name`, `name@D1`) or
a file (CSV, TSV, Parquet, JSON lines). For drift checks and the like, which compare whole
tables and need the values typed as a reader infers them, not a schema's contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

    from storage.handle import Workspace

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
SUFFIXES |= {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class NamedTable:
    label: str  # what the output calls it: "wine@D1" or the file's path
    frame: pd.DataFrame
    target: str | None = None  # a dataset version's target column, when it has one


def load_table(spec: str, open_ws: Callable[[], Workspace]) -> NamedTable:
    """An existing file by its path first (a path may look like a name), else a dataset
    version of the workspace; neither is one line naming both readings."""
    path = Path(spec).expanduser()
    if path.is_file():
        return NamedTable(str(path), read_file(path))
    if path.suffix.lower() in SUFFIXES or "/" in spec:
        raise WorkbenchError(f"{spec}: no such file")
    from pipelines.datasets.versions import browsable_path, get_version

    ws = open_ws()
    version = get_version(ws, spec)
    frame = read_file(browsable_path(ws, version))
    return NamedTable(version.ref, frame, version.target)


def read_file(path: Path) -> pd.DataFrame:
    import pandas as pd

    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(SUFFIXES))
        raise WorkbenchError(f"{path}: a table must be a file ending in one of {known}")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "jsonl":
            return pd.read_json(path, lines=True)
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise WorkbenchError(f"{path}: cannot be read as {kind} ({reason})") from None
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise WorkbenchError(f"{path}: {exc}") from None
