"""Write prediction log rows off the request path, and never lose one.

The request publishes one small Celery message; the worker inserts it (acks late, so a killed
worker's message is delivered again). If the broker cannot take the message, the row is
inserted directly instead. The unique request id makes every path idempotent.
"""

import logging

from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError

from predictions.models import Prediction

logger = logging.getLogger(__name__)
FIELDS = (
    "request_id",
    "user_id",
    "model_id",
    "version_id",
    "model_name",
    "version_number",
    "arm",
    "inputs",
    "outputs",
    "probabilities",
    "rows",
    "latency_ms",
    "created_at",
    "status",
    "error",
)


def write_records(records):
    """Insert log records (dicts), skipping ones already written; return rows inserted."""
    objects = []
    for record in records:
        values = {field: record.get(field) for field in FIELDS}
        values["arm"] = values["arm"] or ""
        values["status"] = values["status"] or "ok"
        values["error"] = values["error"] or ""
        if isinstance(values["created_at"], str):
            values["created_at"] = parse_datetime(values["created_at"])
        objects.append(Prediction(**values))
    ids = {o.request_id for o in objects}
    existing = set(
        Prediction.objects.filter(request_id__in=ids).values_list("request_id", flat=True)
    )
    Prediction.objects.bulk_create(objects, ignore_conflicts=True)
    return len(ids - existing)


def log_prediction(record):
    """Hand the record to a worker; fall back to a direct insert when the broker is down."""
    from predictions.tasks import write_predictions_task

    try:
        write_predictions_task.delay([record])
    except OperationalError:
        logger.warning(
            "broker unavailable, writing prediction log directly",
            extra={"request_id_logged": record["request_id"]},
        )
        write_records([record])
