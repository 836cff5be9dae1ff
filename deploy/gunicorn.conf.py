"""gunicorn settings for the portal: `gunicorn portal.wsgi -c deploy/gunicorn.conf.py`."""

import multiprocessing
import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Model predictions can take a while on large batches; nginx times out first anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Heartbeat files on tmpfs: a worker blocked on a slow disk is not mistaken for a dead one.
SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented choice, only its heartbeat files
worker_tmp_dir = SHM if Path(SHM).is_dir() else None
# The app writes one JSON line per request itself; gunicorn's access log would double it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "mlops-portal"


def on_starting(server):
    """Start with an empty Prometheus multiprocess dir: stale files would inflate counters."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def child_exit(server, worker):
    """Merge a dead worker's gauges away so live values are not double counted."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
