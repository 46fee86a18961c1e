"""TUI cold start: a fresh interpreter, `workbench` imported, the app run headless until its
first frame is on screen and the workspace (with its datasets) is shown. Prints figures."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = r"""
import time, sys
t0 = time.perf_counter()
from pathlib import Path
from workbench.app import WorkbenchApp
t_import = time.perf_counter()
first_frame = {}
ready = {}

class Probe(WorkbenchApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: first_frame.setdefault("t", time.perf_counter()))

async def main():
    app = Probe(Path(sys.argv[1]))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        while app.workspace is None or not app.datasets_screen.summaries:
            await pilot.pause(0.005)
        ready["t"] = time.perf_counter()

import asyncio
asyncio.run(main())
print(t_import - t0, first_frame["t"] - t0, ready["t"] - t0)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        subprocess.run(
            [sys.executable, "-m", "workbench", "--workspace", str(workspace), "demo", "--no-tui"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        runs = []
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(workspace)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            runs.append([float(x) for x in out])
    imports, frames, ready = zip(*runs, strict=True)
    print(f"import workbench.app: {statistics.median(imports):.3f} s (median of 5)")
    print(f"cold start to first frame: {statistics.median(frames):.3f} s (median of 5)")
    print(f"cold start to datasets listed: {statistics.median(ready):.3f} s (median of 5)")


if __name__ == "__main__":
    main()
