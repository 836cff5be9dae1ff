"""/metrics and a Celery worker's metrics port answer only the bearer secret, once one is set."""

from http import HTTPStatus

import httpx
import pytest

from models_registry.models import MLModel
from monitoring import exposition
from portal.tests.processes import free_port
from portal.tests.test_config import manage

SECRET = "metrics-s3cret-0123456789"


@pytest.fixture
def secret(settings):
    settings.METRICS_BEARER_TOKEN = SECRET
    return SECRET


def test_metrics_stay_open_when_no_token_is_configured(client, db):
    assert client.get("/metrics").status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {SECRET}", f"Bearer {SECRET}x", "Bearer", f"Bearer{SECRET}"],
)
def test_metrics_refuse_a_caller_without_the_secret(client, db, secret, authorization):
    MLModel.objects.create(name="secret-model", task_type="classification", restricted=True)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"secret-model" not in response.content
    assert b"portal_" not in response.content


def test_metrics_answer_the_secret(client, db, secret):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {secret}")
    assert response.status_code == HTTPStatus.OK
    assert b"portal_celery_queue_depth" in response.content


@pytest.fixture
def worker_metrics():
    port = free_port()
    server = exposition.serve_worker_metrics(port, addr="127.0.0.1")
    yield f"http://127.0.0.1:{port}/metrics"
    server.shutdown()
    server.server_close()


def test_a_workers_metrics_port_asks_for_the_same_secret(worker_metrics, secret):
    refused = httpx.get(worker_metrics, timeout=5)
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = httpx.get(worker_metrics, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    answered = httpx.get(worker_metrics, headers={"Authorization": f"Bearer {secret}"}, timeout=5)
    assert answered.status_code == HTTPStatus.OK
    assert "# TYPE" in answered.text


def test_a_workers_metrics_port_is_open_without_a_token(worker_metrics):
    assert httpx.get(worker_metrics, timeout=5).status_code == HTTPStatus.OK


def test_a_short_metrics_token_is_refused_at_start():
    result = manage("check", env={"DEBUG": "true", "METRICS_BEARER_TOKEN": "short"})
    assert result.returncode != 0
    assert "METRICS_BEARER_TOKEN must be at least 24 characters" in result.stderr
