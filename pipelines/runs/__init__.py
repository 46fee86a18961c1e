"""Runs: details, tables for screens, comparison, model insight and export."""
