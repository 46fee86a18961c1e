"""What a stored model needs at prediction time, and nothing else of Workbench: the
converters its fitted pipeline references, the hash-verified model bundle, the input schema
check, the scoring shared by the server and `workbench predict`, and the HTTP app with its
request log. It imports only the standard library, numpy, pandas, scikit-learn, LightGBM and
the HTTP stack (FastAPI, uvicorn, pydantic), because it is copied into serving images alone;
`tests/test_serving_isolation.py` holds that."""
