"""Liveness and readiness probes."""

from http import HTTPStatus

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app

BROKER_CHECK_TIMEOUT_SECONDS = 2


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


@never_cache
@require_GET
def readiness(request):
    """Ready: every dependency answers; 503 with the list of what failed otherwise."""
    failures = []
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            failures.append({"check": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    if failures:
        return JsonResponse(
            {"status": "unavailable", "failures": failures}, status=HTTPStatus.SERVICE_UNAVAILABLE
        )
    return JsonResponse({"status": "ready", "checks": list(READINESS_CHECKS)})
