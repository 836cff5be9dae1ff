"""deploy/nginx/portal.conf: valid for nginx, proxies to gunicorn, keeps /metrics internal."""

import re
import shutil
import subprocess
from http import HTTPStatus

import httpx
import pytest

from portal.tests.processes import (
    BASE_DIR,
    child_env,
    free_port,
    gunicorn_args,
    http_ok,
    log_tail,
    running,
    wait_until,
)

NGINX_CONF = BASE_DIR / "deploy" / "nginx" / "portal.conf"
# Debian puts it in /usr/sbin, which a user's PATH may lack.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
# Loopback, but not an address portal.conf lets read /metrics: an "outside" caller.
OUTSIDE_ADDRESS = "127.0.0.2"
COMMAND_TIMEOUT = 30
STARTUP_TIMEOUT = 60

# `make test` does not install nginx (yet): without it these tests say so and step aside.
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx missing: run bin/ensure-nginx")

MAIN_CONF = """
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""


def render(tmp_path, *, upstream, http_port, https_port, status_port):
    """portal.conf on loopback ports with a throwaway certificate, inside a main nginx.conf."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", tmp_path / "portal.key"),
            *("-out", tmp_path / "portal.crt"),
        ],
        check=True,
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
    )
    site = NGINX_CONF.read_text()
    for pattern, replacement in [
        (r"server portal:8000 ", f"server {upstream} "),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        (r"listen 127\.0\.0\.1:8081;", f"listen 127.0.0.1:{status_port};"),
        (r"\n\s*listen \[::\]:\d+[^;]*;", ""),
        (r"/etc/nginx/tls/", f"{tmp_path}/"),
    ]:
        site, count = re.subn(pattern, replacement, site)
        assert count, f"portal.conf no longer has {pattern!r}: update this test's rendering"
    (tmp_path / "portal.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(MAIN_CONF.format(tmp=tmp_path, site=tmp_path / "portal.conf"))
    return main


def nginx_args(main, tmp_path, *extra):
    return [NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main), *extra]


def test_nginx_accepts_the_config(tmp_path):
    main = render(
        tmp_path, upstream="127.0.0.1:8000", http_port=8080, https_port=8443, status_port=8081
    )
    result = subprocess.run(
        nginx_args(main, tmp_path, "-t"),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_nginx_proxies_to_gunicorn_and_keeps_metrics_internal(transactional_db, tmp_path):
    gunicorn_port, http_port, https_port, status_port = (free_port() for _ in range(4))
    main = render(
        tmp_path,
        upstream=f"127.0.0.1:{gunicorn_port}",
        http_port=http_port,
        https_port=https_port,
        status_port=status_port,
    )
    https = f"https://127.0.0.1:{https_port}"
    gunicorn_log = tmp_path / "gunicorn.log"
    with (
        running(gunicorn_args(gunicorn_port, workers=1), env=child_env(), log_path=gunicorn_log),
        running(
            nginx_args(main, tmp_path), env=child_env(), log_path=tmp_path / "nginx.log"
        ) as nginx,
    ):
        try:
            wait_until(
                lambda: http_ok(f"http://127.0.0.1:{http_port}/health", timeout=30),
                timeout=STARTUP_TIMEOUT,
                what="nginx and gunicorn",
                process=nginx,
            )
            inside = httpx.Client(verify=False, timeout=10)
            outside = httpx.Client(
                verify=False,
                timeout=10,
                transport=httpx.HTTPTransport(local_address=OUTSIDE_ADDRESS, verify=False),
            )
            with inside, outside:
                response = inside.get(f"{https}/metrics")
                assert response.status_code == HTTPStatus.OK
                assert "portal_celery_queue_depth" in response.text
                assert outside.get(f"{https}/metrics").status_code == HTTPStatus.FORBIDDEN
                assert outside.get(f"{https}/health").status_code == HTTPStatus.OK
                redirect = outside.get(f"http://127.0.0.1:{http_port}/api/v1/models")
                assert redirect.status_code == HTTPStatus.MOVED_PERMANENTLY
                status = inside.get(f"http://127.0.0.1:{status_port}/stub_status")
                assert "Active connections" in status.text
        except BaseException:
            print(f"--- nginx errors\n{log_tail(tmp_path / 'error.log')}")
            print(f"--- gunicorn\n{log_tail(gunicorn_log)}")
            raise


@pytest.mark.integration
def test_what_nginx_refuses_under_api_is_json(tmp_path):
    # No gunicorn behind it: every /api/ call is nginx's own answer (unavailable, then limited).
    http_port, https_port, status_port = (free_port() for _ in range(3))
    main = render(
        tmp_path,
        upstream=f"127.0.0.1:{free_port()}",
        http_port=http_port,
        https_port=https_port,
        status_port=status_port,
    )
    with running(
        nginx_args(main, tmp_path), env=child_env(), log_path=tmp_path / "nginx.log"
    ) as nginx:
        url = f"https://127.0.0.1:{https_port}/api/v1/models"
        with httpx.Client(verify=False, timeout=10) as client:

            def answers():
                try:
                    return client.get(url)
                except httpx.HTTPError:
                    return None

            wait_until(lambda: answers() is not None, what="nginx", process=nginx)
            statuses = {}
            for _ in range(80):  # past the burst of 40 at 20 a second
                response = answers()
                statuses.setdefault(response.status_code, response)
        for status in (HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.TOO_MANY_REQUESTS):
            response = statuses[status]
            assert response.headers["content-type"] == "application/json"
            assert response.json()["detail"]
            assert response.headers["retry-after"]
