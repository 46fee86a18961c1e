"""HTML reports in a real headless Chromium, with the network unreachable: every figure
renders, no script error or rejected promise, and a screenshot shows a drawn page.

Skipped when Chromium is missing, unless WORKBENCH_REQUIRE_CHROMIUM=1 (CI sets it)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines.reports.writing import write_runs_report, write_sweep_report
from pipelines.sweeps import lifecycle as sweeps
from pipelines.sweeps.worker import run_worker
from storage import sweeps as repo
from storage.handle import Workspace
from tests.sweep_helpers import add_sample

# Read at import: the autouse fixture clears WORKBENCH_* variables before each test.
REQUIRE = os.environ.get("WORKBENCH_REQUIRE_CHROMIUM") == "1"
CHROMIUM = shutil.which("chromium")
TIMEOUT_S = 180

# First in <head>: record uncaught errors, rejected promises and console.error calls.
PROBE = """<script>
(function () {
  var root = document.documentElement, errors = [];
  function record(text) {
    errors.push(String(text));
    root.setAttribute("data-errors", JSON.stringify(errors));
  }
  root.setAttribute("data-errors", "[]");
  window.addEventListener("error", function (e) { record("error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) {
    record("rejection: " + (e.reason && e.reason.message || e.reason));
  });
  var original = console.error;
  console.error = function () {
    record("console: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();
</script>"""

# Last in <body>: once loaded and settled, count what was drawn.
COUNTER = """<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    var root = document.documentElement;
    function count(selector) { return String(document.querySelectorAll(selector).length); }
    root.setAttribute("data-expected", count("div.plot[data-figure]"));
    root.setAttribute("data-rendered", count("div.plot[data-rendered=true]"));
    root.setAttribute("data-plotly", count("div.plot.js-plotly-plot"));
    root.setAttribute("data-svg", count("div.plot .main-svg"));
    root.setAttribute("data-failed", count(".plot-error"));
    root.setAttribute("data-done", "true");
  }, 1500);
});
</script>"""


class RootAttributes(HTMLParser):
    """The attributes of the dumped DOM's <html> element."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: dict[str, str] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html" and not self.found:
            self.found = {k: v or "" for k, v in attrs}


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if REQUIRE:
            pytest.fail("chromium is not installed but WORKBENCH_REQUIRE_CHROMIUM=1")
        pytest.skip("chromium is not installed")
    return CHROMIUM


@pytest.fixture
def pages(workspace: Workspace, tmp_path: Path) -> list[Path]:
    """A real LightGBM sweep's report and a report of three of its runs."""
    add_sample(workspace, "wine", "cultivar")
    spec = {"dataset": "wine", "model": "lightgbm", "trials": 4, "folds": 3, "pruner": "none"}
    created = sweeps.create_sweep(workspace, spec)
    run_worker(workspace, created.sweep.id)
    runs = repo.list_runs(workspace.db, sweep_id=created.sweep.id, order_by="trial")
    return [
        write_sweep_report(workspace, created.sweep.id, "html", tmp_path / "sweep.html"),
        write_runs_report(workspace, [r.id for r in runs[:3]], "html", output=tmp_path / "r.html"),
    ]


def browse(binary: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    """Chromium headless with a fresh profile and every host unresolvable (no network)."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
    ]
    command = [binary, *flags, *extra, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def instrumented(page: Path, folder: Path) -> Path:
    """A copy of the report with the probe first in <head> and the counter last in <body>."""
    text = page.read_text(encoding="utf-8")
    assert text.count("<head>") == 1 and text.count("</body>") == 1
    text = text.replace("<head>", "<head>" + PROBE, 1).replace("</body>", COUNTER + "</body>", 1)
    copy = folder / f"probed-{page.name}"
    copy.write_text(text, encoding="utf-8")
    return copy


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_reports_render_in_chromium_offline(
    chromium: str, pages: list[Path], tmp_path: Path
) -> None:
    for index, page in enumerate(pages):
        copy = instrumented(page, tmp_path)
        result = browse(chromium, copy, tmp_path / f"profile-dom-{index}", "--dump-dom")
        assert result.returncode == 0, result.stderr[-2000:]
        root = RootAttributes(result.stdout).found
        assert root.get("data-done") == "true", f"{page.name}: page never settled"
        assert root["data-errors"] == "[]", f"{page.name}: {root['data-errors']}"
        expected = int(root["data-expected"])
        assert expected >= 3, f"{page.name}: only {expected} plots"
        assert int(root["data-rendered"]) == expected
        assert int(root["data-plotly"]) == expected
        assert int(root["data-svg"]) >= expected
        assert root["data-failed"] == "0"

        shot = tmp_path / f"{page.stem}.png"
        result = browse(
            chromium,
            page,
            tmp_path / f"profile-shot-{index}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            "--hide-scrollbars",
        )
        assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
        assert png_size(shot) == (1280, 2000)
        assert shot.stat().st_size > 50_000, "the screenshot is nearly blank"
