"""Registering, inspecting and removing dataset versions: the work behind `workbench data`
and the Datasets screen. Nothing is half-written: the frozen copy is moved into place only
after everything was read and checked, and the database row is one transaction.

The recorded sha256 is the content converted (hashed beside it, pipelines.datasets.hashing;
the file's identity the same throughout, or the add is refused); a file the size of a known
version is hashed first, so the same content again is found without converting it. A frozen
copy is placed and its row inserted under one workspace lock, so concurrent adds of the same
file end with one version and its copy.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.datasets.hashing import FileIdentity, background_hash, changed, hash_file
from pipelines.datasets.hashing import identity as file_identity
from pipelines.progress import Progress, no_progress
from storage import datasets as repo
from storage import registry as models_repo
from storage.errors import DatasetInputError, WorkbenchError
from storage.handle import Workspace
from storage.records import (
    ColumnSchema,
    DatasetProfile,
    DatasetSummary,
    DatasetVersionRecord,
    ValidationResult,
)
from storage.scratch import exclusive_lock, remove_stale_scratch, scratch_name

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
LEGACY_ENCODINGS = {"cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)"}


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
    from pipelines.datasets.ingest import check_file

    return check_file(path).st_size


def check_unchanged(path: Path, identity: FileIdentity) -> None:
    """Refuse when the path no longer names the very file that was hashed, unchanged."""
    try:
        now = file_identity(path.stat())
    except OSError:
        raise changed(path) from None
    if now != identity:
        raise changed(path)


def sha256_of(path: Path, progress: Progress = no_progress) -> str:
    return hash_file(path, progress)[0]


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
    from pipelines.datasets.ingest import convert_to_parquet
    from pipelines.datasets.profiling import profile_parquet

    path = Path(path).expanduser()
    name = check_name(name or default_name(path))
    remove_stale_temporaries(ws)
    known = None
    if _same_size_exists(ws, name, check_source_file(path)):
        known = hash_file(path, progress)
        existing = repo.find_version_by_sha(ws.db, name, known[0])
        if existing is not None:
            return _same_content(path, existing)
    before = file_identity(path.stat())  # before any byte is read: later changes show
    previous = repo.latest_version(ws.db, name)
    with _incoming_file(ws) as incoming, background_hash(path, known) as hashing:
        progress("reading", None)
        ingested = convert_to_parquet(path, incoming)
        chosen = _target(path, target, previous, ingested.columns)
        progress("profiling", None)
        schema, profile = ingested.profile or profile_parquet(incoming)
        digest, identity = hashing.result()
        if identity != before:
            raise changed(path)
        check_unchanged(path, identity)  # the rows read are the bytes hashed
        final_path = ws.paths.datasets / f"{digest}.parquet"
        with _frozen_copies_lock(ws):
            existing = repo.find_version_by_sha(ws.db, name, digest)
            if existing is not None:  # a concurrent add of the same file got there first
                return _same_content(path, existing)
            newest = repo.latest_version(ws.db, name)
            if newest != previous:  # another version landed meanwhile: compare with it
                previous, chosen = newest, _target(path, target, newest, ingested.columns)
            progress("validating", None)
            validation = _validate(previous, schema, profile)
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
                    stored_path=None if reference else ws.paths.relative(final_path),
                    file_format=ingested.file_format,
                    read_options=ingested.read_options,
                    size_bytes=identity[2],
                    row_count=ingested.row_count,
                    target=chosen,
                    schema=schema,
                    profile=profile,
                    validation=validation,
                )
            except repo.DuplicateVersionError as duplicate:  # added through another folder
                return _same_content(path, duplicate.existing)
            except BaseException:
                if placed:
                    _remove_unused_copy(ws, final_path)
                raise
    progress("done", 1.0)
    warnings = [f"{c.check}: {c.reason}" for c in validation.checks if c.status != "pass"]
    encoding = ingested.read_options.get("encoding")
    if encoding in LEGACY_ENCODINGS:  # a reading chosen, not given: say so, never silently
        warnings.insert(
            0, f"encoding: the file is not UTF-8 and was read as {LEGACY_ENCODINGS[encoding]}"
        )
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


def _same_size_exists(ws: Workspace, name: str, size: int) -> bool:
    """Whether a version of `name` has this many bytes (the same content must)."""
    if repo.latest_version(ws.db, name) is None:
        return False
    return any(v.size_bytes == size for v in repo.list_versions(ws.db, name))


def _same_content(path: Path, existing: DatasetVersionRecord) -> Registration:
    return Registration(
        existing,
        created=False,
        message=(
            f"{path}: same content as {existing.ref} (sha256 {existing.sha256[:12]}), nothing added"
        ),
    )


def _target(
    path: Path, given: str | None, previous: DatasetVersionRecord | None, columns: list[str]
) -> str | None:
    """The target asked for, else the previous version's; it must be one of the columns."""
    chosen = given or (previous.target if previous else None)
    if chosen is not None and chosen not in columns:
        raise DatasetInputError(
            f"{path}: target column {chosen!r} not found (columns: {_short_list(columns)})"
        )
    return chosen


def _validate(
    previous: DatasetVersionRecord | None, schema: list[ColumnSchema], profile: DatasetProfile
) -> ValidationResult:
    from pipelines.datasets.validation import validate_against

    return validate_against(
        (previous.label, previous.schema, previous.profile) if previous else None,
        (schema, profile),
    )


