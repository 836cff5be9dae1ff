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
    client_request_id: str | None = Field(
        None, description="The X-Request-ID the caller sent with the prediction, if any."
    )
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
    out_of_range: dict[str, int] | None = Field(
        None,
        description="Rows served with each feature outside the range learned in training "
        "(models that do not enforce ranges), if any.",
    )
    created_at: datetime
    feedback: list[Any] | None


class PredictionPageOut(Schema):
    items: list[PredictionOut]
    next_cursor: str | None


# What a label may be; which ones fit is the prediction's version's business (its classes,
# or numbers for a regressor), checked by predictions.services.feedback_label_errors.
LABEL_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]}


class FeedbackIn(Schema):
    labels: list[Any] = Field(
        ...,
        min_length=1,
        description=(
            "The true label of each row, in order: one of the version's classes (a classifier) "
            "or a finite number (a regressor); null for a row whose truth is unknown."
        ),
        json_schema_extra={"items": LABEL_SCHEMA},
    )


class FeedbackOut(Schema):
    request_id: str
    labels: list[Any]
