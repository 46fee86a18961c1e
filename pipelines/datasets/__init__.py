"""Datasets: ingest, validation, profiling and browsing of dataset versions."""
