"""Liveness and readiness probes."""

import functools
from http import HTTPStatus

import redis
from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app

BROKER_CHECK_TIMEOUT_SECONDS = 2
# Who sees what a failed check raised (it can name internal addresses); others see which one.
ERROR_DETAIL_PERMISSION = "accounts.manage_users"
# What the prediction log buffer's Redis must run with for "loses nothing" to hold (README).
DURABLE_REDIS = {"appendonly": "yes", "appendfsync": "always"}
BUFFER_NOT_PERSISTED = (
    "the prediction log buffer's Redis runs without its append-only file (appendonly no): "
    "a Redis restart loses buffered log records; run it with deploy/redis/redis.conf"
)
BUFFER_FSYNC_LAX = (
    "the prediction log buffer's Redis syncs its append-only file {appendfsync!r}, not "
    "'always': a crash can lose the last buffered log records; run it with "
    "deploy/redis/redis.conf"
)
BUFFER_UNVERIFIABLE = (
    "the prediction log buffer's Redis refuses CONFIG GET, so its persistence cannot be "
    "verified: make sure it runs with appendonly yes and appendfsync always"
)
BUFFER_UNREACHABLE = (
    "the prediction log buffer's Redis is unreachable: predictions are logged straight to "
    "the database meanwhile"
)


@never_cache
@require_GET
def health(request):
    """Alive: answers without touching any dependency."""
    return JsonResponse({"status": "ok"})


def check_database():
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker():
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded mode: tasks run in-process, there is no broker to reach
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)


def check_models():
    """Every production version loads (verified artifact); cached per process after once."""
    from models_registry import serving
    from models_registry.models import ModelVersion

    broken = []
    for version in ModelVersion.objects.production().select_related("model"):
        try:
            serving.load_estimator(version)
        except Exception as exc:  # noqa: BLE001 - reported, not raised one by one
            broken.append(f"{version}: {exc}")
    if broken:
        raise RuntimeError("; ".join(broken))


READINESS_CHECKS = {"database": check_database, "broker": check_broker, "models": check_models}


@functools.cache
def _redis(url):
    # Short timeouts: a probe answers within seconds whatever Redis does.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)


def log_buffer_warnings():
    """Why a Redis crash could lose buffered prediction log records ([] when it cannot)."""
    url = settings.PREDICTION_LOG_BUFFER_URL
    if not url or settings.CELERY_TASK_ALWAYS_EAGER:
        return []  # nothing is buffered: every record is inserted directly
    try:
        client = _redis(url)
        found = {name: client.config_get(name).get(name) for name in DURABLE_REDIS}
    except redis.ResponseError:  # managed Redis services often disable or rename CONFIG
        return [BUFFER_UNVERIFIABLE]
    except redis.RedisError:
        return [BUFFER_UNREACHABLE]
    if found["appendonly"] != DURABLE_REDIS["appendonly"]:
        return [BUFFER_NOT_PERSISTED]
    if found["appendfsync"] != DURABLE_REDIS["appendfsync"]:
        return [BUFFER_FSYNC_LAX.format(appendfsync=found["appendfsync"])]
    return []


def _sees_errors(request):
    try:
        return request.user.has_perm(ERROR_DETAIL_PERMISSION)
    except Exception:  # noqa: BLE001 - with the database down nobody is recognised as an admin
        return False


@never_cache
@require_GET
def readiness(request):
    """Ready: every dependency answers; 503 with the list of what failed otherwise.

    Admins (signed in) see what each failed check raised; anyone else only which check
    failed, since errors name internal hosts and ports. Warnings (still ready) say what could
    lose data, such as a log buffer whose Redis does not persist.
    """
    failures = []
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            failures.append({"check": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    warnings = [{"check": "log_buffer", "warning": text} for text in log_buffer_warnings()]
    if failures:
        if not _sees_errors(request):
            failures = [{"check": failure["check"]} for failure in failures]
        return JsonResponse(
            {"status": "unavailable", "failures": failures, "warnings": warnings},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    return JsonResponse({"status": "ready", "checks": list(READINESS_CHECKS), "warnings": warnings})
