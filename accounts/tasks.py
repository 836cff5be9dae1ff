"""Housekeeping tasks for accounts."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from accounts import quota_counters
from accounts.models import QuotaUsage
from accounts.quotas import quota_day

logger = logging.getLogger(__name__)
PURGE_BATCH_SIZE = 5_000


def purge_quota_usage(*, retention_days):
    """Delete daily usage rows older than the retention window, in batches; return the count."""
    cutoff = quota_day() - timedelta(days=retention_days)
    deleted = 0
    while True:
        ids = list(
            QuotaUsage.objects.filter(day__lt=cutoff).values_list("pk", flat=True)[
                :PURGE_BATCH_SIZE
            ]
        )
        if not ids:
            return deleted
        deleted += QuotaUsage.objects.filter(pk__in=ids).delete()[0]


@shared_task(name="accounts.tasks.purge_quota_usage_task", time_limit=300, soft_time_limit=270)
def purge_quota_usage_task(retention_days=None):
    retention_days = retention_days or settings.QUOTA_USAGE_RETENTION_DAYS
    deleted = purge_quota_usage(retention_days=retention_days)
    logger.info(
        "purged quota usage rows", extra={"deleted": deleted, "retention_days": retention_days}
    )
    return deleted


@shared_task(name="accounts.tasks.sync_quota_counters_task", time_limit=60, soft_time_limit=50)
def sync_quota_counters_task():
    """Copy today's Redis quota counters into QuotaUsage (idempotent: the latest value wins)."""
    return quota_counters.counters_sync()
