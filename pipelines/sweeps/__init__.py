"""Sweeps: the spec, model families, training, the trial worker and study storage."""
