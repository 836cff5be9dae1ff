"""Drift checks as workflows: run, store the report, raise alerts (audit, metrics)."""

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from models_registry.models import ModelVersion, Stage
from monitoring import metrics
from monitoring.drift.check import drift_compute
from monitoring.models import DriftReport, DriftStatus, FeatureDrift, PerformanceCheck
from predictions.models import Prediction, PredictionStatus

WINDOW_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
WINDOW_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_window(text):
    """'24h', '30m', '7d', '2w', '90s' -> timedelta; ValueError on anything else."""
    match = WINDOW_PATTERN.match(str(text or "").lower())
    if not match or int(match[1]) == 0:
        raise ValueError(
            f"Bad window {text!r}: use a positive number and a unit s, m, h, d or w (e.g. 24h)."
        )
    return timedelta(**{WINDOW_UNITS[match[2]]: int(match[1])})


def versions_with_traffic(since):
    """Production versions with ok-status predictions logged since `since`."""
    traffic = Prediction.objects.filter(
        model_id=OuterRef("model_id"),
        version_id=OuterRef("pk"),
        status=PredictionStatus.OK,
        created_at__gte=since,
    )
    return ModelVersion.objects.production().filter(Exists(traffic)).select_related("model")


def drift_check(*, version, window=None, now=None, save=True):
    """Check the last `window` of a version's traffic; store the report and alert when saving.

    Returns (result, report); report is None when `save` is false.
    """
    end = now or timezone.now()
    start = end - (window or parse_window(settings.DRIFT_WINDOW))
    result = drift_compute(version=version, start=start, end=end)
    if not save:
        return result, None
    report = _report_store(result)
    _metrics_set(result)
    return result, report


@transaction.atomic
def _report_store(result):
    version = result.version
    # One check at a time per version, so an alert transition is audited exactly once.
    ModelVersion.objects.select_for_update().filter(pk=version.pk).first()
    previous = DriftReport.objects.filter(version=version).decisive().first()
    report = DriftReport.objects.create(
        model_id=version.model_id,
        version=version,
        window_start=result.window_start,
        window_end=result.window_end,
        rows=result.rows,
        counted_rows=result.counted_rows,
        status=result.status,
        duration_ms=result.duration_ms,
    )
    FeatureDrift.objects.bulk_create(
        FeatureDrift(
            report=report,
            model_id=version.model_id,
            version=version,
            feature=column.feature,
            method=column.method,
            score=column.score,
            p_value=column.p_value,
            psi=column.psi,
            values=column.values,
            out_of_range=column.out_of_range,
            histogram=column.histogram,
            status=column.status,
            created_at=report.created_at,
        )
        for column in result.columns
    )
    was_alerting = previous is not None and previous.status == DriftStatus.ALERT
    if result.status == DriftStatus.ALERT and not was_alerting:
        AuditEvent.objects.record(
            AuditAction.DRIFT_ALERT,
            target=version,
            details={
                "report": report.pk,
                "features": result.alerting,
                "rows": result.rows,
                "window_start": result.window_start.isoformat(),
                "window_end": result.window_end.isoformat(),
            },
        )
    return report


def _metrics_set(result):
    if result.status == DriftStatus.NOT_ENOUGH_DATA:
        return  # no verdict: the last one stands
    model = result.version.model.name
    version = str(result.version.version)
    for column in result.columns:
        if column.score is not None:
            metrics.drift_score.labels(model, version, column.feature, column.method).set(
                column.score
            )
        if column.psi is not None:
            metrics.drift_score.labels(model, version, column.feature, "psi").set(column.psi)
    metrics.drift_alert.labels(model, version).set(int(result.status == DriftStatus.ALERT))


def alerts_retire():
    """Clear the alerts of versions that no longer serve (rolled back or archived).

    Checks run on production versions only, so a demoted version's last alert would stand
    for ever and its gauges keep Prometheus' rules firing. Its reports stay, as history.
    Returns the (model, version) pairs whose alerts were cleared.
    """
    retired = set()
    stale = (
        PerformanceCheck.objects.filter(alerting=True)
        .exclude(version__stage=Stage.PRODUCTION)
        .select_related("version__model")
    )
    for check in stale:
        check.alerting = False
        check.save(update_fields=["alerting"])
        key = (check.version.model.name, str(check.version.version))
        metrics.performance_alert.labels(*key).set(0)
        retired.add(key)
    newest = DriftReport.objects.decisive().filter(version=OuterRef("pk")).order_by("-created_at")
    drifted = (
        ModelVersion.objects.exclude(stage=Stage.PRODUCTION)
        .annotate(last_verdict=Subquery(newest.values("status")[:1]))
        .filter(last_verdict=DriftStatus.ALERT)
        .values_list("model__name", "version")
    )
    for name, number in drifted:
        metrics.drift_alert.labels(name, str(number)).set(0)
        retired.add((name, str(number)))
    return sorted(retired)
