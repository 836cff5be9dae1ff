"""Django's Redis cache: one redis-py client per pool, and a miss (not a 500) when Redis is down.

Django's client builds a new `redis.Redis` for every operation, and each one copies redis-py's
table of ~170 response callbacks: about 0.3 ms of pure Python per cache call, several times
on every predict request. A client is thread-safe and the pool is shared either way.

Everything the portal caches can be looked up again, so an unreachable Redis turns reads into
misses and writes into no-ops (logged): the portal gets slower, not broken. What was cached
before the outage expires within its TTL.
"""

import functools
import logging

import redis
from django.core.cache.backends import redis as django_redis

logger = logging.getLogger(__name__)


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


def _degrades(fallback):
    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except redis.ConnectionError as exc:
                logger.warning("cache unavailable, %s skipped: %s", method.__name__, exc)
                return fallback(*args, **kwargs)

        return guarded

    return wrap


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    get = _degrades(lambda key, default=None, version=None: default)(django_redis.RedisCache.get)
    get_many = _degrades(lambda *a, **k: {})(django_redis.RedisCache.get_many)
    set = _degrades(lambda *a, **k: None)(django_redis.RedisCache.set)
    set_many = _degrades(lambda *a, **k: [])(django_redis.RedisCache.set_many)
    add = _degrades(lambda *a, **k: False)(django_redis.RedisCache.add)
    delete = _degrades(lambda *a, **k: False)(django_redis.RedisCache.delete)
    delete_many = _degrades(lambda *a, **k: None)(django_redis.RedisCache.delete_many)

    def redis(self):
        """The redis-py client behind the cache, for atomic scripts (quota counters)."""
        return self._cache.get_client(write=True)
