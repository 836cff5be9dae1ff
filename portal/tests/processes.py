"""Start real processes (gunicorn, Celery workers) for integration tests, and stop them."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_SECONDS = 10
LOG_TAIL_CHARS = 3000


def free_port():
    """A port nothing listens on right now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url():
    """The URL of the database pytest-django created (`test_…`), so children share its data.

    Read inside a test: only then does settings.DATABASES name the test database.
    """
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{quote(db['NAME'], safe='')}"


def child_env(**overrides):
    """The test's environment, pointed at the test database and this test run's Redis."""
    env = {
        **os.environ,
        "PORTAL_ENV_FILE": "",
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    if settings.CELERY_RESULT_BACKEND:
        env["CELERY_RESULT_BACKEND"] = settings.CELERY_RESULT_BACKEND
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def log_tail(path):
    return Path(path).read_text(errors="replace")[-LOG_TAIL_CHARS:]


def wait_until(predicate, *, timeout=30, interval=0.2, what="condition", process=None):
    """Poll until predicate() is true; fail early, with its log, if `process` dies meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited ({process.returncode}) while waiting for {what}:\n"
                f"{log_tail(process.log_path)}"
            )
        time.sleep(interval)
    tail = f":\n{log_tail(process.log_path)}" if process is not None else ""
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}{tail}")


def http_ok(url, timeout=2):
    try:
        return httpx.get(url, timeout=timeout).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


@contextmanager
def running(args, *, env, log_path):
    """Run a process with stdout and stderr in log_path; always stop it on exit.

    It gets its own process group, so gunicorn's workers die with their master even
    when the master has to be killed.
    """
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = log_path
        try:
            yield process
        finally:
            stop(process)


def stop(process, timeout=STOP_TIMEOUT_SECONDS):
    """SIGTERM (graceful), then SIGKILL to the whole group after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # The leader is not reaped yet, so its group id is still ours: no stranger gets the kill.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def gunicorn_args(port, workers=2):
    # The venv's own interpreter: no `uv run` startup, no chance of a different environment.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi",
        "-c",
        "deploy/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]


def celery_worker_args(queue):
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "--loglevel=INFO",
        # One worker talking to nobody: skip the cluster chatter that only slows its start.
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
