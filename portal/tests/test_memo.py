"""The per-process memo: lookups remembered within a generation, dropped when it moves."""

import json
from http import HTTPStatus

import httpx
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from accounts import services as account_services
from accounts.models import ApiToken, TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal import memo
from portal.tests.processes import (
    child_env,
    free_port,
    gunicorn_args,
    http_ok,
    running,
    wait_until,
)

ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
URL = "/api/v1/models/iris-model/predict"


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


@pytest.fixture
def predict(client, user):
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)

    def post(token=plaintext):
        return client.post(
            URL,
            data=json.dumps({"inputs": [ROW]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return post


def _queries(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == HTTPStatus.OK, response.content
    return [q["sql"] for q in captured.captured_queries]


def test_a_warm_predict_asks_the_database_nothing(served, predict, monkeypatch):
    # Tests write the log in-process (production hands it to Redis): keep it out of the count.
    logged = []
    monkeypatch.setattr("predictions.services.log_prediction", logged.append)
    cold = _queries(predict)
    warm = _queries(predict)
    assert len(cold) > len(warm)
    assert warm == []  # token, limits, model: remembered; quota: counted in Redis
    assert len(logged) == 2


def test_another_process_moving_the_generation_drops_what_was_remembered(served, predict):
    _queries(predict)
    # What another worker's bump does: publish a new generation (this process keeps its memo).
    cache.set(memo.GENERATION_KEY, "another-process-changed-something")
    assert len(_queries(predict)) > 1


def test_a_token_revoked_elsewhere_is_refused_on_the_next_request(served, predict, user):
    _queries(predict)
    token = ApiToken.objects.get(user=user)
    # Behind every receiver's back, as another process's revocation looks from here...
    ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00Z")
    assert predict().status_code == HTTPStatus.OK  # ...still remembered...
    cache.set(memo.GENERATION_KEY, "revoked-elsewhere")  # ...until its commit moves this
    assert predict().status_code == HTTPStatus.UNAUTHORIZED


def _restrict(model):
    model.restricted = True
    model.save()  # as the model's settings form does


def test_changes_made_here_apply_at_once(served, predict, user):
    _queries(predict)
    _restrict(served.model)
    assert predict().status_code == HTTPStatus.NOT_FOUND
    assign_perm("models_registry.use_mlmodel", user, served.model)
    assert predict().status_code == HTTPStatus.OK
    token = ApiToken.objects.get(user=user)
    account_services.token_revoke(token=token, actor=user)
    assert predict().status_code == HTTPStatus.UNAUTHORIZED


def test_outside_a_request_nothing_is_remembered(db):
    calls = []
    for _ in range(3):
        memo.remember("k", lambda: calls.append(1))
    assert len(calls) == 3


def test_within_a_request_a_value_is_computed_once_per_generation(db):
    calls = []
    scope = memo.request_started()
    try:
        assert [memo.remember("k", lambda: calls.append(1) or len(calls)) for _ in range(3)] == [
            1,
            1,
            1,
        ]
    finally:
        memo.request_finished(scope)
    scope = memo.request_started()
    try:
        cache.set(memo.GENERATION_KEY, "moved")
        assert memo.remember("k", lambda: calls.append(1) or len(calls)) == 2
    finally:
        memo.request_finished(scope)


def test_a_bump_stops_remembering_for_the_rest_of_the_request(db):
    calls = []
    scope = memo.request_started()
    try:
        memo.remember("k", lambda: calls.append(1))
        memo.bump()  # this request changed something: its own reads must see it
        memo.remember("k", lambda: calls.append(1))
        memo.remember("k", lambda: calls.append(1))
    finally:
        memo.request_finished(scope)
    assert len(calls) == 3


def test_entries_expire_as_a_backstop(db, monkeypatch):
    monkeypatch.setattr(memo, "MAX_AGE_SECONDS", 0)
    calls = []
    scope = memo.request_started()
    try:
        memo.remember("k", lambda: calls.append(1))
        memo.remember("k", lambda: calls.append(1))
    finally:
        memo.request_finished(scope)
    assert len(calls) == 2


def test_without_a_shared_cache_every_lookup_goes_to_its_source(db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    calls = []
    scope = memo.request_started()
    try:
        memo.remember("k", lambda: calls.append(1))
        memo.remember("k", lambda: calls.append(1))
    finally:
        memo.request_finished(scope)
    assert len(calls) == 2


# ---------------------------------------------------------------- across gunicorn workers
WORKERS = 2
ROUND = 12


@pytest.mark.integration
def test_every_gunicorn_worker_sees_a_change_on_its_next_request(
    transactional_db, train, user, settings, tmp_path
):
    served = train()
    registry.version_promote(version=served)
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(MEDIA_ROOT=settings.MEDIA_ROOT)
    with running(gunicorn_args(port, WORKERS), env=env, log_path=tmp_path / "g.log") as server:
        wait_until(lambda: http_ok(f"{base}/health", timeout=30), what="gunicorn", process=server)
        # Each worker loads the production model before its first request (post_worker_init).
        log = tmp_path / "g.log"
        wait_until(
            lambda: log.read_text().count("loaded 1 model version(s)") == WORKERS,
            what="both workers to warm up",
            process=server,
        )

        def statuses():
            # New connections, so both workers take a share and remember what they looked up.
            return {
                httpx.post(
                    f"{base}{URL}",
                    json={"inputs": [ROW]},
                    headers={"Authorization": f"Bearer {plaintext}", "Connection": "close"},
                    timeout=30,
                ).status_code
                for _ in range(ROUND)
            }

        assert statuses() == {HTTPStatus.OK}
        _restrict(served.model)
        assert statuses() == {HTTPStatus.NOT_FOUND}
        assign_perm("models_registry.use_mlmodel", user, served.model)
        assert statuses() == {HTTPStatus.OK}
        account_services.token_revoke(token=ApiToken.objects.get(user=user), actor=user)
        assert statuses() == {HTTPStatus.UNAUTHORIZED}
