"""The Celery app: configured from Django settings (CELERY_*), request ids carried into tasks."""

import os
import time

from celery import Celery, signals

from portal.request_context import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_TASK_HEADER = "request_id"


@signals.before_task_publish.connect
def _attach_request_id(headers=None, **_):
    request_id = request_id_var.get()
    if headers is not None and request_id and REQUEST_ID_TASK_HEADER not in headers:
        headers[REQUEST_ID_TASK_HEADER] = request_id


@signals.task_prerun.connect
def _restore_request_id(task=None, **_):
    if task is None:
        return
    # Eager tasks run inside the request, so the current id stays when no header came.
    request_id = getattr(task.request, REQUEST_ID_TASK_HEADER, None) or request_id_var.get()
    task._request_id_token = request_id_var.set(request_id)


@signals.task_postrun.connect
def _clear_request_id(task=None, **_):
    token = getattr(task, "_request_id_token", None)
    if token is not None:
        request_id_var.reset(token)
        task._request_id_token = None


@signals.setup_logging.connect
def _use_django_logging(**_):
    """Keep Django's JSON logging in workers instead of Celery's own handlers."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


_task_started = {}


@signals.task_prerun.connect
def _time_task(task_id=None, **_):
    _task_started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _count_task(task_id=None, task=None, state=None, **_):
    from monitoring import metrics

    started = _task_started.pop(task_id, None)
    if task is None or started is None:
        return
    metrics.celery_task_runtime.labels(task=task.name).observe(time.perf_counter() - started)
    metrics.celery_tasks.labels(task=task.name, outcome=(state or "unknown").lower()).inc()


@signals.worker_ready.connect
def _serve_metrics(**_):
    # Workers may run on other machines: each exposes its own samples when given a port.
    port = os.environ.get("CELERY_METRICS_PORT")
    if port:
        from monitoring.exposition import serve_worker_metrics

        serve_worker_metrics(int(port))


@signals.worker_ready.connect
def _worker_heartbeat(sender=None, **_):
    from monitoring.system import heartbeat_start

    heartbeat_start("worker")


@signals.beat_init.connect
def _beat_heartbeat(**_):
    from monitoring.system import heartbeat_start

    heartbeat_start("beat")
