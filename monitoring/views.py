"""Monitoring pages: traffic overview, a model's drift and live performance, the system.

Every number comes from rollups (traffic per minute, drift reports, performance per day) or
from a cheap system probe, never from a scan of the prediction log. Every role may look;
models a user may not see are left out, and raw inputs are never shown here.
"""

import os
import re
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from models_registry.models import MLModel, Stage, TaskType
from monitoring import charts, glance, performance, traffic
from monitoring import system as system_facts
from monitoring.models import (
    SEVERITY,
    DriftReport,
    FeatureDrift,
    MonitoringSettings,
    PerformanceDay,
)
from portal.http import render_page

REFRESH_SECONDS = 30
VERSION_NUMBER = re.compile(r"[0-9]{1,9}")


def _range(request):
    name = request.GET.get("range")
    return name if name in traffic.RANGES else traffic.DEFAULT_RANGE


@login_required
@require_GET
def overview(request):
    """Requests, errors and latency per model, version and arm, as a table and as charts.

    Each version's row also says whether its inputs drifted and how its live metric compares
    with training, so one page answers "is everything all right?".
    """
    range_name = _range(request)
    span = traffic.RANGES[range_name]
    since, until = span.window(timezone.now())
    names = list(MLModel.objects.visible_to(request.user).values_list("name", flat=True))
    table = traffic.traffic_table(span=span, model_names=names, since=since, until=until)
    health = glance.version_health((model, version) for model, version, _, _ in table)
    series = traffic.traffic_series(span=span, model_names=names, since=since, until=until)
    time_format = "%H:%M" if range_name != "week" else "%a %H:%M"

    def chart(value, unit):
        return charts.line_chart(
            [
                {
                    "label": f"{model} v{version}" + (f" {arm}" if arm else ""),
                    "points": [(t, value(stats)) for t, stats in points],
                }
                for (model, version, arm), points in sorted(series.items())
            ],
            since=since,
            until=until,
            unit=unit,
            time_format=time_format,
        )

    context = {
        "range_name": range_name,
        "ranges": list(traffic.RANGES),
        "since": since,
        "until": until,
        "rows": [
            (model, version, arm, stats, health.get((model, version)))
            for model, version, arm, stats in table
        ],
        "charts": [
            ("Requests per second", chart(lambda s: s.per_second, "/s")),
            ("Latency p95", chart(lambda s: s.p95, " ms")),
            ("Error rate", chart(lambda s: s.error_rate, "%")),
        ],
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render_page(request, "monitoring/overview.html", context, partial="traffic")


def _visible_model(request, name):
    # A model the user may not see is a 404, exactly like one that does not exist.
    return get_object_or_404(MLModel.objects.visible_to(request.user), name=name)


def _version(request, model):
    """The version asked for (?version=N), else the production one, else the newest."""
    versions = model.versions.light().order_by("-version")
    wanted = request.GET.get("version", "")
    if wanted:
        # Anything but a plain number names no version (isdigit() would pass "²").
        if not VERSION_NUMBER.fullmatch(wanted):
            raise Http404("No such version")
        return get_object_or_404(versions, version=int(wanted))
    return versions.filter(stage=Stage.PRODUCTION).first() or versions.first()


DRIFT_HISTORY_DAYS = 30


@login_required
@require_GET
def model_drift(request, name):
    """The latest drift report of a version: a row per feature, its histogram, its history."""
    model = _visible_model(request, name)
    version = _version(request, model)
    report = (
        DriftReport.objects.filter(version=version).prefetch_related("features").first()
        if version
        else None
    )
    features = list(report.features.all()) if report else []
    picked = _picked_feature(request.GET.get("feature"), features)
    since = timezone.now() - timedelta(days=DRIFT_HISTORY_DAYS)
    history = []
    if picked is not None:
        history = list(
            # model first: the (model, feature, created_at) index answers it.
            FeatureDrift.objects.filter(
                model=model, version=version, feature=picked.feature, created_at__gte=since
            )
            .exclude(psi=None)
            .order_by("created_at")
            .values_list("created_at", "psi")
        )
    settings_ = MonitoringSettings.for_model(model)
    context = {
        "model": model,
        "version": version,
        "versions": model.versions.light().order_by("-version"),
        "report": report,
        "features": features,
        "picked": picked,
        "histogram": _histogram(picked),
        "history_chart": charts.line_chart(
            [{"label": "PSI", "points": history}],
            since=since,
            until=timezone.now(),
            time_format="%m-%d",
        )
        if history
        else None,
        "thresholds": settings_,
    }
    return render_page(request, "monitoring/drift.html", context, partial="feature")


def _picked_feature(name, features):
    by_name = {f.feature: f for f in features}
    if name in by_name:
        return by_name[name]
    # Nothing asked for: the worst feature, so an alert is what one sees first.
    return max(features, key=lambda f: (SEVERITY[f.status], f.psi or 0), default=None)


def _histogram(feature):
    data = (feature.histogram or {}) if feature else {}
    if not data.get("labels") or len(data["labels"]) != len(data.get("current", [])):
        return None
    return charts.histogram_pair(data["labels"], data["reference"], data["current"])


PERFORMANCE_RANGES = {"week": 7, "month": 30}


@login_required
@require_GET
def model_performance(request, name):
    """Live metrics from feedback per version and arm, beside each version's training ones."""
    model = _visible_model(request, name)
    range_name = (
        request.GET.get("range") if request.GET.get("range") in PERFORMANCE_RANGES else "week"
    )
    today = timezone.now().date()
    since = today - timedelta(days=PERFORMANCE_RANGES[range_name] - 1)
    regression = model.task_type == TaskType.REGRESSION
    versions = {v.version: v for v in model.versions.light().select_related("performance_check")}
    days = list(
        PerformanceDay.objects.filter(model_name=model.name, day__gte=since).order_by("day")
    )
    groups = defaultdict(list)
    for day in days:
        groups[(day.version_number, day.arm)].append(day)
    rows = []
    for (number, arm), group in sorted(groups.items(), key=lambda item: (-item[0][0], item[0][1])):
        version = versions.get(number)
        positive = performance.positive_class(version)
        live = performance.live_metrics(group, regression=regression, positive=positive)
        rows.append(
            {
                "version": number,
                "arm": arm,
                "live": live,
                "training": (version.metrics or {}) if version else {},
                "check": getattr(version, "performance_check", None) if version else None,
            }
        )
    names = ("rmse", "mae") if regression else ("accuracy", "precision", "recall", "f1", "roc_auc")
    series_metric = "rmse" if regression else "accuracy"
    series = []
    for (number, arm), group in sorted(groups.items()):
        positive = performance.positive_class(versions.get(number))
        points = [
            (
                datetime.combine(d.day, time(12), tzinfo=UTC),
                performance.live_metrics([d], regression=regression, positive=positive).get(
                    series_metric
                ),
            )
            for d in group
        ]
        series.append({"label": f"v{number}" + (f" {arm}" if arm else ""), "points": points})
    start = datetime.combine(since, time.min, tzinfo=UTC)
    context = {
        "model": model,
        "range_name": range_name,
        "ranges": list(PERFORMANCE_RANGES),
        "rows": rows,
        "metric_names": names,
        "series_metric": series_metric,
        "chart": charts.line_chart(
            series,
            since=start,
            until=start + timedelta(days=PERFORMANCE_RANGES[range_name]),
            unit="" if regression else "%",
            time_format="%m-%d",
        ),
        "thresholds": MonitoringSettings.for_model(model),
    }
    return render_page(request, "monitoring/performance.html", context, partial="performance")


@login_required
@require_GET
def system(request):
    """The database, the queues, Celery's workers and beat, this web process."""
    beats = system_facts.processes()
    context = {
        "database_bytes": system_facts.database_bytes(),
        "queues": system_facts.queue_depths(),
        "workers": [p for p in beats if p.kind == "worker"],
        "beat": next((p for p in beats if p.kind == "beat" and p.alive), None)
        or next((p for p in beats if p.kind == "beat"), None),
        "web_rss": system_facts.rss_bytes(),
        "web_pid": os.getpid(),
        "eager": settings.CELERY_TASK_ALWAYS_EAGER,
        "stale_seconds": system_facts.STALE_SECONDS,
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render_page(request, "monitoring/system.html", context, partial="system")
