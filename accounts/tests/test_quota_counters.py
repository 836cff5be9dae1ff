"""Quota usage counted in Redis, copied to PostgreSQL, and counted there when Redis is gone."""

from http import HTTPStatus

import pytest
from django.core.cache import cache

from accounts import quota_counters, services
from accounts.models import QuotaKind, QuotaUsage
from accounts.quotas import QuotaExceeded, quota_day, quota_release, quota_reserve, quota_status

ROWS = QuotaKind.PREDICTION_ROWS
DEAD_REDIS = {
    "default": {
        "BACKEND": "portal.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def _durable(user):
    return QuotaUsage.objects.filter(user=user, kind=ROWS, day=quota_day()).first()


def _counter_key(user):
    return quota_counters._key(user.pk, ROWS.value, quota_day())


def test_a_reservation_writes_nothing_to_the_database_until_synced(user):
    services.quota_set(user=user, prediction_rows_per_day=10)
    assert quota_reserve(user=user, kind=ROWS, units=4).used == 4
    assert quota_reserve(user=user, kind=ROWS, units=5).used == 9
    assert _durable(user) is None
    assert quota_status(user, ROWS).used == 9  # read from the counter
    assert quota_counters.counters_sync() == 1
    assert _durable(user).used == 9
    assert quota_counters.counters_sync() == 0  # nothing touched since


def test_the_limit_holds_and_a_refusal_takes_nothing(user):
    services.quota_set(user=user, prediction_rows_per_day=5)
    quota_reserve(user=user, kind=ROWS, units=4)
    with pytest.raises(QuotaExceeded) as refused:
        quota_reserve(user=user, kind=ROWS, units=2)
    assert refused.value.status.used == 4
    assert quota_reserve(user=user, kind=ROWS, units=1).used == 5


def test_a_counter_redis_lost_starts_again_from_the_database_copy(user):
    services.quota_set(user=user, prediction_rows_per_day=10)
    quota_reserve(user=user, kind=ROWS, units=6)
    quota_counters.counters_sync()
    cache.redis().delete(_counter_key(user))  # a Redis restart without persistence
    assert quota_status(user, ROWS).used == 6
    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user, kind=ROWS, units=5)
    assert quota_reserve(user=user, kind=ROWS, units=4).used == 10


def test_release_gives_back_to_the_counter_or_else_the_database(user):
    status = quota_reserve(user=user, kind=ROWS, units=5)
    quota_release(status=status, user=user, units=2)
    assert quota_status(user, ROWS).used == 3
    quota_counters.counters_sync()
    cache.redis().delete(_counter_key(user))
    quota_release(status=status, user=user, units=10)  # never below zero
    assert _durable(user).used == 0
    assert quota_status(user, ROWS).used == 0


def test_a_reset_wins_over_the_counter(user, admin_user, django_capture_on_commit_callbacks):
    quota_reserve(user=user, kind=ROWS, units=5)
    quota_counters.counters_sync()
    with django_capture_on_commit_callbacks(execute=True):
        services.quota_usage_reset(user=user, actor=admin_user)
    assert quota_status(user, ROWS).used == 0
    quota_counters.counters_sync()
    assert _durable(user).used == 0


def test_a_failed_sync_keeps_its_counters_for_the_next(user, monkeypatch):
    quota_reserve(user=user, kind=ROWS, units=2)

    def broken(rows):
        raise RuntimeError("database went away")

    monkeypatch.setattr(quota_counters, "_upsert", broken)
    with pytest.raises(RuntimeError):
        quota_counters.counters_sync()
    monkeypatch.undo()
    assert quota_counters.counters_sync() == 1
    assert _durable(user).used == 2


def test_without_redis_the_database_counts(user, settings):
    settings.CACHES = DEAD_REDIS
    services.quota_set(user=user, prediction_rows_per_day=5)
    assert quota_reserve(user=user, kind=ROWS, units=3).used == 3
    assert _durable(user).used == 3  # written through, at once
    with pytest.raises(QuotaExceeded):
        quota_reserve(user=user, kind=ROWS, units=3)
    quota_release(status=quota_status(user, ROWS), user=user, units=1)
    assert quota_status(user, ROWS).used == 2
    assert quota_counters.counters_sync() == 0


def test_the_embedded_demo_counts_in_the_database(user, admin_user, settings, client):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert quota_reserve(user=user, kind=ROWS, units=2).used == 2
    assert _durable(user).used == 2
    assert quota_status(user, ROWS).used == 2
    # The pages that show usage read it from the database too (the dashboard was a 500).
    client.force_login(user)
    assert client.get("/").status_code == HTTPStatus.OK
    client.force_login(admin_user)
    assert client.get("/users/").status_code == HTTPStatus.OK
