"""Today's quota usage as Redis counters: one atomic script per reservation, no database write.

A reservation is the hottest write the portal has (one per predict call). In PostgreSQL it is
a durable commit, which on a 2-core box costs more than the model it guards. Here it is one
Lua script on the shared cache's Redis: check the limit and add, atomically, so concurrent
callers can never overshoot.

PostgreSQL keeps the copy (QuotaUsage) that outlives Redis: `counters_sync` (beat, every few
seconds) writes the counters touched since its last run. A counter Redis does not have
(first use of the day, a restart, an eviction) starts from that copy. Without a Redis cache
(the embedded demo) every call answers None and the caller uses the database instead.
"""

import logging
from datetime import date

import redis
from django.core.cache import cache
from django.db import connection

from accounts.models import QuotaUsage

logger = logging.getLogger(__name__)

# Counters outlive their day by a day, so late refunds (batch jobs) still find them.
COUNTER_TTL_SECONDS = 2 * 24 * 3600
SYNC_BATCH = 1000
_PREFIX = "quota:used:"

# KEYS: counter, dirty set. ARGV: units, limit, seed ('' when unknown), ttl.
# -> {1, used after} granted; {0, used} refused; {-1, 0} no counter yet: call again with a seed.
_RESERVE = """
local used = redis.call('GET', KEYS[1])
if not used then
  if ARGV[3] == '' then return {-1, 0} end
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4], 'NX')
  used = redis.call('GET', KEYS[1])
end
used = tonumber(used)
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return {1, used}
"""
# KEYS: counter, dirty set. ARGV: units. -> used after, or -1 when there is no counter.
_RELEASE = """
local used = redis.call('GET', KEYS[1])
if not used then return -1 end
local after = math.max(tonumber(used) - tonumber(ARGV[1]), 0)
redis.call('SET', KEYS[1], after, 'KEEPTTL')
redis.call('SADD', KEYS[2], KEYS[1])
return after
"""
# KEYS: counter, dirty set. ARGV: value, ttl.
_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""


class Unavailable(Exception):
    """No Redis to count in: the caller falls back to the database."""


def _client():
    client = getattr(cache, "redis", None)
    if client is None:
        raise Unavailable("the cache is not Redis")
    return client()


def _key(user_id, kind, day):
    return cache.make_key(f"{_PREFIX}{day.isoformat()}:{kind}:{user_id}")


def _dirty_key():
    return cache.make_key("quota:dirty")


def _parse(key):
    """(user id, kind, day) of a counter key."""
    tail = key.decode() if isinstance(key, bytes) else key
    day, kind, user_id = tail.split(_PREFIX, 1)[1].split(":")
    return int(user_id), kind, date.fromisoformat(day)


def durable_used(user_id, kind, day):
    """The database's copy of a day's usage (0 when it has none)."""
    return (
        QuotaUsage.objects.filter(user_id=user_id, kind=kind, day=day)
        .values_list("used", flat=True)
        .first()
    ) or 0


def _run(script, keys, args):
    try:
        return _client().eval(script, len(keys), *keys, *args)
    except redis.RedisError as exc:
        logger.warning("quota counters unavailable (%s); using the database", exc)
        raise Unavailable(str(exc)) from None


def counter_reserve(*, user_id, kind, day, units, limit):
    """(granted, used) from the counter; Unavailable when Redis cannot answer."""
    keys = [_key(user_id, kind, day), _dirty_key()]
    granted, used = _run(_RESERVE, keys, [units, limit, "", COUNTER_TTL_SECONDS])
    if granted == -1:
        seed = durable_used(user_id, kind, day)
        granted, used = _run(_RESERVE, keys, [units, limit, seed, COUNTER_TTL_SECONDS])
    return granted == 1, used


def counter_release(*, user_id, kind, day, units):
    """Used after giving `units` back, or None when there is no counter (the database has it)."""
    after = _run(_RELEASE, [_key(user_id, kind, day), _dirty_key()], [units])
    return None if after == -1 else after


def counter_used(*, user_id, kind, day):
    """Used from the counter, or None when there is none (the database copy is current)."""
    try:
        value = _client().get(_key(user_id, kind, day))
    except (redis.RedisError, Unavailable):
        return None
    return None if value is None else int(value)


def counters_used(keys):
    """{(user id, kind, day): used} for those of `keys` that have a counter; {} without Redis."""
    keys = list(keys)
    if not keys:
        return {}
    try:
        values = _client().mget([_key(*key) for key in keys])
    except (redis.RedisError, Unavailable):
        return {}
    return {key: int(value) for key, value in zip(keys, values, strict=True) if value is not None}


def counter_put(*, user_id, kind, day, used):
    """Set a counter (an operator's reset): it wins over whatever a sync copies meanwhile."""
    _run(_PUT, [_key(user_id, kind, day), _dirty_key()], [used, COUNTER_TTL_SECONDS])


_USERS = QuotaUsage._meta.get_field("user").related_model._meta.db_table
# A user deleted since the counter was touched is skipped by the join, not a failed batch.
_UPSERT_SQL = f"""
INSERT INTO {QuotaUsage._meta.db_table} (user_id, kind, day, used)
SELECT u.id, v.kind, v.day, v.used
FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::bigint[]) AS v(user_id, kind, day, used)
JOIN {_USERS} u ON u.id = v.user_id
ON CONFLICT (user_id, kind, day) DO UPDATE SET used = EXCLUDED.used
"""  # noqa: S608 - the table names are ours


def _upsert(rows):
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(_UPSERT_SQL, columns)


def counters_sync():
    """Copy the counters touched since the last sync into QuotaUsage; return how many."""
    try:
        client = _client()
        dirty = _dirty_key()
        synced = 0
        while True:
            # Taken out of the set before reading: a counter touched meanwhile is added again.
            keys = client.spop(dirty, SYNC_BATCH)
            if not keys:
                return synced
            values = client.mget(keys)
            rows = [(*_parse(k), int(v)) for k, v in zip(keys, values, strict=True) if v]
            try:
                _upsert(rows)
            except Exception:
                client.sadd(dirty, *keys)  # the next sync tries them again
                raise
            synced += len(rows)
    except (redis.RedisError, Unavailable) as exc:
        logger.warning("quota counters not synced: %s", exc)
        return 0
