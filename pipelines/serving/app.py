"""The HTTP app that serves one model bundle: predictions, health, metadata, delayed labels
and the request log for monitoring, with its OpenAPI document.

Every refusal is a JSON answer with one line in `detail`, and the server goes on serving:
malformed JSON is 400, a body over the limit 413 (the declared Content-Length is checked
first, then the bytes actually received are counted, so a chunked body cannot slip past), a
missing or mistyped feature 422 naming the fields. A column the model never saw is accepted,
left out of prediction, answered in `unseen` and logged. Every /predict request, answered or
refused, is logged with its id. Small bodies are checked on the event loop (a thread hop
costs more than checking one row), large ones in a worker thread; scoring goes through the
batcher, which scores the requests waiting together in one call, through the compiled
pipeline when it is identical to the fitted one (pipelines.serving.compiled)."""

from __future__ import annotations

import hmac
import json
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from pipelines.serving.batcher import Batcher
from pipelines.serving.canary import Lane, Router
from pipelines.serving.compiled import checked_scorer
from pipelines.serving.records import check_records, is_finite_number
from pipelines.serving.request_log import LoggedRequest, RequestLog
from pipelines.serving.schema import SchemaError, _shown
from pipelines.serving.served import (
    LARGEST_ID,
    ServedModel,
    feedback_body_schema,
    load_served,
    predict_body_schema,
)

DEFAULT_MAX_BODY = 4 * 1024 * 1024
INLINE_ROWS = 64  # bodies with more records are scored in a worker thread
OPEN_PATHS = frozenset({"/health"})  # answered without the token (container health checks)


