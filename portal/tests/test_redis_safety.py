"""Redis as "loses nothing" needs it: the shipped config persists every write, and the suite
flushes only Redis databases of its own."""

import os
import signal
import subprocess
import sys

import pytest
import redis

from portal.tests import redis_guard
from portal.tests.processes import BASE_DIR, free_port
from portal.tests.redis_server import redis_server

SHIPPED_CONFIG = BASE_DIR / "deploy" / "redis" / "redis.conf"
RECORDS = 50


def _config(client, name):
    return client.config_get(name)[name]


def test_the_shipped_redis_conf_keeps_every_acknowledged_write_across_a_kill(tmp_path):
    with redis_server(tmp_path, config=SHIPPED_CONFIG) as (url, process):
        client = redis.Redis.from_url(url)
        assert _config(client, "appendonly") == "yes"
        assert _config(client, "appendfsync") == "always"
        assert _config(client, "maxmemory-policy") == "noeviction"
        assert client.info("persistence")["aof_enabled"] == 1  # from boot, not set later
        for i in range(RECORDS):
            client.rpush("predictions:log:pending", f"record-{i}")
        os.kill(process.pid, signal.SIGKILL)  # no shutdown save: only the AOF can keep them
        process.wait(timeout=10)
    with redis_server(tmp_path, config=SHIPPED_CONFIG) as (url, _):
        kept = redis.Redis.from_url(url).lrange("predictions:log:pending", 0, -1)
    assert kept == [f"record-{i}".encode() for i in range(RECORDS)]


@pytest.fixture
def spare_redis(tmp_path):
    with redis_server(tmp_path, "--save", "", password="s3cret") as (url, _):
        yield url


def _database(url, number):
    return url.rsplit("/", 1)[0] + f"/{number}"


def test_the_suite_marks_an_empty_database_and_empties_only_what_it_marked(spare_redis):
    redis_guard.claim("CACHE_URL", spare_redis)
    client = redis.Redis.from_url(spare_redis)
    assert client.exists(redis_guard.MARKER_KEY)
    client.set("left-by-a-test", 1)
    redis_guard.claim("CACHE_URL", spare_redis)  # the next session: marked, so still ours
    redis_guard.empty(spare_redis)
    assert client.keys() == [redis_guard.MARKER_KEY.encode()]


def test_the_suite_refuses_a_database_it_did_not_start_empty(spare_redis):
    foreign = _database(spare_redis, 3)
    redis.Redis.from_url(foreign).set("someones-data", "precious")
    with pytest.raises(pytest.exit.Exception) as stopped:
        redis_guard.claim("CACHE_URL", foreign)
    message = str(stopped.value)
    assert "CACHE_URL points at redis://:***@127.0.0.1:" in message
    assert "s3cret" not in message
    assert stopped.value.returncode == redis_guard.EXIT_CODE
    assert redis.Redis.from_url(foreign).get("someones-data") == b"precious"


def test_a_test_run_pointed_at_a_foreign_redis_stops_before_any_test(spare_redis, tmp_path):
    foreign = _database(spare_redis, 3)
    redis.Redis.from_url(foreign).set("someones-data", "precious")
    env = {
        **os.environ,
        "PORTAL_ENV_FILE": "",
        "DEBUG": "true",
        # A database nobody uses: the run must stop before it would create its test copy.
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/redis_guard_never_created",
        "CELERY_BROKER_URL": _database(spare_redis, 1),
        "CELERY_RESULT_BACKEND": _database(spare_redis, 1),
        "CACHE_URL": foreign,
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "portal/tests/test_health.py::test_health_touches_nothing",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == redis_guard.EXIT_CODE, output[-3000:]
    assert "CACHE_URL points at" in output
    assert "1 passed" not in output
    assert redis.Redis.from_url(foreign).get("someones-data") == b"precious"


def test_an_unreachable_redis_stops_the_run_with_a_reason():
    with pytest.raises(pytest.exit.Exception, match="cannot be reached"):
        redis_guard.claim("CACHE_URL", f"redis://127.0.0.1:{free_port()}/0")