def validate_file(ws: Workspace, name: str, path: Path) -> ValidationResult:
    """Check a candidate file against the newest version of `name` without registering it."""
    from pipelines.datasets.ingest import convert_to_parquet
    from pipelines.datasets.profiling import profile_parquet
    from pipelines.datasets.validation import validate_against

    path = Path(path).expanduser()
    check_source_file(path)
    previous = repo.get_version(ws.db, name)
    remove_stale_temporaries(ws)
    with _incoming_file(ws) as converted:
        ingested = convert_to_parquet(path, converted)
        schema, profile = ingested.profile or profile_parquet(converted)
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
    from pipelines.datasets.ingest import convert_to_parquet

    if version.stored_path is not None:
        stored = ws.paths.resolve(version.stored_path)
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
    cached = ws.paths.cache / f"{version.sha256}.parquet"
    if not cached.is_file():
        remove_stale_temporaries(ws)
        cached.parent.mkdir(parents=True, exist_ok=True)
        convert_to_parquet(source, cached, version.read_options)
    return cached


@dataclass(frozen=True)
class Removal:
    """What `data rm` removed, and the sweeps a forced removal left without their data."""

    removed: list[DatasetVersionRecord]
    orphaned: list[repo.VersionUser]

    @property
    def message(self) -> str:
        text = "removed " + ", ".join(v.ref for v in self.removed)
        if self.orphaned:
            text += (
                f"; orphaned {describe_users(self.orphaned)}: their runs can no longer be "
                "reproduced from this data"
            )
        return text


def removal_users(ws: Workspace, ref: str) -> list[repo.VersionUser]:
    """The sweeps that removing `ref` (a dataset, or one `name@Dn`) would orphan."""
    return repo.version_users(ws.db, _versions_of(ws, ref))


def describe_users(users: list[repo.VersionUser], limit: int = 3) -> str:
    """'sweep 3 "churn-lgbm" (20 runs, on churn@D0)' for the first few, then a count."""
    parts = [
        f"sweep {u.sweep_id} {u.sweep_name!r} ({u.run_count} run{'s' * (u.run_count != 1)}"
        f", on {u.version_ref})"
        for u in users[:limit]
    ]
    if len(users) > limit:
        parts.append(f"{len(users) - limit} more sweep{'s' * (len(users) - limit != 1)}")
    return ", ".join(parts)


def remove(ws: Workspace, ref: str, *, force: bool = False) -> Removal:
    """Remove a dataset (`name`) or one version (`name@D1`) and frozen copies no longer used.
    A version that sweeps trained on is refused, naming them, unless `force`, which detaches
    those sweeps (the database refuses the delete otherwise)."""
    name, index = repo.parse_version_ref(ref)
    models = models_repo.version_users(
        ws.db, dataset_version_ids=[v.id for v in _versions_of(ws, ref)]
    )
    if models:  # even forced: a registered model keeps its data (the database refuses too)
        shown = ", ".join(m.ref for m in models[:3]) + (", …" if len(models) > 3 else "")
        raise WorkbenchError(
            f"{ref} is used by model version{'s' * (len(models) != 1)} {shown}: remove "
            "them first (`workbench model rm NAME:VERSION`); nothing was removed"
        )
    users = removal_users(ws, ref)
    if users and not force:
        raise WorkbenchError(
            f"{ref} is used by {describe_users(users)}; removing it would leave their runs "
            "without data to reproduce them: pass --force to remove it anyway"
        )
    with _frozen_copies_lock(ws):
        try:
            removed = (
                [repo.delete_version(ws.db, ref, orphan=force)]
                if index is not None
                else repo.delete_dataset(ws.db, name, orphan=force)
            )
        except repo.VersionInUseError:
            raise WorkbenchError(
                f"{ref}: a sweep or a model version started using it meanwhile, and the "
                "database refuses to remove a version in use; nothing was removed"
            ) from None
        for stored in {v.stored_path for v in removed if v.stored_path}:
            _remove_unused_copy(ws, ws.paths.resolve(stored))
    return Removal(removed, users)


def _versions_of(ws: Workspace, ref: str) -> list[DatasetVersionRecord]:
    name, index = repo.parse_version_ref(ref)
    return [repo.get_version(ws.db, ref)] if index is not None else repo.list_versions(ws.db, name)


def remove_stale_temporaries(ws: Workspace) -> list[Path]:
    """Half-written copies left by killed commands (their process is gone)."""
    return remove_stale_scratch([ws.paths.datasets, ws.paths.cache])


@contextmanager
def _frozen_copies_lock(ws: Workspace) -> Iterator[None]:
    """Held while a frozen copy is placed or removed together with its row, so one add never
    removes (or trusts) a copy another add or `data rm` is deciding about."""
    with exclusive_lock(ws.paths.datasets):
        yield


def _remove_unused_copy(ws: Workspace, stored: Path) -> None:
    """Delete a frozen copy no version points at (copies are shared by content); if the
    database cannot say, keep it: a stray file is better than a missing one."""
    try:
        in_use = repo.stored_path_in_use(ws.db, ws.paths.relative(stored))
    except WorkbenchError:
        return
    if not in_use:
        with contextlib.suppress(OSError):
            stored.unlink(missing_ok=True)


@contextmanager
def _incoming_file(ws: Workspace) -> Iterator[Path]:
    """A temporary path next to the frozen copies (same filesystem: the move is atomic),
    removed whatever happens; its name carries this process (see storage.scratch)."""
    incoming = ws.paths.datasets / scratch_name("incoming", ".parquet")
    try:
        yield incoming
    finally:
        incoming.unlink(missing_ok=True)


def _short_list(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
