"""Export the README picture from the app itself: the Datasets screen on the demo data."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_helpers import build_demo_workspace, settle  # noqa: E402
from workbench.app import WorkbenchApp  # noqa: E402

WORK = Path("/tmp/workbench-readme")


async def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    root = build_demo_workspace(WORK / "demo", WORK / "data")
    app = WorkbenchApp(root)
    async with app.run_test(size=(140, 34)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        svg = app.export_screenshot(title="workbench demo")
    target = ROOT / "assets" / "screenshot.svg"
    target.write_text(svg, encoding="utf-8")
    shutil.rmtree(WORK, ignore_errors=True)
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
