"""Beat's drift check: reports stored, one audit event per alert transition, metrics set."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.models import AuditAction, AuditEvent
from models_registry.models import Stage
from monitoring import metrics
from monitoring.models import (
    DriftReport,
    DriftStatus,
    FeatureDrift,
    PerformanceCheck,
    TrafficHour,
    TrafficMinute,
)
from monitoring.tasks import drift_check_task, performance_sweep_task, purge_rollups_task
from monitoring.tests.conftest import log_window, predict, shifted, shop_frame
from predictions.models import Prediction

pytestmark = pytest.mark.django_db


def _log_shifted(version):
    frame = shop_frame(seed=11)
    log_window(version, shifted(frame), outputs=predict(version, frame))


def _alerts():
    return AuditEvent.objects.filter(action=AuditAction.DRIFT_ALERT)


def test_beat_runs_the_check_on_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["drift-check"]
    assert entry["task"] == "monitoring.tasks.drift_check_task"
    assert entry["schedule"] == 3600


def test_only_production_versions_with_traffic_are_checked(shop_version):
    assert drift_check_task.delay().get() == []
    log_window(shop_version, shop_frame())
    assert drift_check_task.delay().get() == [shop_version.pk]
    report = DriftReport.objects.get()
    assert (report.version, report.rows, report.status) == (shop_version, 400, DriftStatus.OK)
    assert FeatureDrift.objects.filter(report=report).count() == 5


def test_an_alert_is_audited_once_per_transition_and_sets_metrics(shop_version):
    _log_shifted(shop_version)
    drift_check_task.delay()
    drift_check_task.delay()  # still alerting an hour later: no second event
    assert DriftReport.objects.filter(status=DriftStatus.ALERT).count() == 2
    event = _alerts().get()
    assert event.target_id == str(shop_version.pk)
    assert sorted(event.details["features"]) == ["colour", "weight"]
    labels = {"model": "shop", "version": "1"}
    assert REGISTRY.get_sample_value("portal_drift_alert", labels) == 1
    assert (
        REGISTRY.get_sample_value(
            "portal_drift_score", {**labels, "feature": "weight", "method": "psi"}
        )
        > 1
    )
    assert (
        REGISTRY.get_sample_value(
            "portal_drift_score", {**labels, "feature": "weight", "method": "ks"}
        )
        > 0.5
    )

    # Traffic back to normal clears the alert; a new shift is a new transition.
    Prediction.objects.all().delete()
    log_window(shop_version, shop_frame())
    drift_check_task.delay()
    assert REGISTRY.get_sample_value("portal_drift_alert", labels) == 0
    Prediction.objects.all().delete()
    _log_shifted(shop_version)
    drift_check_task.delay()
    assert _alerts().count() == 2


def test_not_enough_data_neither_clears_nor_repeats_an_alert(shop_version):
    _log_shifted(shop_version)
    drift_check_task.delay()
    Prediction.objects.all().delete()
    log_window(shop_version, shop_frame().head(5))
    drift_check_task.delay()
    Prediction.objects.all().delete()
    _log_shifted(shop_version)
    drift_check_task.delay()
    assert list(DriftReport.objects.values_list("status", flat=True)) == [
        DriftStatus.ALERT, DriftStatus.NOT_ENOUGH_DATA, DriftStatus.ALERT
    ]  # fmt: skip
    assert _alerts().count() == 1


def test_the_banner_shows_on_the_model_page_while_alerting(shop_version, client, viewer):
    client.force_login(viewer)
    url = reverse("registry:model_detail", args=["shop"])
    log_window(shop_version, shop_frame())
    drift_check_task.delay()
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert 'data-testid="drift-banner"' not in response.text

    Prediction.objects.all().delete()
    _log_shifted(shop_version)
    drift_check_task.delay()
    response = client.get(url)
    assert 'data-testid="drift-banner"' in response.text
    assert "Drift alert" in response.text
    assert "colour, weight" in response.text


def _gauge(name, version):
    labels = {"model": version.model.name, "version": str(version.version)}
    return REGISTRY.get_sample_value(name, labels)


def test_a_version_that_stops_serving_stops_alerting(shop_version):
    _log_shifted(shop_version)
    drift_check_task.delay()
    PerformanceCheck.objects.create(
        version=shop_version, metric="accuracy", live=0.5, training=0.9, alerting=True
    )
    metrics.performance_alert.labels("shop", "1").set(1)
    assert _gauge("portal_drift_alert", shop_version) == 1
    performance_sweep_task.delay()
    assert PerformanceCheck.objects.get().alerting  # still production: the alert stands

    shop_version.stage = Stage.ARCHIVED  # as a rollback to an earlier version leaves it
    shop_version.save(update_fields=["stage"])
    performance_sweep_task.delay()
    assert not PerformanceCheck.objects.get().alerting
    assert _gauge("portal_live_performance_alert", shop_version) == 0
    assert _gauge("portal_drift_alert", shop_version) == 0
    assert DriftReport.objects.get().status == DriftStatus.ALERT  # kept, as history


def test_purge_drops_minute_and_hour_rollups_past_retention(settings):
    settings.ROLLUP_RETENTION_DAYS = 30
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for days in (31, 29):
        when = now - timedelta(days=days)
        TrafficMinute.objects.create(minute=when, model_name="m", version_number=1, requests=1)
        TrafficHour.objects.create(hour=when, model_name="m", version_number=1, requests=1)
    assert purge_rollups_task.delay().get() == 2
    assert TrafficMinute.objects.count() == TrafficHour.objects.count() == 1
