"""Alert rules evaluated on each monitoring window, and the drift snapshots they read."""
