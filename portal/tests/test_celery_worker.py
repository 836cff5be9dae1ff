"""Celery through a real worker process and Redis; a dead broker fails fast."""

import json
import time
import uuid
from datetime import timedelta

import pytest
from celery import Celery
from kombu.exceptions import OperationalError

from accounts.models import QuotaKind, QuotaUsage
from accounts.quotas import quota_day
from accounts.tests.factories import UserFactory
from portal.celery import app as celery_app
from portal.request_context import request_id_var
from portal.tests.processes import celery_worker_args, child_env, running

PURGE_TASK = "accounts.tasks.purge_quota_usage_task"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
PUBLISH_BOUND_SECONDS = 15

pytestmark = [
    pytest.mark.integration,
    # The test process runs tasks eagerly; these tests publish to a real broker on purpose.
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
]


# The test process itself runs eagerly; this result really comes from the worker.
@pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning")
@pytest.mark.django_db(transaction=True)
def test_task_runs_on_a_real_worker_with_the_request_id(tmp_path):
    user = UserFactory()
    today = quota_day()
    for age in (0, 5, 40, 41):
        QuotaUsage.objects.create(
            user=user, kind=QuotaKind.PREDICTION_ROWS, day=today - timedelta(days=age), used=1
        )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue)
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    with running(celery_worker_args(queue), env=env, log_path=log_path):
        token = request_id_var.set(request_id)
        try:
            result = celery_app.send_task(PURGE_TASK, kwargs={"retention_days": 30}, queue=queue)
        finally:
            request_id_var.reset(token)
        deleted = result.get(timeout=60)
        assert deleted == 2
        remaining = sorted(
            (today - day).days for day in QuotaUsage.objects.values_list("day", flat=True)
        )
        assert remaining == [0, 5]
        line = _wait_for_log_line(log_path, "purged quota usage rows")
    assert line["request_id"] == request_id
    assert line["deleted"] == 2


def test_dead_broker_fails_the_publish_quickly(monkeypatch):
    # Celery lets the CELERY_BROKER_URL environment variable win over configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", DEAD_BROKER)
    app = Celery("dead-broker-check")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    assert app.conf.broker_url == DEAD_BROKER
    started = time.monotonic()
    with pytest.raises(OperationalError):
        app.send_task(PURGE_TASK, kwargs={"retention_days": 30})
    assert time.monotonic() - started < PUBLISH_BOUND_SECONDS


def _wait_for_log_line(path, message, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in path.read_text(errors="replace").splitlines():
            if message in raw and raw.startswith("{"):
                return json.loads(raw)
        time.sleep(0.2)
    raise AssertionError(f"{message!r} not logged by the worker:\n{path.read_text()[-3000:]}")
