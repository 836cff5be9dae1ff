from datetime import UTC, datetime
from http import HTTPStatus

from django.conf import settings
from django.http import Http404, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import field_validator

from accounts.auth import predict_auth
from predictions import history, services
from predictions.models import Prediction, PredictionStatus
from predictions.schemas import (
    FeedbackIn,
    FeedbackOut,
    PredictIn,
    PredictionPageOut,
    PredictOut,
)

router = Router(tags=["predict"])
EXPERIMENT_GROUP_HEADER = "X-Experiment-Group"
# Feedback checks labels against the version's classes: its large columns stay unread.
FEEDBACK_UNUSED_FIELDS = (
    "inputs",
    "outputs",
    "probabilities",
    "version__reference_stats",
    "version__input_schema",
)
# Beyond the standard errors every route documents (portal.api_errors.document_errors).
PREDICT_ERRORS = {
    HTTPStatus.INTERNAL_SERVER_ERROR: {"description": "The model failed on valid inputs."},
    HTTPStatus.SERVICE_UNAVAILABLE: {"description": "The model has no production version."},
}


def _may_force_arm(user):
    # The old gateway's debug group, now in the app: admins, or everyone when settings say so.
    return settings.EXPERIMENT_HEADER_OVERRIDE_FOR_ALL or user.has_perm("accounts.manage_models")


@router.post(
    "/models/{name}/predict",
    response=PredictOut,
    auth=predict_auth,
    url_name="predict",
    openapi_extra={"responses": PREDICT_ERRORS},
)
def predict(request, response: HttpResponse, name: str, payload: PredictIn):
    """Predict with the production version, or the caller's arm of a running experiment.

    Counts one quota unit per row. Admins may force an arm with `X-Experiment-Group: ARM`.
    The body's `request_id` names this prediction's log row (feedback takes it); the
    `X-Request-ID` header echoes the caller's id if it sent one, kept in the row as
    `client_request_id`.
    """
    forced_arm = request.headers.get(EXPERIMENT_GROUP_HEADER, "").strip() or None
    if forced_arm and not _may_force_arm(request.auth):
        raise HttpError(HTTPStatus.FORBIDDEN, f"Only admins may set {EXPERIMENT_GROUP_HEADER}")
    try:
        body, quota = services.prediction_run(
            user=request.auth,
            model_name=name,
            rows=payload.inputs,
            request_id=request.request_id,
            client_request_id=request.client_request_id,
            forced_arm=forced_arm,
        )
    except services.UnknownArm as exc:
        raise HttpError(HTTPStatus.NOT_FOUND, str(exc)) from None
    for header, value in quota.headers().items():
        response[header] = value
    return body


def _utc(value):
    """Aware datetimes in UTC (naive ones read as UTC), so the database never sees odd offsets."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("date out of range") from None


class HistoryFilters(Schema):
    model: str | None = None
    version: int | None = None
    arm: str | None = None
    status: PredictionStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    client_request_id: str | None = None
    cursor: str | None = None
    limit: int = history.DEFAULT_PAGE_SIZE

    _in_utc = field_validator("since", "until")(_utc)


def _out(prediction):
    feedback = getattr(prediction, "feedback", None)
    return {
        "request_id": prediction.request_id,
        "client_request_id": prediction.client_request_id or None,
        "username": prediction.user.username if prediction.user else None,
        "model": prediction.model_name,
        "version": prediction.version_number,
        "arm": prediction.arm or None,
        "rows": prediction.rows,
        "inputs": prediction.inputs,
        "outputs": prediction.outputs,
        "probabilities": prediction.probabilities,
        "latency_ms": prediction.latency_ms,
        "status": prediction.status,
        "error": prediction.error or None,
        "out_of_range": prediction.out_of_range,
        "created_at": prediction.created_at,
        "feedback": feedback.labels if feedback else None,
    }


@router.get(
    "/predictions",
    response=PredictionPageOut,
    url_name="list_predictions",
    openapi_extra={"responses": {HTTPStatus.BAD_REQUEST: {"description": "Unknown cursor."}}},
)
def list_predictions(request, filters: Query[HistoryFilters]):
    """Your prediction history (admins: anyone's, filter by user), newest first, by cursor."""
    queryset = Prediction.objects.for_user(request.auth).select_related("user", "feedback")
    data = filters.dict()
    cursor, limit = data.pop("cursor"), data.pop("limit")
    # A non-admin naming another user gets nothing: for_user() already limits the rows.
    try:
        items, next_cursor = history.page(
            history.filter_history(queryset, **data), cursor=cursor, limit=limit
        )
    except history.BadCursor as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None
    return {"items": [_out(p) for p in items], "next_cursor": next_cursor}


@router.post(
    "/predictions/{request_id}/feedback",
    response={HTTPStatus.CREATED: FeedbackOut},
    auth=predict_auth,
    url_name="create_feedback",
)
def create_feedback(request, request_id: str, payload: FeedbackIn):
    """Record the true labels of a logged prediction (its owner or an admin).

    One label per row: one of the version's classes (classifiers) or a finite number
    (regressors), or null for a row without truth; anything else is a 422 naming the row.
    """
    prediction = (
        Prediction.objects.for_user(request.auth)
        .select_related("model", "version")
        .defer(*FEEDBACK_UNUSED_FIELDS)
        .filter(request_id=request_id)
        .first()
    )
    if prediction is None:
        # Someone else's prediction, or one of a model hidden from the caller (a revoked
        # grant), looks exactly like a missing one.
        raise Http404
    services.feedback_record(prediction=prediction, labels=payload.labels, given_by=request.auth)
    return Status(HTTPStatus.CREATED, {"request_id": request_id, "labels": payload.labels})
