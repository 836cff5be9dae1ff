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
