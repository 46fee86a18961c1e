"""Retraining that closes the loop: policies that say when, and the pipeline that does it."""
