from celery import shared_task

from predictions import logbook
from predictions.logbook import write_records


@shared_task(
    name="predictions.tasks.drain_prediction_log_task",
    time_limit=120,
    soft_time_limit=100,
    max_retries=5,
    autoretry_for=(Exception,),
    retry_backoff=True,
)
def drain_prediction_log_task():
    """Insert the buffered prediction log in batches (requested by requests, and by beat)."""
    return logbook.drain()


# Kept for messages published before the buffer existed; new code never sends it.
@shared_task(
    name="predictions.tasks.write_predictions_task",
    time_limit=60,
    soft_time_limit=50,
    max_retries=5,
    autoretry_for=(Exception,),
    retry_backoff=True,
)
def write_predictions_task(records):
    return write_records(records)
