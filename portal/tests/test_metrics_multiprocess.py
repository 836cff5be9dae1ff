"""/metrics under gunicorn with several workers counts every request exactly once."""

from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import httpx
import prometheus_client
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from portal.tests.processes import (
    child_env,
    free_port,
    gunicorn_args,
    http_ok,
    running,
    wait_until,
)

WORKERS = 2
REQUESTS = 60
CLIENT_THREADS = 8
MAX_ROUNDS = 3
# django-prometheus's per-view counter, as it appears in the exposition.
VIEW_COUNTER = "django_http_responses_total_by_status_view_method_total"
HEALTH_LABELS = {"method": "GET", "status": "200", "view": "health"}

pytestmark = pytest.mark.integration


def test_metrics_are_exact_across_gunicorn_workers(transactional_db, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    metrics_dir = tmp_path / "prometheus"
    env = child_env(PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    args = gunicorn_args(port, workers=WORKERS)
    with running(args, env=env, log_path=tmp_path / "gunicorn.log") as gunicorn:
        # A probe never gives up on a request it sent: one abandoned while the workers boot
        # would still be served (and counted) later, maybe after `before` is read below.
        wait_until(lambda: http_ok(f"{base}/health", timeout=30), what="gunicorn", process=gunicorn)
        # A worker writes its counter file once Django's middleware is loaded: waiting for
        # all of them means no worker is still booting while the load below runs.
        wait_until(
            lambda: len(_counter_files(metrics_dir)) >= WORKERS,
            what="every worker to boot",
            process=gunicorn,
        )
        before = _health_count(_scrape(base).text)
        before_by_pid = _health_count_by_pid(metrics_dir)

        sent = 0
        for _ in range(MAX_ROUNDS):
            codes = _get_concurrently(f"{base}/health", REQUESTS)
            assert codes == [HTTPStatus.OK] * REQUESTS
            sent += REQUESTS
            response = _scrape(base)
            assert _health_count(response.text) - before == sent
            served = {
                pid: n - before_by_pid.get(pid, 0)
                for pid, n in _health_count_by_pid(metrics_dir).items()
                if n > before_by_pid.get(pid, 0)
            }
            # Which worker accepts is the kernel's choice: on a busy machine one may take a
            # whole round, so another round is sent (and counted exactly) before giving up.
            if len(served) >= 2:
                break
        assert len(served) >= 2, f"one worker served every request: {served}"
        assert response.headers["content-type"] == prometheus_client.CONTENT_TYPE_LATEST


def _get_concurrently(url, count):
    def get(_):
        # A new connection each time, so every worker can take a share.
        return httpx.get(url, headers={"Connection": "close"}, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        return list(pool.map(get, range(count)))


def _scrape(base):
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == HTTPStatus.OK
    return response


def _health_count(exposition):
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == VIEW_COUNTER and sample.labels == HEALTH_LABELS
    )


def _counter_files(metrics_dir):
    return sorted(metrics_dir.glob("counter_*.db"))


def _health_count_by_pid(metrics_dir):
    """Each worker's own health count, read from its file: who really served the requests."""
    counts = {}
    for path in _counter_files(metrics_dir):
        pid = path.stem.rsplit("_", 1)[-1]
        counts[pid] = sum(
            sample.value
            for family in MultiProcessCollector.merge([str(path)])
            for sample in family.samples
            if sample.name == VIEW_COUNTER and sample.labels == HEALTH_LABELS
        )
    return counts
