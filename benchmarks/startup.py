"""`workbench` start-up as the user meets it: the venv's real `workbench` command launched in
a 140×40 pseudo-terminal on the demo's datasets, timed until the frame that lists them
(`breast_cancer` and `churn` painted, found in the raw terminal output). The floor is a minimal
Textual app (Header + Static("ready") + Footer) run by the same interpreter the same way and
timed until its word is painted. Interleaved repetitions, median and range, the ratio beside
the 1.5× target; then, from one `python -X importtime` run each, the modules paid before the
first frame and the heavy libraries among them.

    python benchmarks/startup.py [--reps 7] [--also DIR]

`--also DIR` times a second source tree (e.g. an older checkout) through the same console
script with PYTHONPATH=DIR, interleaved with the rest: before/after in one run."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
COLUMNS, LINES = 140, 40
TARGET = 1.5
HEAVY = (
    "sqlalchemy",
    "alembic",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "sklearn",
    "optuna",
    "docker",
    "evidently",
    "scipy",
    "httpx",
    "lightgbm",
)
FLOOR_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static


class Floor(App):
    TITLE = "Floor"

    def compose(self):
        yield Header()
        yield Static("ready")
        yield Footer()


Floor().run()
"""
FIRST_FRAME = {"floor": b"ready", "workbench": b"Datasets"}
LISTED = (b"breast_cancer", b"churn")
DEMO_FLAGS = ("--no-tui", "--no-serve")
IMPORT_LINE = re.compile(rb"import time:\s+(\d+) \|\s+(\d+) \| ( *)([\w.]+)")


@dataclass(frozen=True)
class Contestant:
    name: str
    argv: list[str]
    markers: tuple[bytes, ...]  # the last one ends the timing
    pythonpath: str | None = None


def child_env(pythonpath: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONPATH")}
    env["TERM"] = "xterm-256color"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def launch(
    c: Contestant, extra: tuple[str, ...] = (), timeout: float = 60
) -> tuple[dict[bytes, float], bytes]:
    """Fork `c` on a fresh 140×40 terminal; seconds from the fork until each marker first
    appears in its output, and the output. Quits it (ctrl+q) once the last marker is seen."""
    argv = [c.argv[0], *extra, *c.argv[1:]]
    env = child_env(c.pythonpath)
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: size its terminal before anything reads it, then exec
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    seen: dict[bytes, float] = {}
    out = bytearray()
    try:
        while len(seen) < len(c.markers):
            left = start + timeout - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{c.name}: no {c.markers[-1]!r} within {timeout:g} s")
            if not select.select([fd], [], [], left)[0]:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # EIO: the child closed its terminal
                chunk = b""
            if not chunk:
                missing = [m for m in c.markers if m not in seen]
                tail = out[-600:].decode(errors="replace")
                raise RuntimeError(f"{c.name} ended before showing {missing}; output: {tail}")
            now = time.perf_counter()
            out += chunk
            since = max(0, len(out) - len(chunk) - 64)
            for marker in c.markers:
                if marker not in seen and out.find(marker, since) >= 0:
                    seen[marker] = now - start
    finally:
        stop(pid, fd)
    return seen, bytes(out)


def stop(pid: int, fd: int) -> None:
    """ctrl+q (and `q`), drain the terminal for up to 5 s, then kill if it is still there."""
    with contextlib.suppress(OSError):
        os.write(fd, b"\x11")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if select.select([fd], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):
                os.read(fd, 1 << 16)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def imports_before_first_frame(
    c: Contestant, first_frame: bytes
) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) of every import `-X importtime` reports
    before the first frame's marker reaches the terminal (Textual and importtime both
    write to stderr, so the stream keeps their order)."""
    _, out = launch(c, ("-X", "importtime"))
    cut = len(out)
    for found in re.finditer(re.escape(first_frame), out):
        line_start = out.rfind(b"\n", 0, found.start()) + 1
        if b"import time:" not in out[line_start : found.start()]:
            cut = found.start()
            break
    rows = []
    for m in IMPORT_LINE.finditer(out, 0, cut):
        rows.append((m.group(4).decode(), int(m.group(1)), int(m.group(2)), len(m.group(3))))
    return rows


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.3f} s ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--also", type=Path, metavar="DIR", help="another source tree to time")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        subprocess.run(
            [str(BIN / "workbench"), "--workspace", str(workspace), "demo", *DEMO_FLAGS],
            check=True,
            capture_output=True,
        )
        floor_script = Path(folder) / "floor.py"
        floor_script.write_text(FLOOR_APP)
        wb = [str(BIN / "python"), str(BIN / "workbench"), "--workspace", str(workspace)]
        contestants = [
            Contestant("floor", [str(BIN / "python"), str(floor_script)], (b"ready",)),
            Contestant("workbench", wb, (FIRST_FRAME["workbench"], *LISTED)),
        ]
        if args.also:
            also = Contestant(
                f"workbench ({args.also})",
                wb,
                (FIRST_FRAME["workbench"], *LISTED),
                str(args.also.resolve()),
            )
            contestants.append(also)
        times: dict[str, list[dict[bytes, float]]] = {c.name: [] for c in contestants}
        for rep in range(args.reps):
            order = contestants if rep % 2 == 0 else contestants[::-1]
            for c in order:
                times[c.name].append(launch(c)[0])
        imports = {
            c.name: imports_before_first_frame(c, FIRST_FRAME.get(c.name, c.markers[0]))
            for c in contestants
        }
    report(contestants, times, imports, args.reps, load)


def report(
    contestants: list[Contestant],
    times: dict[str, list[dict[bytes, float]]],
    imports: dict[str, list[tuple[str, int, int, int]]],
    reps: int,
    load: tuple[float, ...],
) -> None:
    floor = [t[b"ready"] for t in times["floor"]]
    print(
        f"startup: real `workbench` in a {COLUMNS}×{LINES} pseudo-terminal on the demo's "
        f"datasets, {reps} interleaved repetitions; load average "
        + " ".join(f"{x:.2f}" for x in load)
    )
    lines = [("floor: minimal Textual app, its word painted", summary(floor))]
    for c in contestants[1:]:
        first = [t[c.markers[0]] for t in times[c.name]]
        listed = [max(t[m] for m in LISTED) for t in times[c.name]]
        ratio = statistics.median(listed) / statistics.median(floor)
        verdict = "met" if ratio <= TARGET else "MISSED"
        lines.append((f"{c.name}: first frame", summary(first)))
        lines.append(
            (
                f"{c.name}: datasets listed",
                f"{summary(listed)}  = {ratio:.2f}× the floor (target ≤ {TARGET}×: {verdict})",
            )
        )
    width = max(len(label) for label, _ in lines)
    for label, figure in lines:
        print(f"  {label:<{width}}  {figure}")
    for c in contestants:
        rows = imports[c.name]
        names = {name for name, *_ in rows}
        heavy = sorted({n.split(".")[0] for n in names} & set(HEAVY))
        own_ms = sum(r[1] for r in rows) / 1000
        print(
            f"  {c.name}: {len(names)} modules imported before the first frame "
            f"({own_ms:.0f} ms under -X importtime); heavy: {', '.join(heavy) or 'none'}"
        )
        top = sorted((r for r in rows if r[3] == 0), key=lambda r: -r[2])[:8]
        print("      largest: " + ", ".join(f"{n} {cum / 1000:.0f} ms" for n, _, cum, _ in top))


if __name__ == "__main__":
    sys.exit(main())
