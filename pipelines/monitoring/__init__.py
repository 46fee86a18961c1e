"""Watching a running deployment: its logged requests pulled into a sliding window
(`feed`, `window`), real performance once labels arrive (`performance`), estimated
performance before they do (`estimate`), schema drift against the registered schema
(`schema_drift`), and simulated traffic for demos and tests (`simulate`).

Nothing here imports pandas or numpy at module level, so the CLI and the TUI can import it
at start-up; the drift statistics themselves live in `pipelines.drift`."""
