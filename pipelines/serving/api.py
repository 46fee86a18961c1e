"""The shapes of the serving app's answers, for its OpenAPI document (answers are written as
JSON directly; these models only describe them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    detail: str
    fields: dict[str, str] | None = None
    request_id: int | None = None


class Prediction(BaseModel):
    request_id: int
    model: str
    version: str
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    classes: list[Any] | None = None
    unseen: list[str]


class Health(BaseModel):
    status: str
    model: str
    version: str
    last_request_id: int
    canary: dict[str, Any] | None = None  # {version, share} of the challenger during a canary


class FeedbackAnswer(BaseModel):
    feedback_id: int
    request_id: int


class Record(BaseModel):
    id: int
    at: str
    model: str
    version: str
    status: int
    latency_ms: float
    rows: int
    inputs: list[Any] | None = None  # as sent: a refused body may hold non-records
    predictions: list[Any] | None = None
    probabilities: list[dict[str, float]] | None = None
    unseen: list[str]
    error: str | None = None
    label: Any = None
    labelled_at: str | None = None


class Records(BaseModel):
    records: list[Record]
    next_after: int
    last_id: int
