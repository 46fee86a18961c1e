"""The artifact store refuses bytes that no longer match their sha256."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.artifacts import ArtifactError, ArtifactStore


def test_reads_are_verified(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    sha = store.put_bytes(b"model bytes")
    assert store.get_bytes(sha) == b"model bytes"
    store.path_for(sha).write_bytes(b"model bytez")
    with pytest.raises(ArtifactError, match="damaged or was replaced"):
        store.get_bytes(sha)
    store.delete(sha)
    with pytest.raises(ArtifactError, match=f"artifact {sha[:12]}… is missing"):
        store.get_bytes(sha)
