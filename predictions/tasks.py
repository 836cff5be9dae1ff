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


# ---------------------------------------------------------------- batch prediction jobs
# Under the broker's visibility timeout (1 h by default), so a live job is never redelivered.
BATCH_JOB_TIME_LIMIT_SECONDS = 1800


@shared_task(
    name="predictions.tasks.run_batch_job_task",
    time_limit=BATCH_JOB_TIME_LIMIT_SECONDS,
    soft_time_limit=BATCH_JOB_TIME_LIMIT_SECONDS - 60,
)
def run_batch_job_task(job_id):
    """Score a batch job (idempotent: a redelivered job starts again from its first row)."""
    # Imported here: the batch code imports this module to enqueue, and the top stays small.
    from predictions.batch.run import batch_job_run

    return batch_job_run(job_id)


SWEEP_TIME_LIMIT_SECONDS = 60


@shared_task(
    name="predictions.tasks.sweep_batch_jobs_task",
    time_limit=SWEEP_TIME_LIMIT_SECONDS,
    soft_time_limit=SWEEP_TIME_LIMIT_SECONDS - 10,
)
def sweep_batch_jobs_task():
    """Beat's sweep: send stalled or lost batch jobs to a worker again, or fail them."""
    from predictions.batch.sweep import batch_jobs_sweep

    resend = batch_jobs_sweep()
    for job_id in resend:
        run_batch_job_task.delay(job_id)
    return len(resend)
