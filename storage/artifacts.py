"""Content-addressed artifact store: artifacts/ab/abcdef… by sha256, written atomically,
and verified on every read: bytes that no longer hash to their name are refused, so a
damaged or replaced file never passes for the artifact a record points at."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from storage.errors import WorkbenchError


class ArtifactError(WorkbenchError):
    """An artifact that is missing, unreadable or whose bytes do not match its sha256."""


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path_for(sha256)
        if final.exists():
            return sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{sha256}.{uuid.uuid4().hex}.partial")
        try:
            partial.write_bytes(data)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        return sha256

    def get_bytes(self, sha256: str) -> bytes:
        """The artifact's bytes, only if they still hash to `sha256`."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactError(
                f"artifact {sha256[:12]}… is missing from the workspace ({path})"
            ) from None
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ArtifactError(
                f"{path}: content hashes to {actual[:12]}…, not {sha256[:12]}…: the artifact is "
                "damaged or was replaced"
            )
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)
