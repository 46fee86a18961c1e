"""Worker.StateChanged does not bubble, so screens and widgets that own workers forward
failures as a bubbling WorkerFailed message to the App's single error router."""

from __future__ import annotations

from textual.worker import Worker, WorkerState

from screens.messages import WorkerFailed


class ForwardsWorkerFailures:
    """Mix into a Screen or Widget that runs workers (a naming-convention handler, so it
    works from a plain mixin)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR and worker.error is not None:
            what = worker.description or worker.name or "background work"
            self.post_message(WorkerFailed(what, worker.error))  # type: ignore[attr-defined]
