"""/metrics under gunicorn with several workers counts every request exactly once."""

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from portal.tests.processes import (
    child_env,
    free_port,
    gunicorn_args,
    http_ok,
    running,
    wait_until,
)

REQUESTS = 60
HEALTH_COUNTER = re.compile(
    r'^django_http_responses_total_by_status_view_method_total\{(?=[^}]*view="health")'
    r'(?=[^}]*status="200")[^}]*\}\s+([0-9.e+]+)$',
    re.MULTILINE,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_metrics_are_exact_across_gunicorn_workers(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    metrics_dir = tmp_path / "prometheus"
    env = child_env(PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    with running(gunicorn_args(port, workers=2), env=env, log_path=tmp_path / "gunicorn.log"):
        wait_until(lambda: http_ok(f"{base}/readiness"), timeout=60, what="gunicorn")
        before = _health_count(httpx.get(f"{base}/metrics").text)

        def hit(_):
            # A new connection each time, so the two workers share the load.
            return httpx.get(f"{base}/health", headers={"Connection": "close"}).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(hit, range(REQUESTS)))
        assert codes == [200] * REQUESTS

        response = httpx.get(f"{base}/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert _health_count(response.text) - before == REQUESTS
        worker_pids = {p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(worker_pids) >= 2, "expected both workers to have served requests"


def _health_count(exposition):
    return sum(float(value) for value in HEALTH_COUNTER.findall(exposition))
