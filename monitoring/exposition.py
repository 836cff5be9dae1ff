"""/metrics: every worker's samples summed, plus values read fresh at scrape time.

The samples name models, restricted ones included: with METRICS_BEARER_TOKEN set, both
/metrics and each Celery worker's metrics port answer only that bearer secret.
"""

import hmac
import logging
import os
import threading
from http import HTTPStatus
from wsgiref.simple_server import WSGIRequestHandler, make_server

import prometheus_client
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)
LOG_BUFFER_QUEUE = "prediction-log-buffer"
BEARER_CHALLENGE = 'Bearer realm="metrics"'
UNAUTHORIZED_BODY = b"Send Authorization: Bearer <METRICS_BEARER_TOKEN>\n"


class ProductionVersionCollector:
    """portal_production_version_info: which version each model serves, from the database."""

    def collect(self):
        from models_registry.models import ModelVersion

        family = GaugeMetricFamily(
            "portal_production_version_info",
            "1 for the version each model serves in production",
            labels=["model", "version"],
        )
        rows = ModelVersion.objects.production().values_list("model__name", "version")
        for model, version in rows:
            family.add_metric([model, str(version)], 1)
        yield family


class QueueDepthCollector:
    """portal_celery_queue_depth: messages waiting per Celery queue, and buffered log records."""

    def collect(self):
        from monitoring import system

        family = GaugeMetricFamily(
            "portal_celery_queue_depth",
            "Messages waiting in a Celery queue (and records in the prediction log buffer)",
            labels=["queue"],
        )
        for queue, depth in system.queue_depths().items():
            family.add_metric([LOG_BUFFER_QUEUE if queue == system.LOG_BUFFER else queue], depth)
        yield family


class LiveAccuracyCollector:
    """portal_live_accuracy_ratio: share of feedback labels the classifier got right, recently."""

    def collect(self):
        from datetime import timedelta

        from django.utils import timezone

        from models_registry.models import TaskType
        from predictions.models import Feedback, PredictionStatus

        family = GaugeMetricFamily(
            "portal_live_accuracy_ratio",
            "Share of rows whose feedback label matches the prediction, over the recent window",
            labels=["model", "version", "arm"],
        )
        since = timezone.now() - timedelta(seconds=settings.LIVE_ACCURACY_WINDOW_SECONDS)
        rows = (
            Feedback.objects.filter(
                updated_at__gte=since,
                prediction__status=PredictionStatus.OK,
                prediction__model__task_type=TaskType.CLASSIFICATION,
            )
            .values_list(
                "prediction__model_name",
                "prediction__version_number",
                "prediction__arm",
                "labels",
                "prediction__outputs",
            )
            .order_by("-updated_at")[: settings.LIVE_ACCURACY_MAX_FEEDBACK]
        )
        tally = {}
        for model, version, arm, labels, outputs in rows:
            right, total = tally.get((model, str(version), arm), (0, 0))
            # A None label is "no truth for this row": not counted, as in performance_refresh.
            pairs = [(t, o) for t, o in zip(labels, outputs, strict=False) if t is not None]
            right += sum(str(label) == str(output) for label, output in pairs)
            tally[(model, str(version), arm)] = (right, total + len(pairs))
        for labels, (right, total) in sorted(tally.items()):
            if total:
                family.add_metric(list(labels), right / total)
        yield family


def registry(*, scrape_time=True):
    """Samples from every process; with `scrape_time`, also the values read from the stores."""
    registry = prometheus_client.CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        # One process (runserver, tests): its own default registry holds every sample.
        registry.register(_DefaultRegistry())
    if scrape_time:
        registry.register(ProductionVersionCollector())
        registry.register(QueueDepthCollector())
        registry.register(LiveAccuracyCollector())
    return registry


def authorized(authorization):
    """Whether an Authorization header's value may read metrics: any, when no token is set."""
    token = settings.METRICS_BEARER_TOKEN
    if not token:
        return True
    scheme, _, credentials = authorization.partition(" ")
    # Constant time: how much of a guess matched must not show in how long the answer takes.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    )


def _bearer_required(app):
    """The WSGI `app`, answering 401 to a caller without the metrics bearer token."""

    def guarded(environ, start_response):
        if authorized(environ.get("HTTP_AUTHORIZATION", "")):
            return app(environ, start_response)
        start_response(
            f"{HTTPStatus.UNAUTHORIZED.value} {HTTPStatus.UNAUTHORIZED.phrase}",
            [("Content-Type", "text/plain; charset=utf-8"), ("WWW-Authenticate", BEARER_CHALLENGE)],
        )
        return [UNAUTHORIZED_BODY]

    return guarded


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass  # a scrape every 15 seconds is not worth a line in the worker's log


def serve_worker_metrics(port, addr="0.0.0.0"):  # noqa: S104 - Prometheus scrapes from outside
    """A Celery worker's own /metrics (its tasks' samples) for Prometheus to scrape.

    prometheus_client's own server has no authentication; this is the same WSGI app behind
    the same bearer check as /metrics. Returns the server (tests shut it down).
    """
    app = _bearer_required(prometheus_client.make_wsgi_app(registry(scrape_time=False)))
    server = make_server(addr, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server


class _DefaultRegistry:
    def collect(self):
        return prometheus_client.REGISTRY.collect()


@require_GET
def metrics(request):
    if not authorized(request.headers.get("Authorization", "")):
        response = HttpResponse(
            UNAUTHORIZED_BODY,
            status=HTTPStatus.UNAUTHORIZED,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = BEARER_CHALLENGE
        return response
    return HttpResponse(
        prometheus_client.generate_latest(registry()),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
