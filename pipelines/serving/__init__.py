"""What a stored model needs at prediction time, and nothing else of Workbench: the
converters its fitted pipeline references, the hash-verified model bundle and the input
schema check (next: the HTTP app and the request log). It imports only the standard library,
numpy, pandas, scikit-learn and LightGBM, because it is copied into serving images alone;
`tests/test_serving_isolation.py` holds that."""
