from contextlib import ExitStack
from http import HTTPStatus

import pytest

from portal import health
from portal.tests.processes import BASE_DIR, free_port
from portal.tests.redis_server import redis_server

SHIPPED_REDIS_CONFIG = BASE_DIR / "deploy" / "redis" / "redis.conf"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_health_touches_nothing(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_readiness_checks_database_and_broker(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # check the real Redis broker of the test env
    response = client.get("/readiness")
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["checks"] == ["database", "broker", "models"]


def test_readiness_lists_what_failed(client, db, settings, monkeypatch, admin_user):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def broker_down():
        raise ConnectionError("redis unreachable")

    monkeypatch.setitem(health.READINESS_CHECKS, "broker", broker_down)
    client.force_login(admin_user)
    response = client.get("/readiness")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failures"] == [{"check": "broker", "error": "ConnectionError: redis unreachable"}]


@pytest.fixture
def dead_broker(settings, monkeypatch):
    from portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    for name in ("broker_url", "broker_write_url"):
        monkeypatch.setattr(app.conf, name, DEAD_REDIS)


def test_readiness_names_only_the_failed_check_to_anyone_but_admins(client, db, dead_broker, user):
    for who in (None, user):
        if who:
            client.force_login(who)
        response = client.get("/readiness")
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response.json()["failures"] == [{"check": "broker"}]
        assert "127.0.0.1" not in response.content.decode()


def test_readiness_tells_admins_what_the_failed_check_raised(client, db, dead_broker, admin_user):
    client.force_login(admin_user)
    response = client.get("/readiness")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    failure = response.json()["failures"][0]
    assert failure["check"] == "broker"
    assert "refused" in failure["error"].lower()


@pytest.fixture
def log_buffer(settings, tmp_path):
    """Point the log buffer at a Redis of the test's own, started with `options`."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with ExitStack() as stack:

        def start(*options, config=None):
            server = redis_server(tmp_path, "--save", "", *options, config=config)
            settings.PREDICTION_LOG_BUFFER_URL, _ = stack.enter_context(server)

        yield start


def _warnings(client):
    response = client.get("/readiness")
    assert response.status_code == HTTPStatus.OK, response.content
    return [(w["check"], w["warning"]) for w in response.json()["warnings"]]


def test_readiness_is_quiet_about_a_log_buffer_run_with_the_shipped_config(client, db, log_buffer):
    log_buffer(config=SHIPPED_REDIS_CONFIG)
    assert _warnings(client) == []


@pytest.mark.parametrize(
    ("options", "warning"),
    [
        (("--appendonly", "no"), health.BUFFER_NOT_PERSISTED),
        (
            ("--appendonly", "yes", "--appendfsync", "everysec"),
            health.BUFFER_FSYNC_LAX.format(appendfsync="everysec"),
        ),
        (("--rename-command", "CONFIG", ""), health.BUFFER_UNVERIFIABLE),
    ],
    ids=["no-aof", "fsync-everysec", "config-refused"],
)
def test_readiness_warns_when_the_log_buffer_could_lose_records(
    client, db, log_buffer, options, warning
):
    log_buffer(*options)
    assert _warnings(client) == [("log_buffer", warning)]


def test_readiness_warns_when_the_log_buffer_is_unreachable(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.PREDICTION_LOG_BUFFER_URL = f"redis://127.0.0.1:{free_port()}/0"
    assert _warnings(client) == [("log_buffer", health.BUFFER_UNREACHABLE)]


def test_unknown_api_path_is_json_404(client, db):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Not found"}


def test_friendly_404_page(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b"404" in response.content
    assert b"Back to the dashboard" in response.content


def test_friendly_500_page_and_json_500_for_the_api(rf):
    from portal.views import server_error

    page = server_error(rf.get("/tokens/"))
    assert page.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert b"Something broke" in page.content
    api = server_error(rf.get("/api/v1/me"))
    assert api.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert api.content == b'{"detail": "Internal server error"}'
