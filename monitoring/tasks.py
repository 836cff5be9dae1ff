import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

DRIFT_SWEEP_TIME_LIMIT_SECONDS = 60
DRIFT_CHECK_TIME_LIMIT_SECONDS = 300

logger = logging.getLogger(__name__)


@shared_task(
    name="monitoring.tasks.drift_check_task",
    time_limit=DRIFT_SWEEP_TIME_LIMIT_SECONDS,
    soft_time_limit=DRIFT_SWEEP_TIME_LIMIT_SECONDS - 10,
    # Beat sends one per interval: a late one is replaced by the next, never queued up.
    expires=DRIFT_SWEEP_TIME_LIMIT_SECONDS,
)
def drift_check_task():
    """Beat's drift sweep: one check per production version that had traffic in the window."""
    from monitoring.services import parse_window, versions_with_traffic

    since = timezone.now() - parse_window(settings.DRIFT_WINDOW)
    version_ids = list(versions_with_traffic(since).values_list("pk", flat=True))
    for version_id in version_ids:
        # One task per version: a slow or failing model never holds up the others.
        drift_check_version_task.delay(version_id)
    return version_ids


@shared_task(
    name="monitoring.tasks.drift_check_version_task",
    time_limit=DRIFT_CHECK_TIME_LIMIT_SECONDS,
    soft_time_limit=DRIFT_CHECK_TIME_LIMIT_SECONDS - 30,
    ignore_result=True,
)
def drift_check_version_task(version_id):
    from models_registry.models import ModelVersion
    from monitoring.drift.check import DriftCheckError
    from monitoring.services import drift_check

    version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
    if version is None:
        return None
    try:
        _result, report = drift_check(version=version)
    except DriftCheckError as exc:
        logger.warning("drift check skipped: %s", exc)
        return None
    return report.pk


# ---------------------------------------------------------------- live performance
PERFORMANCE_TIME_LIMIT_SECONDS = 120
PERFORMANCE_SWEEP_OVERLAP = 2  # sweeps look back this many intervals: a late one misses nothing


@shared_task(
    name="monitoring.tasks.performance_refresh_task",
    time_limit=PERFORMANCE_TIME_LIMIT_SECONDS,
    soft_time_limit=PERFORMANCE_TIME_LIMIT_SECONDS - 10,
    ignore_result=True,
)
def performance_refresh_task(model_name, day):
    """Recount a model's live performance for one day of predictions, then check its alert."""
    from datetime import date

    from models_registry.models import ModelVersion
    from monitoring.performance import performance_check, performance_refresh

    performance_refresh(model_name=model_name, day=date.fromisoformat(day))
    for version in ModelVersion.objects.production().filter(model__name=model_name):
        performance_check(version)


@shared_task(
    name="monitoring.tasks.performance_sweep_task",
    time_limit=PERFORMANCE_TIME_LIMIT_SECONDS,
    soft_time_limit=PERFORMANCE_TIME_LIMIT_SECONDS - 10,
    expires=PERFORMANCE_TIME_LIMIT_SECONDS,
)
def performance_sweep_task():
    """Beat's catch-up: refresh every (model, day) whose feedback changed lately.

    Also clears the alerts of versions that stopped serving since (monitoring.services).
    """
    from datetime import timedelta

    from django.db.models.functions import TruncDate

    from monitoring.services import alerts_retire
    from predictions.models import Feedback

    alerts_retire()

    since = timezone.now() - timedelta(
        seconds=settings.PERFORMANCE_SWEEP_SECONDS * PERFORMANCE_SWEEP_OVERLAP
    )
    touched = (
        Feedback.objects.filter(updated_at__gte=since)
        .exclude(predicted_at=None)
        .annotate(day=TruncDate("predicted_at"))
        .values_list("model_name", "day")
        .distinct()
    )
    keys = sorted({(name, day.isoformat()) for name, day in touched})
    for name, day in keys:
        performance_refresh_task.delay(name, day)
    return keys


@shared_task(name="monitoring.tasks.purge_rollups_task", time_limit=300, soft_time_limit=270)
def purge_rollups_task():
    """Delete traffic rollups (minutes and hours) past ROLLUP_RETENTION_DAYS."""
    from datetime import timedelta

    from monitoring.models import TrafficHour, TrafficMinute

    cutoff = timezone.now() - timedelta(days=settings.ROLLUP_RETENTION_DAYS)
    return (
        TrafficMinute.objects.filter(minute__lt=cutoff).delete()[0]
        + TrafficHour.objects.filter(hour__lt=cutoff).delete()[0]
    )
