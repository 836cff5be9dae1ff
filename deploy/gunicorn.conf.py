"""gunicorn settings for the portal: `gunicorn portal.wsgi -c deploy/gunicorn.conf.py`."""

import os
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers spend most of their time on CPU (predictions), hence gunicorn's usual 2n+1.
workers = int(os.environ.get("GUNICORN_WORKERS") or 2 * (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
# Large batch predictions take a while; nginx gives up first anyway, so this only reaps hangs.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 60)
graceful_timeout = 30
# Longer than nginx's upstream keepalive would be pointless; short frees workers sooner.
keepalive = 5
# Recycle workers now and then so a slow leak never becomes an outage; jitter staggers restarts.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 5000)
max_requests_jitter = 500
# Heartbeat files on tmpfs: a worker blocked on a slow disk is not mistaken for a dead one.
SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented choice, only its heartbeat files
worker_tmp_dir = SHM if Path(SHM).is_dir() else None
# The app writes one JSON line per request itself; gunicorn's access log would double it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Only these proxies may set X-Forwarded-Proto/For; anyone else could claim HTTPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "mlops-portal"


def on_starting(server):
    """Start from an empty Prometheus multiprocess dir: a previous run's files would be summed in.

    Only the *.db files go: the directory may be shared or mounted, so it is never removed.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def post_worker_init(worker):
    """Load the serving models before the first request, then let go of the database."""
    from django.db import connections

    from models_registry.serving import warm_up

    try:
        loaded = warm_up()
        worker.log.info("worker %s loaded %d model version(s)", worker.pid, len(loaded))
    except Exception:
        worker.log.exception("worker %s could not warm up its models", worker.pid)
    finally:
        connections.close_all()


def child_exit(server, worker):
    """Drop a dead worker's live gauges, or /metrics keeps reporting a process that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
