"""The suite empties Redis databases before every test: only databases it owns.

A database is the suite's when it carries MARKER_KEY, which the suite sets only in an empty
database. A database with keys and no marker (a developer's, or production's, reached by a
wrong URL) stops the run before any test touches it.
"""

import functools
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

MARKER_KEY = "mlops-portal:test-suite-owns-this-database"
EXIT_CODE = 3
# 1 when the database is the suite's (marked, or empty and now marked), else 0.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('DBSIZE') == 0 then
  redis.call('SET', KEYS[1], '1')
  return 1
end
return 0
"""
# Empty the database and mark it again, in one step: it is never unmarked with keys in it.
_EMPTY = """
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], '1')
"""


def suite_databases(settings):
    """{setting: URL} of the Redis databases the root conftest's fixtures empty."""
    databases = {}
    cache = settings.CACHES["default"]
    if "redis" in cache["BACKEND"].lower():
        databases["CACHE_URL"] = cache["LOCATION"]
    if settings.PREDICTION_LOG_BUFFER_URL:
        databases["PREDICTION_LOG_BUFFER_URL"] = settings.PREDICTION_LOG_BUFFER_URL
    return databases


@functools.cache
def _client(url):
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def shown(url):
    """The URL without its password, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def claim(setting, url):
    """Mark `url`'s database as the suite's, or stop the whole run saying why."""
    try:
        ours = _client(url).eval(_CLAIM, 1, MARKER_KEY)
    except redis.RedisError as exc:
        pytest.exit(
            f"{setting} ({shown(url)}) cannot be reached ({exc}); "
            "`make test` starts Redis (bin/ensure-services).",
            returncode=EXIT_CODE,
        )
    if not ours:
        pytest.exit(
            f"{setting} points at {shown(url)}, a Redis database with keys that is not the test "
            f"suite's (it lacks the key {MARKER_KEY!r}). The suite empties its databases before "
            "every test, so it stops instead. Point it at an empty database (`make test` uses "
            "databases 14 and 15 of 127.0.0.1:6379); if this one really is a leftover test "
            "database, empty it yourself (redis-cli -n N flushdb).",
            returncode=EXIT_CODE,
        )


def empty(url):
    """Delete everything in a database `claim` accepted, keeping it marked."""
    _client(url).eval(_EMPTY, 1, MARKER_KEY)


def mark(url):
    """Mark again a database a test emptied itself (cache.clear())."""
    _client(url).set(MARKER_KEY, "1")
