"""The bench's plumbing: a production-like environment, processes, manage.py and wrk runs."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
WRK_SCRIPT = ROOT / "bench" / "wrk" / "request.lua"
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
DATABASE = "mlops_portal_bench"


def ensure_database():
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def database_url():
    return f"{PG_SERVER}/{DATABASE}"


def query(sql, params=()):
    with psycopg.connect(database_url(), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def production_env(**overrides):
    """The portal as production runs it (DEBUG off, Redis, PostgreSQL), minus TLS."""
    VAR.mkdir(parents=True, exist_ok=True)
    secret_file = VAR / "secret_key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(64))
    env = {
        **os.environ,
        "PORTAL_ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": secret_file.read_text(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": f"{REDIS}/9",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_URL": f"{REDIS}/8",
        # nginx terminates TLS in production; the bench talks to gunicorn directly.
        "SECURE_SSL_REDIRECT": "false",
        "MEDIA_ROOT": str(VAR / "media"),
        "STATIC_ROOT": str(VAR / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(VAR / "prometheus"),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def manage(*args, env):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


@contextmanager
def process(name, args, *, env, ready_url=None, timeout=60):
    """Run a server for the block's duration (own process group, log in var/bench)."""
    log_path = VAR / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            if ready_url:
                _wait_ready(proc, ready_url, timeout, log_path)
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _wait_ready(proc, url, timeout, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self):
        return self.requests / self.seconds


def wrk(url, *, connections, seconds, body_file=None, token=None, cookie=None):
    """One bounded wrk run against 127.0.0.1; its latency percentiles and error count."""
    env = {
        **os.environ,
        "BENCH_BODY": str(body_file or ""),
        "BENCH_TOKEN": token or "",
        "BENCH_COOKIE": cookie or "",
    }
    threads = min(connections, 2)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(WRK_SCRIPT), url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 60,
    )
    if result.returncode:
        raise RuntimeError(f"wrk {url} failed ({result.returncode}):\n{result.stderr}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["socket_errors"] + data["non_2xx"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )
