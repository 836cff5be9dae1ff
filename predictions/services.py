"""The predict workflow: resolve the serving version, validate, reserve quota, predict, log."""

import logging
import time

import pandas as pd
from django.utils import timezone

from accounts.models import QuotaKind
from accounts.quotas import quota_release, quota_reserve
from models_registry import serving
from models_registry.models import MLModel
from predictions.logbook import log_prediction
from predictions.models import PredictionStatus
from predictions.validation import validate_rows

logger = logging.getLogger(__name__)


class ModelNotFound(Exception):
    pass


class NoProductionVersion(Exception):
    pass


class InvalidInputs(Exception):
    def __init__(self, errors):
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


def _frame(schema, rows):
    columns = [feature["name"] for feature in schema]
    return pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns)


def _plain(values):
    return [v.item() if hasattr(v, "item") else v for v in values]


class PredictionFailed(Exception):
    """The model raised on inputs that passed validation: logged, quota refunded."""


def predict_frame(version, rows):
    """(predictions, probabilities or None) of `version` for validated `rows`."""
    estimator = serving.load_estimator(version)
    frame = _frame(version.input_schema, rows)
    predictions = _plain(estimator.predict(frame))
    probabilities = (
        [[round(float(p), 6) for p in row] for row in estimator.predict_proba(frame)]
        if hasattr(estimator, "predict_proba") and version.output_classes
        else None
    )
    return predictions, probabilities


def _record(*, request_id, user, version, arm, rows, started, **fields):
    return {
        "request_id": request_id,
        "user_id": user.pk if user else None,
        "model_id": version.model_id,
        "version_id": version.pk,
        "model_name": version.model.name,
        "version_number": version.version,
        "arm": arm,
        "inputs": rows,
        "rows": len(rows),
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "created_at": timezone.now().isoformat(),
        **fields,
    }


def prediction_run(*, user, model_name, rows, request_id):
    """Predict for `rows`; return (response body, quota status). Raises on refusal."""
    if not MLModel.objects.visible_to(user).filter(name=model_name).exists():
        raise ModelNotFound(model_name)
    version = serving.production_version(model_name)
    if version is None:
        raise NoProductionVersion(model_name)
    arm = None
    errors = validate_rows(version.input_schema, rows)
    if errors:
        raise InvalidInputs(errors)
    quota = quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=len(rows))
    started = time.perf_counter()
    context = {
        "request_id": request_id,
        "user": user,
        "version": version,
        "arm": arm,
        "rows": rows,
        "started": started,
    }
    try:
        predictions, probabilities = predict_frame(version, rows)
    except Exception as exc:
        logger.exception("model %s v%s failed to predict", model_name, version.version)
        quota_release(status=quota, user=user, units=len(rows))
        log_prediction(
            _record(
                **context,
                outputs=[],
                status=PredictionStatus.ERROR,
                error=f"{type(exc).__name__}: {exc}",
            )
        )
        raise PredictionFailed(model_name) from exc
    log_prediction(_record(**context, outputs=predictions, probabilities=probabilities))
    body = {
        "model": model_name,
        "version": version.version,
        "arm": arm,
        "request_id": request_id,
        "predictions": predictions,
        "probabilities": probabilities,
    }
    return body, quota
