"""The serving app fuzzed from its own OpenAPI document (schemathesis, loopback only): a real
`python -m pipelines.serving` on 127.0.0.1 gets valid and deliberately invalid requests for
every endpoint its document lists (predict with one record or a list, feedback, health,
metadata, monitoring records), bounded in examples. No request may get a 5xx, every answer
must match the document, invalid input must be refused and valid input accepted, and the
server must still answer /health afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis import Case

from tests.serving_helpers import CLEAN_STOP, Server, churn_sweep, export_bundle

# Examples per operation in the fuzzing phase (the examples and coverage phases come first);
# WORKBENCH_FUZZ_EXAMPLES and WORKBENCH_FUZZ_SEED make a longer or another run.
EXAMPLES = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "60"))
SEED = int(os.environ.get("WORKBENCH_FUZZ_SEED", "20261201"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serving-fuzz")
    bundle = export_bundle(root / "ws", churn_sweep(root / "ws"), root / "bundle")
    served = Server(bundle, root / "log", max_body=64 * 1024)
    yield served
    assert served.stop() == CLEAN_STOP


@pytest.fixture(scope="module")
def api(server: Server) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": 30,
        }
    )
    return schemathesis.openapi.from_url(
        f"http://127.0.0.1:{server.port}/openapi.json", config=config
    )


fuzzed = schemathesis.pytest.from_fixture("api")


@fuzzed.parametrize()
def test_every_endpoint_answers_fuzzed_requests_without_a_server_error(
    case: Case, server: Server
) -> None:
    case.call_and_validate(base_url=f"http://127.0.0.1:{server.port}")


def test_the_document_describes_every_request_body(server: Server) -> None:
    status, document, _ = server.call("GET", "/openapi.json")
    assert status == 200
    paths = document["paths"]
    assert set(paths) >= {"/predict", "/feedback", "/health", "/metadata", "/monitoring/records"}
    predict = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    one, many = predict["oneOf"]
    assert one["type"] == "object" and many["type"] == "array" and many["items"] == one
    feedback = paths["/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert feedback["required"] == ["request_id", "label"]


def test_the_server_still_answers_after_the_fuzzing(server: Server) -> None:
    status, health, _ = server.call("GET", "/health")
    assert status == 200 and health["status"] == "ok"
    assert health["last_request_id"] > EXAMPLES  # the fuzzed predictions were logged
    assert server.process.poll() is None
