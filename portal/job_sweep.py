"""The stalled-job sweep both kinds of job share: find the silent ones, decide each under lock.

A job (training or batch) shows life by its claim (`started_at`), its heartbeat and, when
nobody has taken it yet, its creation. One silent for JOB_STALL_SECONDS lost its worker or its
message; what then happens to it is its app's decision (resend, or fail after the last
attempt), taken under the job's row lock against the state its runs check.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone


def silent(queryset, *, statuses, cutoff):
    """Jobs of `queryset` in `statuses` with no sign of life since `cutoff` (as `seen`)."""
    return (
        queryset.filter(status__in=statuses)
        .annotate(seen=Coalesce("heartbeat_at", "started_at", "created_at"))
        .filter(seen__lt=cutoff)
    )


def sweep(queryset, *, statuses, decide, now=None):
    """decide(job, now=) for every silent job, under its row lock; the ids it said to resend."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_STALL_SECONDS)
    resend = []
    for job_id in silent(queryset, statuses=statuses, cutoff=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            # Skip a locked row: its run is writing right now, so it is not stalled.
            job = (
                silent(queryset, statuses=statuses, cutoff=cutoff)
                .select_for_update(skip_locked=True)
                .filter(pk=job_id)
                .first()
            )
            if job is not None and decide(job, now=now):  # None: it beat or ended meanwhile
                resend.append(job_id)
    return resend
