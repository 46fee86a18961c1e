"""`workbench predict MODEL INPUT -o OUTPUT`: batch scoring without a server, through the
serving package's own schema check and scoring, so a row scored here and the same row sent
to a deployment get the same prediction and probabilities.

The input is read and scored in chunks (CSV, Parquet or JSON Lines, by suffix) with a
progress bar, and written to a temporary file renamed into place at the end: a refusal
half-way (a chunk that does not fit the schema) leaves no half-written output. MODEL is a
bundle folder, a run id (`run:12` or `12`) or a registered NAME[:VERSION|@ALIAS]; each
spelling is one resolver in `RESOLVERS`, the first that recognises the reference answers."""

from __future__ import annotations

import argparse
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.errors import WorkbenchError
from workbench.cli_predict_io import Behind, ahead

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.serving.bundle import BundleManifest
    from storage.handle import Workspace

CHUNK_ROWS = 50_000
READERS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
READERS |= {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class ResolvedModel:
    manifest: BundleManifest
    model: Any
    label: str  # how messages name it: "run 12", "bundle ./churn"


Resolver = Callable[[str, Callable[[], "Workspace"]], ResolvedModel | None]


def add_parsers(commands: Any) -> None:
    predict = commands.add_parser(
        "predict", help="score a CSV/Parquet/JSON Lines file with a model, without a server"
    )
    predict.add_argument(
        "model",
        metavar="MODEL",
        help="a registered model (NAME, NAME:3, NAME@prod), a run id (run:12) or a bundle folder",
    )
    predict.add_argument("input", type=Path, metavar="INPUT")
    predict.add_argument("-o", "--output", type=Path, required=True, metavar="OUTPUT",
                         help="CSV, Parquet or JSON Lines, by suffix")  # fmt: skip


def run_predict_command(args: argparse.Namespace, root: Path) -> int:
    from storage.handle import open_workspace
    from workbench.cli_data import progress_bar

    opened: list[Workspace] = []

    def open_ws() -> Workspace:
        opened.append(open_workspace(root, database_url=args.database_url))
        return opened[-1]

    input_kind, output_kind = file_kind(args.input, "input"), file_kind(args.output, "output")
    if not args.input.is_file():
        raise WorkbenchError(f"{args.input}: no such file")
    try:
        resolved = resolve_model(args.model, open_ws)
    finally:
        for ws in opened:
            ws.close()
    with progress_bar(f"scoring {args.input.name}") as report:
        rows, unseen = score_file(
            resolved, args.input, input_kind, args.output, output_kind, report
        )
    ignored = f"; columns the model does not use, ignored: {', '.join(unseen)}" if unseen else ""
    print(f"scored {rows} rows with {resolved.label} into {args.output}{ignored}")
    return 0


def resolve_model(ref: str, open_ws: Callable[[], Workspace]) -> ResolvedModel:
    """The model `ref` names, verified against its manifest; one-line WorkbenchError if none."""
    for resolver in RESOLVERS:
        found = resolver(ref, open_ws)
        if found is not None:
            return found
    raise WorkbenchError(
        f"model {ref!r}: not a bundle folder, a run id (run:12 or 12) nor a registered model "
        "(NAME, NAME:VERSION or NAME@ALIAS)"
    )


def _bundle_folder(ref: str, _open_ws: Callable[[], Workspace]) -> ResolvedModel | None:
    from pipelines.serving.bundle import MANIFEST_FILE, BundleError
    from pipelines.serving.served import load_served

    folder = Path(ref).expanduser()
    if not (folder / MANIFEST_FILE).is_file():
        return None
    try:
        served = load_served(folder)
    except BundleError as exc:
        raise WorkbenchError(str(exc)) from None
    return ResolvedModel(served.manifest, served.model, f"bundle {folder}")


def _run(ref: str, open_ws: Callable[[], Workspace]) -> ResolvedModel | None:
    from pipelines.runs.models import load_run_bundle

    match = re.fullmatch(r"(?:run:)?(\d+)", ref.strip())
    if match is None:
        return None
    run_id = int(match.group(1))
    manifest, model = load_run_bundle(open_ws(), run_id)
    if manifest is None:
        raise WorkbenchError(
            f"run {run_id} keeps a model from before manifests: it has no input schema to "
            "check rows against (sweep again to keep one with a manifest)"
        )
    return ResolvedModel(manifest, model, f"run {run_id}")


def _registered(ref: str, open_ws: Callable[[], Workspace]) -> ResolvedModel | None:
    """NAME, NAME:VERSION or NAME@ALIAS from the registry (its bytes verified there)."""
    from pipelines.registry.versions import load_model_version

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*(?::\d+|@[A-Za-z][A-Za-z0-9_.-]*)?", ref):
        return None
    loaded = load_model_version(open_ws(), ref)
    return ResolvedModel(loaded.manifest, loaded.model, f"model {loaded.record.ref}")


# A bundle folder first (a path may look like a name), then a run id, then the registry.
RESOLVERS: list[Resolver] = [_bundle_folder, _run, _registered]


def file_kind(path: Path, role: str) -> str:
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(READERS))
        raise WorkbenchError(f"{path}: the {role} must be a file ending in one of {known}")
    return kind


