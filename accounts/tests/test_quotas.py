"""Quotas: exact under concurrency, reset at the UTC day boundary, overrides and headers."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import httpx
import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts import services
from accounts.models import AuditAction, AuditEvent, QuotaKind, Role, TokenScope
from accounts.quotas import QuotaExceeded, quota_limit, quota_reserve, quota_status
from accounts.roles import role_group
from accounts.tests.factories import make_token
from models_registry import services as registry

SPEND = "/api/v1/models/iris-model/predict"
ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
ROWS = QuotaKind.PREDICTION_ROWS
CONCURRENT_REQUESTS = 60
LIMIT = 20


@pytest.fixture
def served(train):
    registry.version_promote(version=train())


def _post(client, plaintext, rows=1):
    return client.post(
        SPEND,
        data=json.dumps({"inputs": [ROW] * rows}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_get_exactly_the_limit(live_server, user, served):
    services.quota_set(user=user, prediction_rows_per_day=LIMIT)
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)
    headers = {"Authorization": f"Bearer {plaintext}"}

    def call(_):
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            return http.post(SPEND, json={"inputs": [ROW]}, headers=headers)

    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        responses = list(pool.map(call, range(CONCURRENT_REQUESTS)))

    codes = [r.status_code for r in responses]
    assert codes.count(HTTPStatus.OK) == LIMIT
    assert codes.count(HTTPStatus.TOO_MANY_REQUESTS) == CONCURRENT_REQUESTS - LIMIT
    assert quota_status(user, ROWS).used == LIMIT
    rejected = next(r for r in responses if r.status_code == HTTPStatus.TOO_MANY_REQUESTS)
    assert rejected.headers["X-Quota-Limit"] == str(LIMIT)
    assert rejected.headers["X-Quota-Remaining"] == "0"
    assert int(rejected.headers["Retry-After"]) > 0
    assert "quota" in rejected.json()["detail"].lower()


def test_success_carries_quota_headers(client, user, served):
    services.quota_set(user=user, prediction_rows_per_day=10)
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)
    response = _post(client, plaintext, rows=3)
    assert response.status_code == HTTPStatus.OK
    assert response["X-Quota-Limit"] == "10"
    assert response["X-Quota-Remaining"] == "7"


def test_a_request_bigger_than_what_is_left_takes_nothing(client, user, served):
    services.quota_set(user=user, prediction_rows_per_day=10)
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)
    assert _post(client, plaintext, rows=8).status_code == HTTPStatus.OK
    refused = _post(client, plaintext, rows=3)
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["X-Quota-Remaining"] == "2"
    assert _post(client, plaintext, rows=2).status_code == HTTPStatus.OK


def test_quota_resets_at_utc_midnight(user):
    services.quota_set(user=user, prediction_rows_per_day=5)
    late = datetime(2026, 3, 1, 23, 59, 50, tzinfo=UTC)
    with time_machine.travel(late, tick=False):
        quota_reserve(user=user, kind=ROWS, units=5)
        with pytest.raises(QuotaExceeded) as refused:
            quota_reserve(user=user, kind=ROWS, units=1)
        assert refused.value.status.retry_after_seconds() == 11
    with time_machine.travel(late + timedelta(seconds=11), tick=False):
        assert quota_reserve(user=user, kind=ROWS, units=5).used == 5
        assert quota_status(user, ROWS).remaining == 0


def test_wrong_scope_and_wrong_role_are_403(client, user, viewer, served):
    _, read_only = make_token(user, scope=TokenScope.READ)
    response = _post(client, read_only)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "scope" in response.json()["detail"]

    _, proxy_only = make_token(user, scope=TokenScope.PROXY)
    assert _post(client, proxy_only).status_code == HTTPStatus.FORBIDDEN

    _, viewer_token = make_token(viewer, scope=TokenScope.READ)
    assert _post(client, viewer_token).status_code == HTTPStatus.FORBIDDEN


def test_demoted_user_loses_predict_even_with_a_predict_token(client, user, served):
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)
    assert _post(client, plaintext).status_code == HTTPStatus.OK
    services.role_set(user=user, role="viewer")
    response = _post(client, plaintext)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "role" in response.json()["detail"]


def test_role_defaults_and_overrides(user, viewer, admin_user, settings):
    defaults = settings.QUOTA_DEFAULTS
    assert quota_limit(user, ROWS) == defaults["user"]["prediction_rows_per_day"]
    assert quota_limit(admin_user, ROWS) == defaults["admin"]["prediction_rows_per_day"]
    assert quota_limit(viewer, ROWS) == 0
    services.quota_set(user=user, prediction_rows_per_day=7)
    assert quota_limit(user, ROWS) == 7
    assert quota_limit(user, QuotaKind.LLM_TOKENS) == defaults["user"]["llm_tokens_per_day"]
    services.quota_set(user=user, prediction_rows_per_day=None)
    assert quota_limit(user, ROWS) == defaults["user"]["prediction_rows_per_day"]


def test_quota_changes_are_audited(user, admin_user):
    services.quota_set(user=user, actor=admin_user, llm_tokens_per_day=100)
    services.quota_set(user=user, actor=admin_user, llm_tokens_per_day=100)  # no change
    events = AuditEvent.objects.filter(action=AuditAction.QUOTA_CHANGED)
    assert events.count() == 1
    assert events.get().details == {"llm_tokens_per_day": {"from": None, "to": 100}}


def test_usage_reset(user, admin_user, django_capture_on_commit_callbacks):
    services.quota_set(user=user, prediction_rows_per_day=3)
    quota_reserve(user=user, kind=ROWS, units=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.quota_usage_reset(user=user, actor=admin_user)
    assert quota_status(user, ROWS).used == 0
    assert AuditEvent.objects.filter(action=AuditAction.QUOTA_USAGE_RESET).exists()


def test_set_quota_command(user, capsys, settings):
    call_command("set_quota", "user", "--prediction-rows-per-day", "50")
    assert "prediction_rows: 0 used of 50 today" in capsys.readouterr().out
    call_command("set_quota", "user", "--llm-tokens-per-day", "9")
    assert quota_limit(user, ROWS) == 50  # untouched by the second call
    assert quota_limit(user, QuotaKind.LLM_TOKENS) == 9
    call_command("set_quota", "user", "--prediction-rows-per-day", "default")
    assert quota_limit(user, ROWS) == settings.QUOTA_DEFAULTS["user"]["prediction_rows_per_day"]


def test_set_quota_command_errors(user):
    with pytest.raises(CommandError, match="No user"):
        call_command("set_quota", "ghost", "--prediction-rows-per-day", "1")
    with pytest.raises(CommandError, match="Nothing to set"):
        call_command("set_quota", "user")
    with pytest.raises(CommandError, match="whole number"):
        call_command("set_quota", "user", "--prediction-rows-per-day", "lots")


def test_reserve_rejects_non_positive_units(user):
    with pytest.raises(ValueError, match="positive"):
        quota_reserve(user=user, kind=ROWS, units=0)


def test_cached_limits_follow_role_changes_from_either_side(user, settings):
    defaults = settings.QUOTA_DEFAULTS
    assert quota_limit(user, ROWS) == defaults["user"]["prediction_rows_per_day"]  # cached now
    services.role_set(user=user, role=Role.VIEWER)
    assert quota_limit(user, ROWS) == 0
    user.groups.clear()
    services.role_set(user=user, role=Role.USER)
    assert quota_limit(user, ROWS) == defaults["user"]["prediction_rows_per_day"]
    role_group(Role.USER).user_set.remove(user)  # from the group's side
    assert quota_limit(type(user).objects.get(pk=user.pk), ROWS) == 0  # as the next request
