"""The predict workflow: resolve the serving version, validate, reserve quota, predict, log."""

import time

import pandas as pd
from django.utils import timezone

from accounts.models import QuotaKind
from accounts.quotas import quota_reserve
from models_registry import serving
from models_registry.models import MLModel
from predictions.logbook import log_prediction
from predictions.validation import validate_rows


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


def prediction_run(*, user, model_name, rows, request_id):
    """Predict for `rows`; return (response body, quota status). Raises on refusal."""
    if not MLModel.objects.visible_to(user).filter(name=model_name).exists():
        raise ModelNotFound(model_name)
    version = serving.production_version(model_name)
    if version is None:
        raise NoProductionVersion(model_name)
    errors = validate_rows(version.input_schema, rows)
    if errors:
        raise InvalidInputs(errors)
    quota = quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=len(rows))
    estimator = serving.load_estimator(version)
    started = time.perf_counter()
    frame = _frame(version.input_schema, rows)
    predictions = _plain(estimator.predict(frame))
    probabilities = (
        [[round(float(p), 6) for p in row] for row in estimator.predict_proba(frame)]
        if hasattr(estimator, "predict_proba") and version.output_classes
        else None
    )
    latency_ms = (time.perf_counter() - started) * 1000
    body = {
        "model": model_name,
        "version": version.version,
        "arm": None,
        "request_id": request_id,
        "predictions": predictions,
        "probabilities": probabilities,
    }
    log_prediction(
        {
            "request_id": request_id,
            "user_id": user.pk,
            "model_id": version.model_id,
            "version_id": version.pk,
            "model_name": model_name,
            "version_number": version.version,
            "arm": None,
            "inputs": rows,
            "outputs": predictions,
            "probabilities": probabilities,
            "rows": len(rows),
            "latency_ms": round(latency_ms, 3),
            "created_at": timezone.now().isoformat(),
        }
    )
    return body, quota
