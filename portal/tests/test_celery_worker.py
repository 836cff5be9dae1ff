"""Celery through a real worker process and Redis; a dead broker fails a publish fast."""

import json
import socket
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
from portal.tests.processes import celery_worker_args, child_env, log_tail, running, wait_until

PURGE_TASK = "accounts.tasks.purge_quota_usage_task"
PURGED_MESSAGE = "purged quota usage rows"
RETENTION_DAYS = 30
# Ages in days, well clear of the cutoff so a UTC midnight during the test cannot flip one.
KEPT_AGES = (0, 5)
PURGED_AGES = (40, 41, 400)
REFUSING_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1
PUBLISH_BOUND_SECONDS = 15

pytestmark = pytest.mark.integration


@pytest.fixture
def publish_to_broker():
    """The test settings run tasks eagerly; these tests publish to the real broker instead."""
    # Celery's Settings is not a plain object (monkeypatch cannot restore it): by hand.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = eager


@pytest.mark.usefixtures("publish_to_broker")
def test_task_runs_on_a_real_worker_with_the_request_id(transactional_db, tmp_path):
    user = UserFactory()
    today = quota_day()
    for age in KEPT_AGES + PURGED_AGES:
        QuotaUsage.objects.create(
            user=user, kind=QuotaKind.PREDICTION_ROWS, day=today - timedelta(days=age), used=1
        )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue)
    args = celery_worker_args(queue)
    with running(args, env=env, log_path=tmp_path / "worker.log") as worker:
        token = request_id_var.set(request_id)
        try:
            result = celery_app.send_task(
                PURGE_TASK, kwargs={"retention_days": RETENTION_DAYS}, queue=queue
            )
        finally:
            request_id_var.reset(token)
        wait_until(result.ready, timeout=60, what="the task result", process=worker)
        deleted = result.get(timeout=5)
        line = _wait_for_log_line(worker, PURGED_MESSAGE)

    assert deleted == len(PURGED_AGES)
    days = QuotaUsage.objects.values_list("day", flat=True)
    assert sorted((today - day).days for day in days) == sorted(KEPT_AGES)
    # The id set while publishing travelled as a message header into the worker's log line.
    assert line["request_id"] == request_id
    assert line["deleted"] == len(PURGED_AGES)
    assert line["retention_days"] == RETENTION_DAYS


@pytest.fixture(params=["refused", "silent"])
def dead_broker_url(request):
    """A broker that refuses connections, or one that accepts them and never answers."""
    # The silent one (a hung Redis, a proxy that black-holes) is the case that could hang.
    if request.param == "refused":
        yield REFUSING_BROKER
        return
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # the kernel completes handshakes; nothing ever reads or replies
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_dead_broker_fails_the_publish_quickly(dead_broker_url, monkeypatch):
    # Celery lets the CELERY_BROKER_URL environment variable win over any configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", dead_broker_url)
    app = Celery("dead-broker-check")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.task_always_eager = False
    assert app.conf.broker_url == dead_broker_url
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError):
            app.send_task(PURGE_TASK, kwargs={"retention_days": RETENTION_DAYS})
        elapsed = time.monotonic() - started
    finally:
        app.close()
    assert elapsed < PUBLISH_BOUND_SECONDS


def _wait_for_log_line(worker, message, timeout=10):
    """The worker's JSON log line carrying `message` (the log may trail the result a little)."""
    found = []

    def logged():
        found.extend(line for line in _json_lines(worker.log_path) if line["message"] == message)
        return bool(found)

    try:
        wait_until(logged, timeout=timeout, what=f"{message!r} in the worker log")
    except TimeoutError:
        pytest.fail(f"{message!r} not logged by the worker:\n{log_tail(worker.log_path)}")
    return found[0]


def _json_lines(path):
    for raw in path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a line still being written, or a non-JSON one
        if isinstance(line, dict) and "message" in line:
            yield line
