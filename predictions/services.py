"""The predict workflow: resolve the serving version, validate, reserve quota, predict, log."""

import hashlib
import logging
import math
import time

from django.db import transaction
from django.utils import timezone

from accounts.models import QuotaKind, User
from accounts.quotas import quota_release, quota_reserve
from models_registry import serving
from models_registry.experiments import routing
from models_registry.experiments.routing import UnknownArm  # noqa: F401 - callers catch it here
from models_registry.models import MLModel, ModelVersion, TaskType
from monitoring import metrics
from portal import memo
from predictions.logbook import log_prediction
from predictions.models import Feedback, PredictionStatus
from predictions.validation import check_rows

logger = logging.getLogger(__name__)


class ModelNotFound(Exception):
    pass


class NoProductionVersion(Exception):
    pass


class InvalidInputs(Exception):
    def __init__(self, errors):
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class PredictionFailed(Exception):
    """The model raised on inputs that passed validation: logged, quota refunded."""


def predict_rows(version, rows):
    """(predictions, probabilities or None) of `version` for validated `rows`."""
    return serving.load_predictor(version).predict_rows(rows)


def _record(*, request_id, client_request_id, user, version, arm, rows, started, **fields):
    return {
        "request_id": request_id,
        "client_request_id": client_request_id,
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


def _count(version, arm, status, rows, started):
    labels = {"model": version.model.name, "version": str(version.version), "arm": arm or ""}
    metrics.predictions.labels(**labels, status=status).inc()
    if status == PredictionStatus.OK:
        metrics.prediction_rows.labels(**labels).inc(len(rows))
    metrics.prediction_latency.labels(model=labels["model"], version=labels["version"]).observe(
        time.perf_counter() - started
    )


def _visible(user, model_name):
    restricted = serving.model_restricted(model_name)  # cached: no query for open models
    if restricted is None:
        return False
    return not restricted or memo.remember(
        ("visible", user.pk, model_name),
        lambda: MLModel.objects.visible_to(user).filter(name=model_name).exists(),
    )


def _check(version, rows, model_name):
    """Validate against the version's schema; ranges as its model's setting says."""
    policy = serving.model_policy(model_name)
    enforce = policy is None or policy.enforce_input_ranges
    return check_rows(version.input_schema, rows, enforce_ranges=enforce)


def _flags(checked):
    """The log record's fields for values served outside their range (none: nothing)."""
    if not checked.out_of_range_rows:
        return {}
    return {
        "out_of_range": dict(checked.out_of_range),
        "out_of_range_rows": checked.out_of_range_rows,
    }


def _count_out_of_range(version, checked):
    for feature, rows in checked.out_of_range.items():
        metrics.prediction_out_of_range.labels(
            model=version.model.name, version=str(version.version), feature=feature
        ).inc(rows)


def prediction_run(*, user, model_name, rows, request_id, client_request_id="", forced_arm=None):
    """Predict for `rows`; return (response body, quota status). Raises on refusal.

    `request_id` keys the log row, so it must be the server's own (a client can repeat its
    ids, and a repeated key would drop the row); the client's X-Request-ID, if any, is kept
    beside it as `client_request_id`. A running experiment on the model chooses the version
    (the caller's arm, or `forced_arm`, which raises UnknownArm when the experiment has no such
    arm); otherwise production answers.
    """
    if not _visible(user, model_name):
        raise ModelNotFound(model_name)
    routed = routing.route(user=user, model_name=model_name, forced_arm=forced_arm)
    if routed is not None:
        version, arm, shadows = routed.version, routed.arm, routed.shadows
    else:
        version, arm, shadows = serving.production_version(model_name), None, ()
    if version is None:
        raise NoProductionVersion(model_name)
    checked = _check(version, rows, model_name)
    if checked.errors:
        raise InvalidInputs(checked.errors)
    quota = quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=len(rows))
    started = time.perf_counter()
    context = {
        "request_id": request_id,
        "client_request_id": client_request_id,
        "user": user,
        "version": version,
        "arm": arm,
        "rows": rows,
        "started": started,
        **_flags(checked),
    }
    try:
        predictions, probabilities = predict_rows(version, rows)
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
        _count(version, arm, PredictionStatus.ERROR, rows, started)
        raise PredictionFailed(model_name) from exc
    log_prediction(_record(**context, outputs=predictions, probabilities=probabilities))
    _count(version, arm, PredictionStatus.OK, rows, started)
    _count_out_of_range(version, checked)
    _shadows_enqueue(shadows, user=user, rows=rows, request_id=request_id)
    body = {
        "model": model_name,
        "version": version.version,
        "arm": arm,
        "request_id": request_id,
        "predictions": predictions,
        "probabilities": probabilities,
    }
    return body, quota


# ---------------------------------------------------------------- shadow arms
MAX_REQUEST_ID_LENGTH = 128


