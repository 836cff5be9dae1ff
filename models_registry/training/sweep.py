"""Beat's sweep of training jobs whose worker died or whose message was lost.

A running job beats a heartbeat (pipeline.run_training). One silent for JOB_STALL_SECONDS
lost its worker: it is queued again for another attempt, from its first stage. A queued job
nobody took for as long lost its message (a Redis restart, a purge): it is sent again. The
broker would redeliver the first only after its visibility timeout, and never the second.
After MAX_ATTEMPTS the job is failed with the reason instead. Each decision is taken under
the job's row lock, against the state the run's claim and writes check, so an extra message
is a no-op and a run that was taken back stops at its next write.
"""

import logging

from models_registry.models import PIPELINE_STAGES, JobStatus, TrainingJob
from models_registry.training.pipeline import log_entry
from monitoring import metrics as portal_metrics
from portal.job_sweep import sweep

logger = logging.getLogger(__name__)

# Sends of one job, lost ones included: a job whose worker keeps dying (out of memory, say)
# or that nobody ever takes is failed rather than tried forever.
MAX_ATTEMPTS = 3


def training_jobs_sweep(*, now=None):
    """Requeue, resend or fail every stalled job; the ids of the jobs to send to a worker."""
    return sweep(
        TrainingJob.objects.all(),
        statuses=[JobStatus.QUEUED, JobStatus.RUNNING],
        decide=_decide,
        now=now,
    )


def _decide(job, *, now):
    """What becomes of one silent job (its row locked); True when it is to be sent again."""
    silent = round((now - job.seen).total_seconds())
    if job.status == JobStatus.RUNNING:
        what = f"attempt {job.attempts}: no heartbeat for {silent} s (its worker is gone)"
    else:
        what = f"nobody took the job in {silent} s (its message was lost)"
    if job.attempts >= MAX_ATTEMPTS:
        job.status, job.finished_at = JobStatus.FAILED, now
        job.error = f"Gave up after {job.attempts} attempts; {what}."
        job.log.append(log_entry(job.error))
        job.save(update_fields=["status", "finished_at", "error", "log"])
        portal_metrics.training_jobs.labels(outcome=JobStatus.FAILED).inc()
        logger.warning("training job %s failed by the sweep: %s", job.pk, what)
        return False
    if job.status == JobStatus.RUNNING:
        # Back to the start: the next claim counts the attempt and runs every stage again.
        job.status, job.progress, job.error = JobStatus.QUEUED, 0, ""
        job.stages = [{"name": name, "status": "pending"} for name in PIPELINE_STAGES]
    else:
        job.attempts += 1  # a lost message spends an attempt, as a dead run does
    job.heartbeat_at = now  # the send: the job has JOB_STALL_SECONDS again to be taken
    job.log.append(log_entry(f"{what}; sent again"))
    job.save(
        update_fields=["status", "progress", "error", "stages", "attempts", "heartbeat_at", "log"]
    )
    logger.warning("training job %s sent again: %s", job.pk, what)
    return True
