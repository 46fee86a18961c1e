"""Watching a deployment for drift: its reference (the rows its model was trained on), its
recent traffic as a window, and the refresh that turns both into what the live panel,
the snapshots and the alerts read. UI-free; the App's live layer calls it off the UI
thread."""
