"""A prediction that returned 200 is logged exactly once, whatever the broker does."""

import json
import os
import signal
import time
import uuid
from http import HTTPStatus

import pytest
import redis

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal.celery import app as celery_app
from portal.tests.processes import celery_worker_args, child_env, running
from predictions.logbook import write_records
from predictions.models import Prediction

ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
DEAD_BROKER = "redis://127.0.0.1:1/0"
KILL_TEST_MESSAGES = 300
UNACKED_KEY = "unacked"  # where kombu's Redis transport keeps messages taken but not acked

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def publishing(request, monkeypatch):
    """The app publishes for real (not eagerly) to `broker`, with a fresh connection pool."""

    def configure(broker, queue="portal"):
        saved = {
            k: celery_app.conf.get(k)
            for k in ("task_always_eager", "broker_url", "broker_write_url", "task_default_queue")
        }
        celery_app.conf.update(
            task_always_eager=False,
            broker_url=broker,
            broker_write_url=broker,  # another test may have pinned the write URL
            task_default_queue=queue,
        )
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        monkeypatch.setenv("CELERY_BROKER_URL", broker)
        _fresh_connections()

        def restore():
            celery_app.conf.update(saved)
            _fresh_connections()

        request.addfinalizer(restore)

    return configure


def _fresh_connections():
    # Pools keep the broker they were opened for; drop them so the new URL is used.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _predict(client, token, request_id):
    return client.post(
        "/api/v1/models/iris-model/predict",
        data=json.dumps({"inputs": [ROW]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_REQUEST_ID=request_id,
    )


def test_broker_down_falls_back_to_a_direct_insert(client, user, train, publishing):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    publishing(DEAD_BROKER)
    started = time.monotonic()
    response = _predict(client, token, "dead-broker-1")
    assert response.status_code == HTTPStatus.OK
    assert time.monotonic() - started < 15  # a bounded publish, never a hang
    assert Prediction.objects.filter(request_id="dead-broker-1").count() == 1


def test_a_record_delivered_twice_is_written_once(db, user, train):
    version = train()
    record = {
        "request_id": "twice",
        "user_id": user.pk,
        "model_id": version.model_id,
        "version_id": version.pk,
        "model_name": "iris-model",
        "version_number": 1,
        "arm": None,
        "inputs": [ROW],
        "outputs": ["setosa"],
        "probabilities": None,
        "rows": 1,
        "latency_ms": 0.5,
        "created_at": "2026-11-23T08:00:00+00:00",
    }
    assert write_records([record]) == 1
    assert write_records([record, record]) == 0
    assert Prediction.objects.filter(request_id="twice").count() == 1


def test_logs_are_written_by_a_real_worker(client, user, train, publishing, settings, tmp_path):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    queue = f"log-{uuid.uuid4().hex[:8]}"
    publishing(settings.CELERY_BROKER_URL, queue=queue)
    ids = [f"worker-{i}" for i in range(20)]
    for request_id in ids:
        assert _predict(client, token, request_id).status_code == HTTPStatus.OK
    assert not Prediction.objects.filter(request_id__in=ids).exists()  # off the request path
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Prediction.objects.filter(request_id__in=ids).count() == len(ids):
                break
            time.sleep(0.2)
    assert sorted(
        Prediction.objects.filter(request_id__in=ids).values_list("request_id", flat=True)
    ) == sorted(ids)


def test_a_worker_killed_mid_task_loses_nothing(
    client, user, train, publishing, settings, tmp_path
):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    queue = f"killed-{uuid.uuid4().hex[:8]}"
    publishing(settings.CELERY_BROKER_URL, queue=queue)
    ids = [f"killed-{i}" for i in range(KILL_TEST_MESSAGES)]
    for request_id in ids:
        assert _predict(client, token, request_id).status_code == HTTPStatus.OK
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    unacked_before = broker.hlen(UNACKED_KEY)
    logged = Prediction.objects.filter(request_id__in=ids)
    # A short visibility timeout lets the second worker take back what the first one held.
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, CELERY_VISIBILITY_TIMEOUT=2)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "first.log") as first:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if broker.hlen(UNACKED_KEY) > unacked_before and logged.exists():
                os.killpg(first.pid, signal.SIGKILL)  # mid-task: a message is held, unacked
                break
        first.wait(timeout=10)
    held = broker.hlen(UNACKED_KEY) - unacked_before
    written_by_first = logged.count()
    assert held > 0, "the first worker was not caught holding a message"
    assert written_by_first < len(ids)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "second.log"):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and logged.count() < len(ids):
            time.sleep(0.25)
    assert sorted(logged.values_list("request_id", flat=True)) == sorted(ids)
