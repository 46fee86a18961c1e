"""Registering, inspecting and removing dataset versions: the work behind `workbench data`
and the Datasets screen. Nothing is half-written: the frozen copy is moved into place only
after everything was read and checked, and the database row is one transaction."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.progress import Progress, no_progress
from storage import datasets as repo
from storage.errors import DatasetInputError, WorkbenchError
from storage.handle import Workspace
from storage.records import DatasetSummary, DatasetVersionRecord, ValidationResult

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
HASH_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Registration:
    """What `data add` did: a new version, or the existing one with the same content."""

    version: DatasetVersionRecord
    created: bool
    message: str
    warnings: list[str] = field(default_factory=list)


def default_name(path: Path) -> str:
    """'churn_v1.csv.gz' -> 'churn_v1'."""
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.-") or "dataset"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise WorkbenchError(
            f"{name!r} is not a valid dataset name: use letters, digits, '_', '-' or '.'"
        )
    return name


def check_source_file(path: Path) -> int:
    """The file's size, or a one-line error for what makes it unusable."""
    if not path.exists():
        raise DatasetInputError(f"{path}: no such file")
    if path.is_dir():
        raise DatasetInputError(f"{path}: is a directory, not a file")
    size = path.stat().st_size
    if size == 0:
        raise DatasetInputError(f"{path}: file is empty")
    return size


def sha256_of(path: Path, progress: Progress = no_progress) -> str:
    digest = hashlib.sha256()
    total = max(path.stat().st_size, 1)
    done = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                progress("hashing", done / total)
    except OSError as exc:
        raise DatasetInputError(f"{path}: cannot read ({exc.strerror})") from None
    return digest.hexdigest()


def register_dataset(
    ws: Workspace,
    path: Path,
    *,
    name: str | None = None,
    target: str | None = None,
    reference: bool = False,
    progress: Progress = no_progress,
) -> Registration:
    """Add `path` as the next version of `name`; the same content again is a no-op."""
    from pipelines.ingest import convert_to_parquet
    from pipelines.profiling import profile_parquet
    from pipelines.validation import validate_against

    path = Path(path).expanduser()
    name = check_name(name or default_name(path))
    size = check_source_file(path)
    digest = sha256_of(path, progress)
    existing = repo.find_version_by_sha(ws.db, name, digest)
    if existing is not None:
        return Registration(
            existing,
            created=False,
            message=f"{path}: same content as {existing.ref} (sha256 {digest[:12]}), nothing added",
        )
    previous = repo.latest_version(ws.db, name)
    target = target or (previous.target if previous else None)
    final_path = ws.paths.datasets / f"{digest}.parquet"
    with _incoming_file(ws) as incoming:
        progress("reading", None)
        ingested = convert_to_parquet(path, incoming)
        if target is not None and target not in ingested.columns:
            raise DatasetInputError(
                f"{path}: target column {target!r} not found "
                f"(columns: {_short_list(ingested.columns)})"
            )
        progress("profiling", None)
        schema, profile = profile_parquet(incoming)
        progress("validating", None)
        validation = validate_against(
            (previous.label, previous.schema, previous.profile) if previous else None,
            (schema, profile),
        )
        placed = False
        if not reference and not final_path.exists():
            os.replace(incoming, final_path)
            placed = True
        progress("saving", None)
        try:
            version = repo.add_version(
                ws.db,
                name=name,
                sha256=digest,
                source_path=str(path.resolve()),
                stored_path=None if reference else str(final_path.relative_to(ws.root)),
                file_format=ingested.file_format,
                read_options=ingested.read_options,
                size_bytes=size,
                row_count=ingested.row_count,
                target=target,
                schema=schema,
                profile=profile,
                validation=validation,
            )
        except BaseException:
            if placed:
                final_path.unlink(missing_ok=True)
            raise
    progress("done", 1.0)
    warnings = [f"{c.check}: {c.reason}" for c in validation.checks if c.status != "pass"]
    kept = "kept by reference" if reference else "frozen copy stored"
    return Registration(
        version,
        created=True,
        message=(
            f"added {version.ref}: {version.row_count:,} rows × {version.column_count} columns, "
            f"sha256 {digest[:12]}, {kept}; validation {validation.status}"
        ),
        warnings=warnings,
    )


def validate_file(ws: Workspace, name: str, path: Path) -> ValidationResult:
    """Check a candidate file against the newest version of `name` without registering it."""
    from pipelines.ingest import convert_to_parquet
    from pipelines.profiling import profile_parquet
    from pipelines.validation import validate_against

    path = Path(path).expanduser()
    check_source_file(path)
    previous = repo.get_version(ws.db, name)
    with tempfile.TemporaryDirectory(prefix="workbench-validate-") as folder:
        converted = Path(folder) / "candidate.parquet"
        convert_to_parquet(path, converted)
        schema, profile = profile_parquet(converted)
    return validate_against((previous.label, previous.schema, previous.profile), (schema, profile))


def list_datasets(ws: Workspace) -> list[DatasetSummary]:
    return repo.list_datasets(ws.db)


def list_versions(ws: Workspace, name: str) -> list[DatasetVersionRecord]:
    return repo.list_versions(ws.db, name)


def get_version(ws: Workspace, ref: str) -> DatasetVersionRecord:
    return repo.get_version(ws.db, ref)


def reference_warning(version: DatasetVersionRecord) -> str | None:
    """For a version kept by reference: say so when its file moved or changed."""
    if not version.is_reference:
        return None
    source = Path(version.source_path)
    if not source.is_file():
        return f"{version.ref}: referenced file {source} is missing"
    if source.stat().st_size != version.size_bytes or sha256_of(source) != version.sha256:
        return f"{version.ref}: referenced file {source} has changed since it was registered"
    return None


def browsable_path(ws: Workspace, version: DatasetVersionRecord) -> Path:
    """A Parquet file holding the version's rows: the frozen copy, the referenced Parquet
    file, or a cached Parquet conversion of a referenced text file."""
    from pipelines.ingest import convert_to_parquet

    if version.stored_path is not None:
        stored = ws.root / version.stored_path
        if not stored.is_file():
            raise WorkbenchError(
                f"{version.ref}: frozen copy {stored} is missing from the workspace"
            )
        return stored
    source = Path(version.source_path)
    if not source.is_file():
        raise WorkbenchError(f"{version.ref}: referenced file {source} is missing")
    if version.file_format == "parquet":
        return source
    cached = ws.paths.root / "cache" / f"{version.sha256}.parquet"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        convert_to_parquet(source, cached, version.read_options)
    return cached


def remove(ws: Workspace, ref: str) -> list[DatasetVersionRecord]:
    """Remove a dataset (`name`) or one version (`name@D1`) and frozen copies no longer used."""
    name, index = repo.parse_version_ref(ref)
    removed = (
        [repo.delete_version(ws.db, ref)] if index is not None else repo.delete_dataset(ws.db, name)
    )
    for stored in {v.stored_path for v in removed if v.stored_path}:
        if not repo.stored_path_in_use(ws.db, stored):
            (ws.root / stored).unlink(missing_ok=True)
    return removed


@contextmanager
def _incoming_file(ws: Workspace) -> Iterator[Path]:
    """A temporary path next to the frozen copies (same filesystem: the move is atomic),
    removed whatever happens."""
    incoming = ws.paths.datasets / f".incoming-{uuid.uuid4().hex}.parquet"
    try:
        yield incoming
    finally:
        incoming.unlink(missing_ok=True)


def _short_list(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
