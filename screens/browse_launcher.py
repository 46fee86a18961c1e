"""Opening the row browser for a version: finding its Parquet file can take a conversion,
so it happens in a worker of the screen that asked, which then asks the App to show it
(BrowseRows bubbles from the screen up to the App)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from screens.messages import BrowseRows

if TYPE_CHECKING:
    from storage.handle import Workspace
    from storage.records import DatasetVersionRecord


def browse_version(screen: Screen[object], ws: Workspace, version: DatasetVersionRecord) -> None:
    def locate() -> None:
        from pipelines.datasets.versions import browsable_path

        path = browsable_path(ws, version)
        title = f"{version.ref} · {version.row_count:,} rows · {version.sha256[:12]}"
        screen.post_message(BrowseRows(path, title))

    screen.run_worker(
        locate,
        thread=True,
        exclusive=True,
        group="browse",
        exit_on_error=False,
        description=f"opening rows of {version.ref}",
    )
