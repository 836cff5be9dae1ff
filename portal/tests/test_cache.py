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


def test_an_unreachable_redis_is_a_miss_not_an_error(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    dead = caches["default"]
    assert dead.get("k", "fallback") == "fallback"
    assert dead.get_many(["k"]) == {}
    assert dead.add("k", 1) is False
    dead.set("k", 1)
    dead.delete("k")
    dead.delete_many(["k"])
    assert "cache unavailable" in caplog.text