class Refused(Exception):
    """A request answered with an error status and a one-line detail."""

    def __init__(self, status: int, detail: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.fields = status, detail, fields


def create_app(
    bundle_dir: Path,
    *,
    log_dir: Path,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    token: str | None = None,
    log_batch_s: float = 0.05,
    challenger_dir: Path | None = None,
    challenger_share: float = 0.0,
) -> FastAPI:
    """The app for the bundle in `bundle_dir`, logging to `log_dir` (a batch written at
    least every `log_batch_s` seconds while requests come). Raises BundleError or
    RequestLogError (one line) when either cannot be used; the log is closed (everything
    queued written) when the app shuts down. With `challenger_dir`, a canary: that share of
    requests is answered by the challenger bundle (pipelines.serving.canary)."""
    from contextlib import asynccontextmanager

    served = load_served(Path(bundle_dir))
    challenger = load_served(Path(challenger_dir)) if challenger_dir is not None else None
    router = Router(
        _lane(served, "primary"),
        _lane(challenger, "challenger") if challenger is not None else None,
        challenger_share,
    )
    log = RequestLog(Path(log_dir), flush_interval_s=log_batch_s).open()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        try:
            yield
        finally:
            log.close()

    app = FastAPI(
        title=f"{served.name} {served.version}",
        description=f"Predictions from model {served.name} version {served.version} "
        f"({served.manifest.task}).",
        version=served.version,
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.served, app.state.log, app.state.router = served, log, router
    _add_routes(app, router, log, max_body_bytes)
    if token:
        app.add_middleware(BearerToken, token=token)
    return app


def _lane(served: ServedModel, role: str) -> Lane:
    scoring = checked_scorer(served.model, served.manifest)
    inline = INLINE_ROWS if scoring.compiled else 0  # a compiled batch is cheaper than a hop
    return Lane(served, Batcher(scoring.score_parts, inline_rows=inline), role, scoring.note)


def _add_routes(app: FastAPI, router: Router, log: RequestLog, max_body: int) -> None:
    from pipelines.serving import api

    primary = router.primary.served
    app.state.batcher = router.primary.batcher
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": api.Problem} for code in (400, 401, 404, 409, 413, 422)
    }

    @app.post(
        "/predict",
        summary="Predict for one record or a list of records",
        response_model=api.Prediction,
        responses=errors,
        openapi_extra={"requestBody": predict_body_schema(primary.manifest.schema)},
    )
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        payload: Any = None
        served = primary
        try:
            payload = _parse(await _read_body(request, max_body))
            lane = router.pick()
            served, manifest, batcher = lane.served, lane.served.manifest, lane.batcher
            if isinstance(payload, list) and len(payload) > INLINE_ROWS:
                checked = await run_in_threadpool(check_records, manifest.schema, payload)
            else:
                checked = check_records(manifest.schema, payload)
            scored, unseen = await batcher.score(checked), checked.unseen
        except Refused as exc:
            return _refusal(exc, served, log, started, payload)
        except SchemaError as exc:
            refused = Refused(422, f"input does not fit the model's schema: {exc}", exc.problems)
            return _refusal(refused, served, log, started, payload)
        except Exception as exc:  # the model failed: answered and logged, the server goes on
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            return _refusal(
                Refused(500, f"scoring failed: {detail}"), served, log, started, payload
            )
        predictions, probabilities = scored.prediction_list(), scored.probability_list()
        records = [payload] if isinstance(payload, dict) else payload
        logged = LoggedRequest(
            model=served.name,
            version=served.version,
            status=200,
            latency_ms=_ms(started),
            rows=len(records),
            inputs=records,
            predictions=predictions,
            probabilities=probabilities,
            unseen=tuple(unseen),
        )
        request_id = log.add_request(logged)
        return _json(
            {
                "request_id": request_id,
                "model": served.name,
                "version": served.version,
                "predictions": predictions,
                "probabilities": probabilities,
                "classes": scored.classes,
                "unseen": unseen,
            }
        )

    @app.get("/health", summary="Whether the server answers", response_model=api.Health)
    async def health() -> Response:
        return _json(
            {
                "status": "ok",
                "model": primary.name,
                "version": primary.version,
                "last_request_id": log.last_request_id,
                "canary": (
                    {"version": router.challenger.served.version, "share": router.share}
                    if router.challenger is not None
                    else None
                ),
            }
        )

    @app.get("/metadata", summary="The model: name, version, schema, metrics, lineage")
    async def metadata() -> Response:
        return _json(router.describe(ServedModel.describe))

    @app.post(
        "/feedback",
        summary="The true label of an earlier request, arriving later",
        response_model=api.FeedbackAnswer,
        responses=errors,
        openapi_extra={"requestBody": feedback_body_schema(primary.manifest)},
    )
    async def feedback(request: Request) -> Response:
        try:
            payload = _parse(await _read_body(request, max_body))
            request_id, label = _feedback_fields(payload, primary)
            await run_in_threadpool(log.flush)
            rows = await run_in_threadpool(_labelled_rows, log, request_id)
            _check_label(label, rows, request_id)
        except Refused as exc:
            return _json(_problem(exc), exc.status)
        feedback_id = log.add_feedback(request_id, label)
        return _json({"feedback_id": feedback_id, "request_id": request_id})

    @app.get(
        "/monitoring/records",
        summary="Logged requests after an id, in id order, with their labels",
        response_model=api.Records,
    )
    async def monitoring_records(
        after: int = Query(0, ge=0, le=LARGEST_ID), limit: int = Query(100, ge=1, le=1000)
    ) -> Response:
        await run_in_threadpool(log.flush)
        records = await run_in_threadpool(log.records, after, limit)
        next_after = records[-1]["id"] if records else after
        return _json({"records": records, "next_after": next_after, "last_id": log.last_request_id})

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return _json({"detail": f"internal error: {detail}"}, 500)


class BearerToken:
    """Pure ASGI middleware: every path except `/health` needs `Authorization: Bearer T`."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"detail": "a valid bearer token is required"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Refused(400, f"Content-Length {declared[:40]!r} is not a number") from None
        if size > limit:
            raise Refused(413, f"body of {size} bytes is over the limit of {limit} bytes")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise Refused(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> Any:
    if not body:
        raise Refused(400, "malformed JSON: the body is empty")
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"malformed JSON: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _feedback_fields(payload: Any, served: ServedModel) -> tuple[int, Any]:
    """The request id and label, checked as the document's feedback schema says."""
    if not isinstance(payload, dict):
        raise Refused(422, "expected an object with request_id and label")
    problems = {}
    request_id: Any = payload.get("request_id")
    if isinstance(request_id, float) and request_id.is_integer():
        request_id = int(request_id)  # 344.0 is an integer in JSON Schema too
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        problems["request_id"] = "expected the integer id a /predict answer gave"
    elif not 1 <= request_id <= LARGEST_ID:
        problems["request_id"] = f"expected an id from 1 to {LARGEST_ID}"
    if "label" not in payload:
        problems["label"] = "the true label is missing"
    if problems:
        raise Refused(422, "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)
    label = payload["label"]
    values = label if isinstance(label, list) else [label]
    classes = served.manifest.classes
    why = None
    if not values:
        why = "expected a label or a non-empty list of them"
    elif classes is not None:
        texts = {str(c) for c in classes}
        unknown = [v for v in values if not _is_class(v, classes, texts)]
        if unknown:
            why = f"{_shown(unknown[0])} is not one of the model's classes"
    else:
        odd = [v for v in values if not is_finite_number(v)]
        if odd:
            why = f"expected a number, got {_shown(odd[0])}"
    if why:
        raise Refused(422, f"label: {why}", {"label": why})
    return request_id, label


def _is_class(value: Any, classes: list[Any], texts: set[str]) -> bool:
    """`value` is one of `classes` (a number equal to a numeric class, a boolean to a boolean
    class) or a class written as text, as the document's enum of both says."""
    if isinstance(value, str):
        return value in texts
    if isinstance(value, bool):
        return any(isinstance(c, bool) and c == value for c in classes)
    if isinstance(value, int | float):
        return any(is_finite_number(c) and c == value for c in classes)
    return False


def _labelled_rows(log: RequestLog, request_id: int) -> tuple[int, int] | None:
    """(rows, status) of a logged request, None if there is none."""
    records = log.records(after=request_id - 1, limit=1)
    if not records or records[0]["id"] != request_id:
        return None
    return records[0]["rows"], records[0]["status"]


def _check_label(label: Any, found: tuple[int, int] | None, request_id: int) -> None:
    if found is None:
        raise Refused(404, f"no request {request_id} in this server's log")
    rows, status = found
    if status != 200:
        raise Refused(409, f"request {request_id} was refused ({status}): nothing to label")
    count = len(label) if isinstance(label, list) else 1
    if count != rows:
        why = f"request {request_id} had {rows} records, the label gives {count} values"
        raise Refused(409, f"label: {why}", {"label": why})


def _refusal(
    exc: Refused, served: ServedModel, log: RequestLog, started: float, payload: Any
) -> Response:
    records = [payload] if isinstance(payload, dict) else payload
    rows = len(records) if isinstance(records, list) else 0
    kept = records if isinstance(records, list) else None
    request_id = log.add_request(
        LoggedRequest(
            served.name, served.version, exc.status, _ms(started), rows, kept, error=exc.detail
        )
    )
    return _json({**_problem(exc), "request_id": request_id}, exc.status)


def _problem(exc: Refused) -> dict[str, Any]:
    answer: dict[str, Any] = {"detail": exc.detail}
    if exc.fields:
        answer["fields"] = exc.fields
    return answer


def _json(content: Any, status: int = 200) -> Response:
    body = json.dumps(content, separators=(",", ":"), default=str).encode()
    return Response(body, status_code=status, media_type="application/json")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