def score_file(
    resolved: ResolvedModel,
    source: Path,
    input_kind: str,
    target: Path,
    output_kind: str,
    report: Callable[[str, float | None], None],
) -> tuple[int, list[str]]:
    """Score every row of `source` into `target`; returns (rows, unseen columns)."""
    from pipelines.serving.schema import SchemaError, check_frame
    from pipelines.serving.scoring import score

    manifest = resolved.manifest
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    done, unseen = 0, []
    writer = _Writer(partial, output_kind)
    chunks = ahead(read_chunks(source, input_kind, manifest))
    try:
        with Behind(writer) as behind:
            for chunk, fraction in chunks:
                try:
                    checked = check_frame(manifest.schema, chunk)
                except SchemaError as exc:
                    where = f"rows {done + 1}-{done + len(chunk)}"
                    raise WorkbenchError(
                        f"{source}: {where} do not fit the model's schema: {exc}"
                    ) from None
                _refuse_infinite(checked.frame, source, done)
                unseen += [c for c in checked.unseen if c not in unseen]
                behind.write(_with_scores(chunk, score(resolved.model, manifest, checked.frame)))
                done += len(chunk)
                report(f"{done} rows", fraction)
        writer.close()
        if done == 0:
            raise WorkbenchError(f"{source}: no rows to score")
        os.replace(partial, target)
    finally:
        chunks.close()
        writer.close()
        partial.unlink(missing_ok=True)
    return done, unseen


def read_chunks(
    source: Path, kind: str, manifest: BundleManifest
) -> Iterator[tuple[pd.DataFrame, float]]:
    """The input in chunks of CHUNK_ROWS, each with the fraction of the file read so far.
    Category columns are read as text (as training saw them) and numbers exactly."""
    import pandas as pd

    from pipelines.serving.schema import CATEGORICAL

    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(source)
            total, seen = max(parquet.metadata.num_rows, 1), 0
            for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
                seen += batch.num_rows
                yield batch.to_pandas(), seen / total
            return
        size = max(source.stat().st_size, 1)
        with source.open("rb") as handle:
            if kind == "csv":
                text = {c.name: str for c in manifest.schema.columns if c.kind == CATEGORICAL}
                sep = "\t" if source.suffix.lower() == ".tsv" else ","
                chunks = pd.read_csv(handle, sep=sep, dtype=text, chunksize=CHUNK_ROWS,
                                     float_precision="round_trip")  # fmt: skip
            else:
                chunks = pd.read_json(handle, lines=True, chunksize=CHUNK_ROWS, dtype=False)
            for chunk in chunks:
                yield _numbers_where_they_parse(chunk, manifest), min(handle.tell() / size, 1.0)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"{source}: cannot be read as {kind} ({_one_line(exc)})") from None
    except ImportError as exc:  # pyarrow's own errors subclass these; anything else is a bug
        raise WorkbenchError(f"{source}: cannot be read ({_one_line(exc)})") from None


