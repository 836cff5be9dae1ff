"""Production configuration: bad settings refused at start, `check --deploy` clean."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portal import config

BASE_DIR = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = BASE_DIR / ".env.example"
GOOD_SECRET = "k3P9x-vQ2mZr7TnW4yLb8sHd1cFg6jKa0eRuIoXpNtMq5VwB2zCy"
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": GOOD_SECRET,
    "ALLOWED_HOSTS": "portal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
    "DATABASE_URL": "postgres://portal:pw@127.0.0.1:5432/mlops_portal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


# The test run's own settings must not leak into the production process under test.
TEST_ONLY_ENV = (
    "CACHE_URL",
    "PREDICTION_LOG_BUFFER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_RESULT_BACKEND",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def manage(*args, env):
    clean = {
        k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k not in TEST_ONLY_ENV
    }
    clean.update(env, PORTAL_ENV_FILE="", DJANGO_SETTINGS_MODULE="portal.settings")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_problem_is_reported_at_once():
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "short",
        "ALLOWED_HOSTS": "",
        "DATABASE_URL": "mysql//nonsense",
        "CELERY_BROKER_URL": "",
        "CSRF_TRUSTED_ORIGINS": "portal.example.com",
        "SECURE_HSTS_SECONDS": "a year",
    }
    result = manage("check", env=env)
    assert result.returncode == 78
    for name in (
        "SECRET_KEY is weak",
        "ALLOWED_HOSTS is empty",
        "DATABASE_URL",
        "CELERY_BROKER_URL is required",
        "CSRF_TRUSTED_ORIGINS",
        "SECURE_HSTS_SECONDS must be a whole number",
    ):
        assert name in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY is weak"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must not contain '*'"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is required"),
        ({"DATABASE_URL": "postgres://h:notaport/db"}, "DATABASE_URL is not a valid URL"),
        ({"CELERY_BROKER_URL": "http://127.0.0.1"}, "CELERY_BROKER_URL must use one of"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
    ],
)
def test_one_bad_setting_is_named(override, message):
    result = manage("check", env={**PRODUCTION_ENV, **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_debug_mode_needs_no_configuration():
    result = manage("check", env={"DEBUG": "true", "DATABASE_URL": "", "CELERY_BROKER_URL": ""})
    assert result.returncode == 0, result.stderr


def test_collectstatic_works_with_production_storage(tmp_path):
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path / "static")}
    result = manage("collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "js/htmx.min.js" in manifest
    assert "css/portal.css" in manifest


def test_every_variable_is_documented_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))
    sources = [BASE_DIR / "portal" / "settings.py", BASE_DIR / "deploy" / "gunicorn.conf.py"]
    used = set()
    for source in sources:
        used |= set(re.findall(r"""env_\w+\(\s*"([A-Z0-9_]+)\"""", source.read_text()))
        used |= set(re.findall(r"""environ\.get\(\s*"([A-Z0-9_]+)\"""", source.read_text()))
    assert used, "found no variables: the pattern is stale"
    assert used - documented == set()


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/14"),
        ("redis://h:6380?db=4", "redis://h:6380/5"),
        ("rediss://:pw@h:6380/2?ssl_cert_reqs=none", "rediss://:pw@h:6380/3?ssl_cert_reqs=none"),
        ("amqp://guest@h//", ""),
    ],
)
def test_the_cache_defaults_to_another_database_than_the_brokers(broker, cache):
    assert config.redis_sibling_url(broker) == cache


def test_by_default_the_log_buffer_and_the_cache_use_different_databases():
    show = (
        "from django.conf import settings as s; "
        "print(s.CACHES['default']['LOCATION'], s.PREDICTION_LOG_BUFFER_URL)"
    )
    result = manage("shell", "--no-imports", "-c", show, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/0"]


@pytest.mark.parametrize(
    "override",
    [
        {"CACHE_URL": "redis://localhost:6379"},  # the broker's database 0, by another name
        {"PREDICTION_LOG_BUFFER_URL": "redis://127.0.0.1:6379/1"},  # the cache's default
    ],
)
def test_production_refuses_a_cache_in_the_log_buffers_database(override):
    result = manage("check", env={**PRODUCTION_ENV, **override})
    assert result.returncode == 78
    assert "name the same Redis database" in result.stderr
    assert "clearing the cache (FLUSHDB) would delete buffered" in result.stderr


def test_missing_metrics_directory_is_created(tmp_path):
    metrics_dir = tmp_path / "fresh" / "metrics"
    result = manage("check", env={"DEBUG": "true", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    assert result.returncode == 0, result.stderr
    assert metrics_dir.is_dir()


def test_unusable_metrics_directory_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = manage("check", env={"DEBUG": "true", "PROMETHEUS_MULTIPROC_DIR": str(blocker / "m")})
    assert result.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR cannot be created" in result.stderr


@pytest.mark.django_db
def test_every_response_carries_the_content_security_policy(client):
    from django.conf import settings

    for path in ("/accounts/login/", "/health", "/static/js/htmx.min.js"):
        assert client.get(path)["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


@pytest.mark.django_db
def test_debugs_own_error_page_keeps_its_scripts_and_nothing_else_is_exempt(settings):
    from django.http import HttpResponse, HttpResponseServerError

    from portal.middleware import ContentSecurityPolicyMiddleware

    def middleware(response):
        return ContentSecurityPolicyMiddleware(lambda request: response)(None)

    settings.DEBUG = True
    assert "Content-Security-Policy" not in middleware(HttpResponseServerError())
    assert "Content-Security-Policy" in middleware(HttpResponse())
    settings.DEBUG = False
    assert "Content-Security-Policy" in middleware(HttpResponseServerError())
