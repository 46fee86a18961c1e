"""The serving app over real HTTP: a real uvicorn process on 127.0.0.1 serving the bundle a
real sweep kept; every endpoint, every kind of bad request, and the server still up after."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.serving.served import write_metadata
from tests.serving_helpers import (
    CLEAN_STOP,
    FEATURES,
    ROOT,
    Server,
    churn_rows,
    churn_sweep,
    export_bundle,
)

MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serving-ws")
    run_id = churn_sweep(root / "ws")
    return export_bundle(root / "ws", run_id, root / "bundle")


@pytest.fixture(scope="module")
def server(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = Server(bundle, tmp_path_factory.mktemp("serving-log"), max_body=MAX_BODY)
    yield served
    assert served.stop() == CLEAN_STOP


def records(server: Server, after: int = 0, limit: int = 100) -> dict[str, Any]:
    status, answer, _ = server.call("GET", f"/monitoring/records?after={after}&limit={limit}")
    assert status == 200
    return answer


def still_serving(server: Server) -> None:
    assert server.call("GET", "/health")[0] == 200
    status, answer, _ = server.call("POST", "/predict", churn_rows(1)[0])
    assert status == 200 and len(answer["predictions"]) == 1


def test_health_metadata_and_the_openapi_document(server: Server, bundle: Path) -> None:
    status, health, _ = server.call("GET", "/health")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert status == 200 and health["status"] == "ok"
    assert health["version"] == manifest["sha256"][:12]
    assert health["model"] == f"run-{manifest['extra']['run_id']}"

    status, meta, _ = server.call("GET", "/metadata")
    assert status == 200 and meta["task"] == "classification" and meta["classes"] == ["no", "yes"]
    assert [c["name"] for c in meta["schema"]["columns"]] == FEATURES
    assert meta["lineage"]["run_id"] == manifest["extra"]["run_id"]
    assert meta["lineage"]["dataset_sha"] == manifest["extra"]["dataset_sha"]
    assert meta["sha256"] == manifest["sha256"] and meta["target"] == "churned"
    assert meta["scoring"].startswith("compiled, identical on")  # the fast path is in use

    status, spec, _ = server.call("GET", "/openapi.json")
    assert status == 200
    paths = spec["paths"]
    assert {"/predict", "/health", "/metadata", "/feedback", "/monitoring/records"} <= set(paths)
    body = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    record = body["oneOf"][0]
    assert record["required"] == FEATURES and record["additionalProperties"] is True
    assert record["properties"]["tenure_months"]["type"] == ["number", "null"]


def test_one_record_or_a_list_gets_predictions_probabilities_and_an_id(server: Server) -> None:
    rows = churn_rows(5)
    status, one, _ = server.call("POST", "/predict", rows[0])
    assert status == 200, one
    assert one["predictions"][0] in ("no", "yes") and one["classes"] == ["no", "yes"]
    assert set(one["probabilities"][0]) == {"no", "yes"}
    assert abs(sum(one["probabilities"][0].values()) - 1) < 1e-9
    assert one["unseen"] == [] and one["version"] and one["model"]

    status, many, _ = server.call("POST", "/predict", rows)
    assert status == 200 and len(many["predictions"]) == 5 and len(many["probabilities"]) == 5
    assert many["request_id"] > one["request_id"]
    assert many["predictions"][0] == one["predictions"][0]
    assert many["probabilities"][0] == one["probabilities"][0]  # batch-independent


def test_a_missing_or_mistyped_feature_is_422_naming_the_fields(server: Server) -> None:
    row = churn_rows(1)[0]
    missing = {k: v for k, v in row.items() if k not in ("region", "contract")}
    status, answer, _ = server.call("POST", "/predict", missing)
    assert status == 422 and set(answer["fields"]) == {"region", "contract"}
    assert "region" in answer["detail"] and "\n" not in answer["detail"]
    assert answer["request_id"] >= 1

    status, answer, _ = server.call("POST", "/predict", {**row, "tenure_months": "twelve"})
    assert status == 422 and list(answer["fields"]) == ["tenure_months"]
    assert "expected a number" in answer["fields"]["tenure_months"]
    status, answer, _ = server.call("POST", "/predict", {**row, "support_tickets": True})
    assert status == 422 and "boolean" in answer["fields"]["support_tickets"]
    status, answer, _ = server.call("POST", "/predict", {**row, "region": ["north"]})
    assert status == 422 and list(answer["fields"]) == ["region"]
    status, answer, _ = server.call("POST", "/predict", [row, {**row, "monthly_charges": "x"}])
    assert status == 422 and "record 1" in answer["fields"]["monthly_charges"]
    for body in ([], "text", 3, [1, 2]):
        status, answer, _ = server.call("POST", "/predict", body)
        assert status == 422 and "\n" not in answer["detail"], body
    still_serving(server)


def test_malformed_json_is_400(server: Server) -> None:
    for body in (b'{"tenure_months": 1', b"", b"\xff\xfe", b'{"tenure_months": NaN}'):
        status, answer, _ = server.call("POST", "/predict", body)
        assert status == 400 and answer["detail"].startswith("malformed JSON"), body
    still_serving(server)


def test_a_body_over_the_limit_is_413_by_header_and_by_counted_bytes(server: Server) -> None:
    big = json.dumps([churn_rows(1)[0]] * 600).encode()
    assert len(big) > MAX_BODY
    status, answer, _ = server.call("POST", "/predict", big)
    assert status == 413 and str(MAX_BODY) in answer["detail"]

    # Declares a small Content-Length-free body: chunked, so only counting can catch it.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (big[:40000], big[40000:]))
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    answer_bytes = server.raw(head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n")
    assert answer_bytes.startswith(b"HTTP/1.1 413"), answer_bytes[:200]

    # A lying header alone (no body sent yet) is refused before anything is read.
    answer_bytes = server.raw(head + b"Content-Length: 999999999\r\n\r\n")
    assert answer_bytes.startswith(b"HTTP/1.1 413"), answer_bytes[:200]
    still_serving(server)


def test_an_unseen_column_is_accepted_ignored_and_recorded(server: Server) -> None:
    row = churn_rows(1)[0]
    _, plain, _ = server.call("POST", "/predict", row)
    status, grown, _ = server.call("POST", "/predict", {**row, "promo_code": "XMAS"})
    assert status == 200 and grown["unseen"] == ["promo_code"]
    assert grown["probabilities"] == plain["probabilities"]
    [logged] = records(server, after=grown["request_id"] - 1, limit=1)["records"]
    assert logged["id"] == grown["request_id"] and logged["unseen"] == ["promo_code"]
    assert logged["inputs"] == [{**row, "promo_code": "XMAS"}]
    assert logged["predictions"] == grown["predictions"] and logged["status"] == 200
    assert logged["probabilities"] == grown["probabilities"] and logged["latency_ms"] > 0


def test_feedback_joins_its_request(server: Server) -> None:
    rows = churn_rows(3)
    _, one, _ = server.call("POST", "/predict", rows[0])
    _, many, _ = server.call("POST", "/predict", rows)
    status, answer, _ = server.call(
        "POST", "/feedback", {"request_id": one["request_id"], "label": "yes"}
    )
    assert status == 200 and answer["request_id"] == one["request_id"]
    labels = ["no", "yes", "no"]
    status, _, _ = server.call(
        "POST", "/feedback", {"request_id": many["request_id"], "label": labels}
    )
    assert status == 200
    logged = {r["id"]: r for r in records(server, after=one["request_id"] - 1)["records"]}
    assert logged[one["request_id"]]["label"] == "yes" and logged[one["request_id"]]["labelled_at"]
    assert logged[many["request_id"]]["label"] == labels

    later = server.call("POST", "/feedback", {"request_id": one["request_id"], "label": "no"})
    assert later[0] == 200  # a corrected label: the newest one is shown
    [again] = records(server, after=one["request_id"] - 1, limit=1)["records"]
    assert again["label"] == "no"

    refused = [
        ({"request_id": 10**9, "label": "yes"}, 404),
        ({"request_id": one["request_id"], "label": "maybe"}, 422),
        ({"request_id": many["request_id"], "label": "yes"}, 409),  # three records, one label
        ({"request_id": one["request_id"], "label": []}, 422),
        ({"request_id": one["request_id"], "label": {"yes": 1}}, 422),
        ({"request_id": 2**63, "label": "yes"}, 422),  # past the largest id
        ({"request_id": "1", "label": "yes"}, 422),
        ({"label": "yes"}, 422),
        ({"request_id": one["request_id"]}, 422),
    ]
    for body, expected in refused:
        status, answer, _ = server.call("POST", "/feedback", body)
        assert status == expected and "\n" not in answer["detail"], (body, answer)
    _, bad, _ = server.call("POST", "/predict", {"nothing": 1})
    status, answer, _ = server.call(
        "POST", "/feedback", {"request_id": bad["request_id"], "label": "no"}
    )
    assert status == 409 and "refused" in answer["detail"]
    assert server.call("POST", "/feedback", b"{oops")[0] == 400
    still_serving(server)


def test_monitoring_pages_through_the_log_in_id_order(server: Server) -> None:
    start = records(server)["last_id"]
    sent = [server.call("POST", "/predict", row)[1]["request_id"] for row in churn_rows(7)]
    assert sent == list(range(start + 1, start + 8))
    seen, after = [], start
    while True:
        page = records(server, after=after, limit=3)
        if not page["records"]:
            break
        assert len(page["records"]) <= 3
        seen += [r["id"] for r in page["records"]]
        after = page["next_after"]
    assert seen == sent and after == sent[-1]
    assert server.call("GET", "/monitoring/records?after=-1")[0] == 422
    assert server.call("GET", "/monitoring/records?limit=0")[0] == 422
    assert server.call("GET", "/monitoring/records?after=abc")[0] == 422
    assert server.call("GET", "/monitoring/records?limit=5000")[0] == 422


def test_refused_requests_are_logged_with_their_status(server: Server) -> None:
    _, bad, _ = server.call("POST", "/predict", {"tenure_months": 1})
    [logged] = records(server, after=bad["request_id"] - 1, limit=1)["records"]
    assert logged["status"] == 422 and logged["predictions"] is None
    assert "region" in logged["error"] and logged["inputs"] == [{"tenure_months": 1}]


def test_a_bearer_token_guards_everything_but_health(bundle: Path, tmp_path: Path) -> None:
    server = Server(bundle, tmp_path / "log", token="s3cret-token")
    try:
        assert server.call("GET", "/health")[0] == 200
        row = churn_rows(1)[0]
        for path, body in (("/predict", row), ("/metadata", None), ("/openapi.json", None)):
            method = "POST" if body else "GET"
            status, answer, headers = server.call(method, path, body)
            assert status == 401 and headers["www-authenticate"] == "Bearer", path
            wrong = {"Authorization": "Bearer nope"}
            assert server.call(method, path, body, wrong)[0] == 401
        good = {"Authorization": "Bearer s3cret-token"}
        status, answer, _ = server.call("POST", "/predict", row, good)
        assert status == 200 and answer["predictions"]
        assert server.call("GET", "/metadata", headers=good)[0] == 200
        # The token never appears on the command line.
        with open(f"/proc/{server.process.pid}/cmdline", "rb") as handle:
            assert b"s3cret-token" not in handle.read()
    finally:
        assert server.stop() == CLEAN_STOP


def test_metadata_json_in_the_bundle_names_the_model(bundle: Path, tmp_path: Path) -> None:
    import shutil

    named = tmp_path / "named"
    shutil.copytree(bundle, named)
    write_metadata(named, {"name": "churn", "version": "3", "metrics": {"accuracy": 0.81},
                           "lineage": {"run_id": 1, "sweep_id": 1}})  # fmt: skip
    server = Server(named, tmp_path / "log")
    try:
        _, meta, _ = server.call("GET", "/metadata")
        assert (meta["name"], meta["version"]) == ("churn", "3")
        assert meta["metrics"] == {"accuracy": 0.81} and meta["lineage"]["sweep_id"] == 1
        _, answer, _ = server.call("POST", "/predict", churn_rows(1)[0])
        assert (answer["model"], answer["version"]) == ("churn", "3")
    finally:
        assert server.stop() == CLEAN_STOP


def test_importing_the_app_loads_nothing_else_of_workbench() -> None:
    code = "import sys, json; import pipelines.serving.app; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    forbidden = {"storage", "screens", "workbench", "textual", "sqlalchemy", "optuna", "pyarrow"}
    assert [m for m in loaded if m.split(".")[0] in forbidden] == []
    ours = [
        m for m in loaded if m.startswith("pipelines.") and not m.startswith("pipelines.serving")
    ]
    assert ours == []


def test_random_bad_payloads_never_get_a_server_error(server: Server) -> None:
    """A bounded, seeded fuzz of values and bodies: only 200, 400, 413 or 422, and up after."""
    import random

    rng = random.Random(7)
    pool: list[Any] = [None, "", "x" * 5000, 1e308, -0.0, 10**30, 10**400, [], {}, True]
    pool += ["2024-01-01", "\u202e\x1b[31m", [[[]]], {"a": {"b": 1}}, -1, 0.5, "NaN"]
    base = churn_rows(1)[0]
    bodies: list[Any] = []
    for _ in range(120):
        row = dict(base)
        for name in rng.sample(FEATURES, rng.randint(1, 3)):
            if rng.random() < 0.2:
                row.pop(name)
            else:
                row[name] = rng.choice(pool)
        if rng.random() < 0.3:
            row[rng.choice(["\x00", "", "🙂", "a" * 300])] = rng.choice(pool)
        bodies.append(row if rng.random() < 0.7 else [row, base])
    bodies += [
        b"[" * 5000,
        b"{" * 5000,
        b'{"a":' * 3000,
        bytes(rng.randrange(256) for _ in range(300)),
    ]
    bodies += [b"1e99999", b'"' + b"\\u" * 10 + b'"', b"[{}]" * 3, b"null", b"true"]
    for body in bodies:
        status, answer, _ = server.call("POST", "/predict", body)
        assert status in (200, 400, 413, 422), (
            body if isinstance(body, dict) else str(body)[:80],
            answer,
        )
        if status != 200:
            assert "\n" not in answer["detail"]
        for path in ("/feedback",):
            assert server.call("POST", path, body)[0] in (200, 400, 404, 413, 422)
    still_serving(server)
