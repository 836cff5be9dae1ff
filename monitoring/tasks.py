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
