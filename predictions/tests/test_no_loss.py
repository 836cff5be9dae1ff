"""A prediction that returned 200 is logged exactly once, whatever the broker does."""

import json
import os
import signal
import time
import uuid
from http import HTTPStatus

import pytest

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal.celery import app as celery_app
from portal.tests.processes import celery_worker_args, child_env, running
from predictions import logbook
from predictions.logbook import write_records
from predictions.models import Prediction

ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
DEAD_BROKER = "redis://127.0.0.1:1/0"
KILL_TEST_RECORDS = 600
KILL_TEST_BATCH = 20
KILL_ATTEMPTS = 3
LEASE_SECONDS = 2

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def publishing(request, monkeypatch, settings):
    """The app buffers and publishes for real (not eagerly) to `broker`, fresh connections."""

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
        settings.PREDICTION_LOG_BUFFER_URL = broker
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


def _record(version, user, request_id):
    return {
        "request_id": request_id,
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


def _wait_for(queryset, count, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and queryset.count() < count:
        time.sleep(0.2)


def test_broker_down_falls_back_to_a_direct_insert(client, user, train, publishing):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    publishing(DEAD_BROKER)
    started = time.monotonic()
    response = _predict(client, token, "dead-broker-1")
    assert response.status_code == HTTPStatus.OK
    assert time.monotonic() - started < 5  # a bounded attempt, never a hang
    assert Prediction.objects.filter(client_request_id="dead-broker-1").count() == 1


def test_a_record_delivered_twice_is_written_once(db, user, train, publishing, settings):
    version = train()
    record = _record(version, user, "twice")
    assert write_records([record]) == 1
    assert write_records([record, record]) == 0
    # Through the buffer too: the same record claimed twice (a redelivered batch) lands once.
    publishing(settings.CELERY_BROKER_URL, queue=f"twice-{uuid.uuid4().hex[:8]}")
    again = _record(version, user, "twice-buffered")
    logbook.buffer().rpush(logbook.PENDING_KEY, json.dumps(again), json.dumps(again))
    assert logbook.drain() == 1
    assert Prediction.objects.filter(request_id__startswith="twice").count() == 2


def test_a_record_naming_a_deleted_user_still_lands(db, user, train, admin_user):
    version = train()
    doomed = _record(version, admin_user, "orphan")
    admin_user.delete()
    assert write_records([doomed, _record(version, user, "sibling")]) == 2
    assert Prediction.objects.get(request_id="orphan").user is None


def test_logs_are_written_in_batches_by_a_real_worker(
    client, user, train, publishing, settings, tmp_path
):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    queue = f"log-{uuid.uuid4().hex[:8]}"
    publishing(settings.CELERY_BROKER_URL, queue=queue)
    ids = [f"worker-{i}" for i in range(20)]
    for request_id in ids:
        assert _predict(client, token, request_id).status_code == HTTPStatus.OK
    logged = Prediction.objects.filter(client_request_id__in=ids)
    assert not logged.exists()  # off the request path
    assert logbook.backlog() == len(ids)
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        _wait_for(logged, len(ids), timeout=60)
    assert sorted(logged.values_list("client_request_id", flat=True)) == sorted(ids)
    assert logbook.backlog() == 0


def test_a_repeated_x_request_id_is_logged_each_time_by_a_real_worker(
    client, user, train, publishing, settings, tmp_path
):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    queue = f"dup-{uuid.uuid4().hex[:8]}"
    publishing(settings.CELERY_BROKER_URL, queue=queue)
    responses = [_predict(client, token, "same-id") for _ in range(3)]
    assert [r.status_code for r in responses] == [HTTPStatus.OK] * 3
    assert logbook.backlog() == len(responses)  # buffered, not written inline
    logged = Prediction.objects.filter(client_request_id="same-id")
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        _wait_for(logged, len(responses), timeout=60)
    assert sorted(logged.values_list("request_id", flat=True)) == sorted(
        r.json()["request_id"] for r in responses
    )
    assert logbook.backlog() == 0


def _held(client):
    return sum(client.llen(key) for key in client.zrange(logbook.LEASES_KEY, 0, -1))


def test_a_worker_killed_mid_batch_loses_nothing(
    client, user, train, publishing, settings, tmp_path
):
    version = train()
    queue = f"killed-{uuid.uuid4().hex[:8]}"
    publishing(settings.CELERY_BROKER_URL, queue=queue)
    ids = [f"killed-{i}" for i in range(KILL_TEST_RECORDS)]
    buffer = logbook.buffer()
    buffer.rpush(logbook.PENDING_KEY, *(json.dumps(_record(version, user, i)) for i in ids))
    logged = Prediction.objects.filter(request_id__in=ids)
    # Small batches keep the worker inside one most of the time; short leases expire quickly.
    env = child_env(
        CELERY_TASK_DEFAULT_QUEUE=queue,
        CELERY_VISIBILITY_TIMEOUT=LEASE_SECONDS,
        PREDICTION_LOG_BATCH_SIZE=KILL_TEST_BATCH,
        PREDICTION_LOG_LEASE_SECONDS=LEASE_SECONDS,
    )
    held = 0
    for attempt in range(KILL_ATTEMPTS):  # a kill can land between two batches; try again
        with running(
            celery_worker_args(queue), env=env, log_path=tmp_path / f"first-{attempt}.log"
        ) as first:
            logbook.request_drain()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if logged.exists() and _held(buffer) > 0:
                    os.killpg(first.pid, signal.SIGKILL)
                    break
                time.sleep(0.002)
            first.wait(timeout=10)
        held = _held(buffer)
        if held:
            break
    assert held > 0, "no worker was caught holding a batch"
    assert logged.count() < len(ids)
    time.sleep(LEASE_SECONDS + 0.5)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "second.log"):
        logbook.request_drain()  # as beat's periodic drain would
        _wait_for(logged, len(ids), timeout=90)
    assert sorted(logged.values_list("request_id", flat=True)) == sorted(ids)
    assert logbook.backlog() == 0
