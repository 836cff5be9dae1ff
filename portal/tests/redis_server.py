"""A throwaway redis-server of the test's own, configured as the test needs, on a free port."""

import os
from contextlib import contextmanager

import redis

from portal.tests.processes import free_port, running, wait_until

STARTUP_TIMEOUT_SECONDS = 10


def _answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.2).ping()
    except redis.RedisError:
        return False


@contextmanager
def redis_server(directory, *options, config=None, password=None):
    """Run redis-server with its files in `directory`; yield (URL of database 0, process).

    `config` is a redis.conf to start from; `options` (`"--name", "value"`, ...) override it.
    The port, address and directory are always the test's own.
    """
    port = free_port()
    args = ["redis-server", *([str(config)] if config else [])]
    args += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    args += ["--daemonize", "no", *options]
    if password:
        args += ["--requirepass", password]
    url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
    with running(args, env=dict(os.environ), log_path=directory / "redis.log") as process:
        wait_until(
            lambda: _answers(url),
            timeout=STARTUP_TIMEOUT_SECONDS,
            what="redis-server",
            process=process,
        )
        yield url, process
