"""Serving images: the build context a model version becomes, and the Docker engine that
builds and lists them. Nothing here imports Textual; the engine client (the `docker` SDK)
is imported only when an engine is asked for."""
