"""Daily quotas: limits from role defaults or per-user overrides, reserved atomically.

Usage is counted in Redis (accounts.quota_counters) and copied to QuotaUsage; without Redis,
or while it is unreachable, the database counts instead, with the same guarantee.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts import quota_counters as counters
from accounts.models import QuotaKind, QuotaUsage, UserQuota
from accounts.roles import role_of
from portal import memo

# Changes drop the cache at once; the TTL only bounds what a missed signal could leave behind.
LIMITS_CACHE_SECONDS = 300


class QuotaExceeded(Exception):
    def __init__(self, status):
        super().__init__(f"Daily quota for {status.kind} exhausted")
        self.status = status


@dataclass(frozen=True)
class QuotaStatus:
    kind: str
    limit: int
    used: int
    resets_at: datetime

    @property
    def remaining(self):
        return max(self.limit - self.used, 0)

    @property
    def percent_used(self):
        return 100 if self.limit == 0 else min(round(100 * self.used / self.limit), 100)

    @property
    def label(self):
        return QuotaKind(self.kind).label

    def retry_after_seconds(self, now=None):
        now = now or timezone.now()
        return max(int((self.resets_at - now).total_seconds()) + 1, 1)

    def headers(self, *, exceeded=False):
        headers = {"X-Quota-Limit": str(self.limit), "X-Quota-Remaining": str(self.remaining)}
        if exceeded:
            headers["Retry-After"] = str(self.retry_after_seconds())
        return headers


def quota_day(now=None):
    """Quotas reset at midnight UTC."""
    return (now or timezone.now()).astimezone(UTC).date()


def _resets_at(day: date):
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def _limit_key(user_id):
    return f"quota:limits:{user_id}"


def quota_limits(user):
    """{kind: daily limit} from the user's override or role; cached until either changes."""
    return memo.remember(("quota-limits", user.pk), lambda: _limits_lookup(user))


def _limits_lookup(user):
    limits = cache.get(_limit_key(user.pk))
    if limits is None:
        limits = _limits_from(UserQuota.objects.filter(user=user).first(), role_of(user))
        cache.set(_limit_key(user.pk), limits, LIMITS_CACHE_SECONDS)
    return limits


def _limits_from(override, role):
    defaults = settings.QUOTA_DEFAULTS.get(role.value if role else "viewer", {})
    limits = {}
    for kind in QuotaKind:
        value = override.override_for(kind) if override else None
        limits[kind.value] = value if value is not None else defaults.get(f"{kind}_per_day", 0)
    return limits


def quota_limits_forget(user_id):
    """Drop the cached limits (called when a user's override or role changes)."""
    cache.delete(_limit_key(user_id))
    memo.bump()


def quota_limit(user, kind):
    return quota_limits(user)[QuotaKind(kind).value]


def quota_used(user, kind, day):
    """Units used on `day`: the live counter when there is one, else the database's copy."""
    used = counters.counter_used(user_id=user.pk, kind=QuotaKind(kind).value, day=day)
    return counters.durable_used(user.pk, kind, day) if used is None else used


def quota_status(user, kind, *, now=None):
    day = quota_day(now)
    return QuotaStatus(
        kind=kind,
        limit=quota_limit(user, kind),
        used=quota_used(user, kind, day),
        resets_at=_resets_at(day),
    )


def quota_statuses(user, *, now=None):
    return [quota_status(user, kind, now=now) for kind in QuotaKind]


def quota_statuses_many(users, overrides, *, now=None):
    """{user id: quota_statuses(user)} for many users in three reads, whatever their number.

    `overrides` is {user id: UserQuota}; roles come from roles_load(users) beforehand.
    """
    day = quota_day(now)
    keys = [(user.pk, kind.value, day) for user in users for kind in QuotaKind]
    live = counters.counters_used(keys)
    stored = {
        (user_id, kind, day): used
        for user_id, kind, used in QuotaUsage.objects.filter(user__in=users, day=day).values_list(
            "user_id", "kind", "used"
        )
    }
    statuses = {}
    for user in users:
        limits = _limits_from(overrides.get(user.pk), role_of(user))
        statuses[user.pk] = [
            QuotaStatus(
                kind=kind,
                limit=limits[kind.value],
                used=live.get(
                    (user.pk, kind.value, day), stored.get((user.pk, kind.value, day), 0)
                ),
                resets_at=_resets_at(day),
            )
            for kind in QuotaKind
        ]
    return statuses


_TABLE = QuotaUsage._meta.db_table
# One statement, one round trip: create today's row or add to it, only while within the
# limit. ON CONFLICT DO UPDATE locks the row and re-checks the WHERE against the latest
# value, so concurrent callers can never overshoot.
_RESERVE_SQL = f"""
INSERT INTO {_TABLE} AS q (user_id, kind, day, used)
SELECT %(user)s, %(kind)s, %(day)s, %(units)s WHERE %(units)s <= %(limit)s
ON CONFLICT (user_id, kind, day) DO UPDATE SET used = q.used + EXCLUDED.used
WHERE q.used + EXCLUDED.used <= %(limit)s
RETURNING used
"""


def _database_reserve(*, user, kind, day, units, limit):
    params = {"user": user.pk, "kind": kind, "day": day, "units": units, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SQL, params)
        row = cursor.fetchone()
    return (True, row[0]) if row else (False, counters.durable_used(user.pk, kind, day))


def quota_reserve(*, user, kind, units, now=None):
    """Take `units` from today's quota or take nothing and raise QuotaExceeded.

    Not part of any database transaction: a caller whose work fails afterwards gives the
    units back with quota_release.
    """
    if units < 1:
        raise ValueError("units must be positive")
    kind = QuotaKind(kind).value
    day = quota_day(now)
    limit = quota_limit(user, kind)
    args = {"kind": kind, "day": day, "units": units, "limit": limit}
    try:
        granted, used = counters.counter_reserve(user_id=user.pk, **args)
    except counters.Unavailable:
        granted, used = _database_reserve(user=user, **args)
    status = QuotaStatus(kind=kind, limit=limit, used=used, resets_at=_resets_at(day))
    if not granted:
        raise QuotaExceeded(status)
    return status


def quota_release(*, status, user, units):
    """Give back `units` taken by a reservation whose work then failed."""
    day = status.resets_at.date() - timedelta(days=1)
    kind = QuotaKind(status.kind).value
    try:
        if counters.counter_release(user_id=user.pk, kind=kind, day=day, units=units) is not None:
            return
    except counters.Unavailable:
        pass
    QuotaUsage.objects.filter(user=user, kind=kind, day=day).update(
        used=Greatest(F("used") - units, 0)
    )
