from celery import shared_task

from predictions.logbook import write_records


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
