"""Deployments: a serving image run as a container, or the same app as a supervised local
process, watched over HTTP. Nothing here imports Textual."""
