"""The system page's facts: database size, queues, Celery workers and beat, process memory.

Workers and beat report themselves: a daemon thread in each writes a heartbeat (time, pid,
memory) into one Redis hash every HEARTBEAT_SECONDS. A process whose heartbeat is older
than STALE_SECONDS is shown as silent, so a dead worker shows on the page, not just a gap.
"""

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)

HEARTBEATS_KEY = "system:heartbeats"
HEARTBEAT_SECONDS = 15
STALE_SECONDS = 60
# Heartbeats of processes gone this long are dropped from the hash (and the page).
FORGET_SECONDS = 24 * 3600
LOG_BUFFER = "prediction log buffer"


def rss_bytes():
    """This process's resident memory, from /proc (Linux), or None elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _client():
    make = getattr(cache, "redis", None)
    return make() if make else None


def heartbeat(kind, name=None):
    """Record that this process (a worker or beat) is alive; returns False without Redis."""
    client = _client()
    if client is None:
        return False
    name = name or f"{kind}@{socket.gethostname()}:{os.getpid()}"
    beat = {"kind": kind, "pid": os.getpid(), "rss": rss_bytes(), "seen": time.time()}
    try:
        client.hset(cache.make_key(HEARTBEATS_KEY), name, json.dumps(beat))
    except redis.RedisError:
        logger.warning("heartbeat of %s not recorded", name)
        return False
    return True


def heartbeat_start(kind):
    """Beat every HEARTBEAT_SECONDS from a daemon thread, for the life of the process."""
    name = f"{kind}@{socket.gethostname()}:{os.getpid()}"

    def loop():
        while True:
            heartbeat(kind, name)
            time.sleep(HEARTBEAT_SECONDS)

    thread = threading.Thread(target=loop, name=f"{kind}-heartbeat", daemon=True)
    thread.start()
    return thread


@dataclass
class Process:
    name: str
    kind: str
    pid: int
    rss: int | None
    seen: float

    @property
    def age(self):
        return max(time.time() - self.seen, 0)

    @property
    def alive(self):
        return self.age <= STALE_SECONDS


def processes():
    """Workers and beat that reported in the last FORGET_SECONDS (older ones are dropped)."""
    client = _client()
    if client is None:
        return []
    key = cache.make_key(HEARTBEATS_KEY)
    try:
        raw = client.hgetall(key)
    except redis.RedisError:
        return []
    found, forgotten = [], []
    for name, value in raw.items():
        name = name.decode()
        beat = json.loads(value)
        process = Process(name=name, kind=beat["kind"], pid=beat["pid"], rss=beat["rss"],
                          seen=beat["seen"])  # fmt: skip
        (forgotten if process.age > FORGET_SECONDS else found).append(process)
    if forgotten:
        client.hdel(key, *(p.name for p in forgotten))
    return sorted(found, key=lambda p: (p.kind, p.name))


def database_bytes():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
    name = connection.settings_dict.get("NAME")
    try:
        return os.path.getsize(name)
    except (OSError, TypeError):
        return None


def queue_depths():
    """{queue: waiting messages}, with the prediction log buffer; {} without a Redis broker."""
    from predictions import logbook

    broker = settings.CELERY_BROKER_URL
    if not broker.startswith(("redis://", "rediss://")):
        return {}
    try:
        # Closed on the way out: /metrics asks on every scrape.
        with redis.Redis.from_url(broker, socket_timeout=1, socket_connect_timeout=1) as client:
            # kombu's Redis transport keeps each queue as a list named after it.
            queue = settings.CELERY_TASK_DEFAULT_QUEUE
            depths = {queue: client.llen(queue)}
        if settings.PREDICTION_LOG_BUFFER_URL:
            depths[LOG_BUFFER] = logbook.backlog()
        return depths
    except redis.RedisError:
        logger.warning("broker unreachable, queue depths unknown")
        return {}
