"""Beat's sweep of batch jobs whose worker died or whose message was lost.

A running job beats a heartbeat (run.batch_job_run). One silent for JOB_STALL_SECONDS lost
its worker: it is queued again and starts over from row one (a 1M-row job takes seconds).
A queued job nobody took for as long lost its message (a Redis restart, a purge): it is sent
again. The broker would redeliver the first only after its visibility timeout, and never the
second. After MAX_ATTEMPTS the job is failed with the reason and its rows of quota are given
back. Each decision is taken under the job's row lock, against the state a run's claim and
writes check, so a stray message or a run that was taken back does no harm.
"""

import logging

from monitoring import metrics
from portal.job_sweep import sweep
from predictions.batch.run import MAX_ATTEMPTS
from predictions.batch.submit import batch_job_fail
from predictions.models import BatchJob, BatchJobStatus

logger = logging.getLogger(__name__)


def batch_jobs_sweep(*, now=None):
    """Requeue, resend or fail every stalled job; the ids of the jobs to send to a worker."""
    resend = sweep(
        BatchJob.objects.all(),
        statuses=[BatchJobStatus.QUEUED, BatchJobStatus.RUNNING],
        decide=_decide,
        now=now,
    )
    return [str(job_id) for job_id in resend]


def _decide(job, *, now):
    """What becomes of one silent job (its row locked); True when it is to be sent again."""
    silent = round((now - job.seen).total_seconds())
    if job.status == BatchJobStatus.RUNNING:
        what = f"no heartbeat for {silent} s on attempt {job.attempts} (its worker is gone)"
    else:
        what = f"nobody took the job in {silent} s (its message was lost)"
    if job.attempts >= MAX_ATTEMPTS:
        if batch_job_fail(job, error=f"Gave up after {job.attempts} attempts: {what}."):
            model = job.version.model.name
            metrics.batch_job_rows.labels(model=model, status="failed").inc(job.rows_total)
        logger.warning("batch job %s failed by the sweep: %s", job.pk, what)
        return False
    if job.status == BatchJobStatus.RUNNING:
        # The next claim counts the attempt and starts from row one, as any attempt does.
        job.status, job.rows_done, job.rows_failed, job.errors = BatchJobStatus.QUEUED, 0, 0, []
    else:
        job.attempts += 1  # a lost message spends an attempt, as a dead run does
    job.heartbeat_at = now  # the send: the job has JOB_STALL_SECONDS again to be taken
    job.save(
        update_fields=["status", "rows_done", "rows_failed", "errors", "attempts", "heartbeat_at"]
    )
    logger.warning("batch job %s sent again: %s", job.pk, what)
    return True
