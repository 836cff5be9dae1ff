"""Start a batch job: check the input, reserve its rows of quota, store it, enqueue it."""

import logging
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import QuotaKind
from accounts.quotas import QuotaStatus, quota_release, quota_reserve
from models_registry import serving
from models_registry.models import MLModel
from predictions.batch.upload import inspect_csv, rows_to_csv
from predictions.models import BatchJob, BatchJobStatus
from predictions.services import ModelNotFound, NoProductionVersion

logger = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The broker refused the job; it is marked failed and its quota given back."""


def batch_job_submit(*, user, model_name, upload=None, rows=None):
    """Create and enqueue a job for an uploaded CSV or a list of JSON rows; (job, quota)."""
    if not MLModel.objects.visible_to(user).filter(name=model_name).exists():
        raise ModelNotFound(model_name)
    version = serving.production_version(model_name)
    if version is None:
        raise NoProductionVersion(model_name)
    if upload is not None:
        count, content, input_name = inspect_csv(upload, version.input_schema), upload, upload.name
    else:
        content, count, input_name = rows_to_csv(rows, version.input_schema), len(rows), ""
    quota = quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=count)
    try:
        with transaction.atomic():
            job = BatchJob(
                owner=user,
                model=version.model,
                version=version,
                rows_total=count,
                input_name=(input_name or "")[:255],
                quota_day=quota.resets_at.date() - timedelta(days=1),
            )
            # Stored before the task is sent: the worker reads the file, never the request.
            job.input_file.save(f"{job.pk}.csv", content, save=False)
            job.save()
    except BaseException:
        quota_release(status=quota, user=user, units=count)  # no job, nothing to pay for
        raise
    _enqueue(job)
    return job, quota


def _enqueue(job):
    from predictions.tasks import run_batch_job_task

    try:
        run_batch_job_task.delay(str(job.pk))
    except OperationalError as exc:
        logger.exception("could not enqueue batch job %s", job.pk)
        batch_job_fail(job, error="The job queue is unavailable; nothing was run.")
        raise QueueUnavailable(str(job.pk)) from exc


def quota_refund(job, rows):
    """Give `rows` back to the quota day the job reserved them on."""
    if rows <= 0:
        return
    resets_at = datetime.combine(job.quota_day + timedelta(days=1), time.min, tzinfo=UTC)
    status = QuotaStatus(kind=QuotaKind.PREDICTION_ROWS, limit=0, used=0, resets_at=resets_at)
    quota_release(status=status, user=job.owner, units=rows)


@transaction.atomic
def batch_job_fail(job, *, error, attempt=None):
    """Mark an unfinished job failed and refund all its rows (no result is delivered).

    `attempt` is the run failing it: only while that run still has the job, so a run the
    sweep took back cannot fail the job queued again for its successor.
    """
    unfinished = BatchJob.objects.filter(pk=job.pk).exclude(
        status__in=[BatchJobStatus.SUCCEEDED, BatchJobStatus.FAILED]
    )
    if attempt is not None:
        unfinished = unfinished.filter(attempts=attempt, status=BatchJobStatus.RUNNING)
    failed = unfinished.update(
        status=BatchJobStatus.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    if failed:  # the one transition to failed refunds, so a redelivery never refunds twice
        quota_refund(job, job.rows_total)
    return bool(failed)
