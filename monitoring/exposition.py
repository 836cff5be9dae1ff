"""/metrics: every worker's samples summed, plus values read fresh at scrape time."""

import logging
import os

import prometheus_client
import redis
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)
LOG_BUFFER_QUEUE = "prediction-log-buffer"


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
        from predictions import logbook

        family = GaugeMetricFamily(
            "portal_celery_queue_depth",
            "Messages waiting in a Celery queue (and records in the prediction log buffer)",
            labels=["queue"],
        )
        broker = settings.CELERY_BROKER_URL
        if broker.startswith(("redis://", "rediss://")):
            try:
                client = redis.Redis.from_url(broker, socket_timeout=1, socket_connect_timeout=1)
                # kombu's Redis transport keeps each queue as a list named after it.
                family.add_metric(
                    [settings.CELERY_TASK_DEFAULT_QUEUE],
                    client.llen(settings.CELERY_TASK_DEFAULT_QUEUE),
                )
                if settings.PREDICTION_LOG_BUFFER_URL:
                    family.add_metric([LOG_BUFFER_QUEUE], logbook.backlog())
            except redis.RedisError:
                logger.warning("metrics: broker unreachable, queue depth not reported")
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
    return registry


def serve_worker_metrics(port, addr="0.0.0.0"):  # noqa: S104 - Prometheus scrapes from outside
    """A Celery worker's own /metrics (its tasks' samples) for Prometheus to scrape."""
    prometheus_client.start_http_server(port, addr=addr, registry=registry(scrape_time=False))


class _DefaultRegistry:
    def collect(self):
        return prometheus_client.REGISTRY.collect()


@require_GET
def metrics(request):
    return HttpResponse(
        prometheus_client.generate_latest(registry()),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