def shadow_request_id(request_id, arm):
    """The log id of a shadow copy: `<request id>:shadow:<arm>`, shortened to fit if need be."""
    suffix = f":shadow:{arm}"
    if len(request_id) + len(suffix) > MAX_REQUEST_ID_LENGTH:
        request_id = hashlib.sha256(request_id.encode()).hexdigest()[:32]
    return f"{request_id}{suffix}"


def _shadows_enqueue(shadows, *, user, rows, request_id):
    """Queue each shadow arm's copy; a shadow never delays or fails the response."""
    from models_registry.tasks import shadow_predict_task

    for arm, version_id in shadows:
        try:
            shadow_predict_task.delay(
                version_id=version_id,
                rows=rows,
                request_id=request_id,
                user_id=user.pk if user else None,
                arm=arm,
            )
        except Exception:
            logger.warning("shadow copy for arm %s not queued", arm, exc_info=True)


def prediction_shadow(*, version_id, rows, request_id, user_id, arm):
    """Predict a request's rows with a shadow version and log it; the caller never sees it."""
    version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
    if version is None:
        return None
    user = User.objects.filter(pk=user_id).first() if user_id else None
    context = {
        "request_id": shadow_request_id(request_id, arm),
        "client_request_id": "",  # the shadow's key names the answered row, which has it
        "user": user,
        "version": version,
        "arm": arm,
        "rows": rows,
        "started": time.perf_counter(),
    }
    checked = _check(version, rows, version.model.name)
    context.update(_flags(checked))
    errors = checked.errors
    if errors:
        record = _record(
            **context,
            outputs=[],
            status=PredictionStatus.ERROR,
            error=f"inputs do not fit v{version.version}'s schema: {errors[0]['msg']}",
        )
    else:
        try:
            predictions, probabilities = predict_rows(version, rows)
        except Exception as exc:  # noqa: BLE001 - logged as the shadow's failure
            record = _record(
                **context,
                outputs=[],
                status=PredictionStatus.ERROR,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            record = _record(**context, outputs=predictions, probabilities=probabilities)
    log_prediction(record)
    return record["request_id"]


# ---------------------------------------------------------------- feedback
# An unknown label's error names the version's classes, up to this many.
CLASSES_SHOWN = 20


def _label_error(index, message, kind):
    return {"loc": ["body", "labels", index], "msg": message, "type": kind}


def _label_problem(label, *, regression, classes):
    """(message, type) of what is wrong with one label, or None when it is a fit."""
    if label is None:
        return None  # "no truth for this row": counted nowhere
    if isinstance(label, bool):
        return "A label is a class or a number, not true or false", "bool_type"
    if isinstance(label, dict | list):
        return "A label is one value (a class or a number), not an object or a list", "type_error"
    if isinstance(label, float) and not math.isfinite(label):
        return "A label must be a finite number", "finite_number"
    if regression:
        if not isinstance(label, int | float):
            return "This model is a regressor: its labels are numbers", "number_type"
    elif classes and str(label) not in classes:
        shown = ", ".join(classes[:CLASSES_SHOWN]) + (", …" if len(classes) > CLASSES_SHOWN else "")
        return f"Not one of this version's classes: {shown}", "enum"
    return None


def feedback_label_errors(*, prediction, labels):
    """Field-level errors of `labels` for `prediction` (none when they fit).

    One label per row: a class of the prediction's version (compared as text, as classes
    are stored) for a classifier, a finite number for a regressor, or None for a row
    without truth.
    """
    if len(labels) != prediction.rows:
        message = f"Give one label per row: this prediction has {prediction.rows} row(s)."
        return [{"loc": ["body", "labels"], "msg": message, "type": "length"}]
    version = prediction.version
    model = prediction.model or (version.model if version else None)
    regression = model is not None and model.task_type == TaskType.REGRESSION
    classes = [str(c) for c in version.output_classes] if version and not regression else []
    errors = []
    for index, label in enumerate(labels):
        problem = _label_problem(label, regression=regression, classes=classes)
        if problem:
            errors.append(_label_error(index, *problem))
    return errors


@transaction.atomic
def feedback_record(*, prediction, labels, given_by):
    """Store the true labels of a logged prediction (the latest word wins), recount its day.

    Raises InvalidInputs when a label does not fit the prediction (feedback_label_errors).
    """
    errors = feedback_label_errors(prediction=prediction, labels=labels)
    if errors:
        raise InvalidInputs(errors)
    feedback = Feedback.objects.filter(prediction=prediction).first() or Feedback(
        prediction=prediction
    )
    feedback.labels, feedback.given_by = labels, given_by
    feedback.copy_from_prediction()
    feedback.save()
    day = prediction.created_at.date().isoformat()
    transaction.on_commit(lambda: _performance_refresh(prediction.model_name, day))
    return feedback


def _performance_refresh(model_name, day):
    from monitoring.tasks import performance_refresh_task

    try:
        performance_refresh_task.delay(model_name, day)
    except Exception:  # noqa: BLE001 - beat's sweep recounts it within PERFORMANCE_SWEEP_SECONDS
        logger.warning("live performance refresh not queued for %s %s", model_name, day)
