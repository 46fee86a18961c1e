"""The drift engine's one error: bad input named in a single line."""

from __future__ import annotations

from storage.errors import WorkbenchError


class DriftError(WorkbenchError):
    """A reference, a window or an option cannot be used; the message names which and why."""
