"""The Redis cache reuses one client per pool, and still works as Django's cache."""

from django.core.cache import cache, caches

from portal.cache import RedisCache


def test_one_client_per_pool_and_the_cache_still_works():
    assert isinstance(caches["default"], RedisCache)  # the suite runs on Redis, as production
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client() is client  # one server: reads use the same pool
    cache.set("portal-cache-test", {"a": 1}, 5)
    assert cache.get("portal-cache-test") == {"a": 1}
    assert cache.get_many(["portal-cache-test", "missing"]) == {"portal-cache-test": {"a": 1}}
