"""What made a run: interpreter, libraries, platform, git state, and GPUs (none here)."""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("scikit-learn", "lightgbm", "optuna", "numpy", "pandas", "pyarrow", "workbench")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state(folder: Path) -> dict[str, Any]:
    """Commit and dirty flag of the working directory, or why there are none."""
    if shutil.which("git") is None:
        return {"commit": None, "dirty": None, "note": "git not installed"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (subprocess.SubprocessError, OSError):
        return {"commit": None, "dirty": None, "note": f"{folder} is not a git repository"}
    return {"commit": commit, "dirty": dirty}


def gpu_state() -> dict[str, Any]:
    """NVML through nvidia-smi when present; otherwise say plainly that there is none."""
    if shutil.which("nvidia-smi") is None:
        return {"gpus": [], "note": "no NVIDIA driver found: training runs on the CPU"}
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        return {"gpus": [], "note": f"nvidia-smi failed ({exc}): training runs on the CPU"}
    gpus = [line.strip() for line in out.splitlines() if line.strip()]
    return {"gpus": gpus, "note": "" if gpus else "no GPU visible: training runs on the CPU"}


def capture_environment(folder: Path | None = None) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "host": socket.gethostname(),
        "libraries": library_versions(),
        "git": git_state(folder or Path.cwd()),
        "gpu": gpu_state(),
    }
