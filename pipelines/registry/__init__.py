"""The model registry: a run's kept model registered as a numbered, hash-verified model
version with its input schema and lineage, aliases that move atomically, and diffs."""
