from datetime import datetime
from typing import Any

from django.conf import settings
from ninja import Field, Schema


class PredictIn(Schema):
    inputs: list[dict[str, Any]] = Field(
        ...,
        min_length=1,
        max_length=settings.PREDICT_MAX_ROWS,
        description="Rows of feature values, as named in the model's input schema.",
    )


class PredictOut(Schema):
    model: str
    version: int
    arm: str | None
    request_id: str
    predictions: list[Any]
    probabilities: list[list[float]] | None


class PredictionOut(Schema):
    request_id: str
    username: str | None
    model: str
    version: int
    arm: str | None
    rows: int
    inputs: list[Any]
    outputs: list[Any]
    probabilities: list[list[float]] | None
    latency_ms: float
    status: str
    error: str | None
    created_at: datetime
    feedback: list[Any] | None


class PredictionPageOut(Schema):
    items: list[PredictionOut]
    next_cursor: str | None


class FeedbackIn(Schema):
    labels: list[Any] = Field(..., min_length=1, description="The true label of each row.")


class FeedbackOut(Schema):
    request_id: str
    labels: list[Any]