def _numbers_where_they_parse(chunk: pd.DataFrame, manifest: BundleManifest) -> pd.DataFrame:
    """A text file's number column holding one word is read as text throughout; parse the
    values that are numbers, so the schema check names the word, not the first number."""
    import pandas as pd

    from pipelines.serving.schema import NUMERIC

    for column in manifest.schema.columns:
        if column.kind == NUMERIC and column.name in chunk and chunk[column.name].dtype == object:
            values = chunk[column.name]
            parsed = pd.to_numeric(values, errors="coerce")
            chunk[column.name] = values.where(parsed.isna() & values.notna(), parsed)
    return chunk


def _refuse_infinite(frame: pd.DataFrame, source: Path, done: int) -> None:
    """Infinities (and numbers past LARGEST, as the server refuses them) are refused."""
    import numpy as np

    from pipelines.serving.schema import LARGEST

    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                beyond = np.abs(column.to_numpy()) > LARGEST  # NaN (a gap) compares False
            if beyond.any():
                row = done + int(np.flatnonzero(beyond)[0]) + 1
                raise WorkbenchError(f"{source}: row {row}: {name}: expected a finite number")


def _with_scores(chunk: pd.DataFrame, scored: Any) -> pd.DataFrame:
    added = {"prediction": scored.predictions}
    if scored.probabilities is not None:
        for position, label in enumerate(scored.classes):
            added[f"probability_{label}"] = scored.probabilities[:, position]
    clash = [name for name in added if name in chunk.columns]
    if clash:
        raise WorkbenchError(f"the input already has a column named {clash[0]!r}; rename it")
    out = chunk.reset_index(drop=True).copy()
    for name, values in added.items():
        out[name] = values
    return out


class _Writer:
    """Appends chunks to one CSV, JSON Lines or Parquet file (Parquet's schema is the first
    chunk's; later chunks are cast to it)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.handle: Any = None
        self.parquet: Any = None
        self.first = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
            return
        if self.handle is None:
            self.handle = self.path.open("wb")
        if self.kind == "csv":
            self.handle.write(_csv_bytes(frame, header=self.first))
        else:
            text = io.StringIO()
            _write_json_lines(text, frame)
            self.handle.write(text.getvalue().encode("utf-8"))
        self.first = False

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
            self.parquet = None
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    """The chunk as CSV: Arrow's writer (C++, about 5× pandas' and without the GIL, so it
    runs beside the scoring), with numbers in their shortest exact form; pandas' writer
    for a chunk Arrow cannot type (a column mixing kinds)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if all(_plain_arrow_type(field.type) for field in table.schema):
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=header))
            return bytes(sink.getvalue())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    return frame.to_csv(header=header, index=False, lineterminator="\n").encode("utf-8")


def _plain_arrow_type(kind: Any) -> bool:
    """Text and numbers, which both writers spell alike; anything else (booleans, times)
    keeps pandas' spelling."""
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_null(kind)
    )


def _write_json_lines(handle: Any, frame: pd.DataFrame) -> None:
    """One JSON object per row, floats written exactly (pandas' own writer rounds them)."""
    import json

    import pandas as pd

    columns = [str(c) for c in frame.columns]
    for row in frame.itertuples(index=False, name=None):
        values = [None if _missing(v) else v for v in row]
        values = [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in values]
        handle.write(json.dumps(dict(zip(columns, values, strict=True)), default=_plain) + "\n")


def _missing(value: Any) -> bool:
    import pandas as pd

    return not isinstance(value, list | dict) and bool(pd.isna(value))


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
