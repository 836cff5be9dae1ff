from http import HTTPStatus

from portal import health


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


def test_readiness_lists_what_failed(client, db, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def broker_down():
        raise ConnectionError("redis unreachable")

    monkeypatch.setitem(health.READINESS_CHECKS, "broker", broker_down)
    response = client.get("/readiness")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {
        "status": "unavailable",
        "failures": [{"check": "broker", "error": "ConnectionError: redis unreachable"}],
    }


def test_readiness_with_dead_broker(client, db, settings, monkeypatch):
    from portal.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    for name in ("broker_url", "broker_write_url"):
        monkeypatch.setattr(app.conf, name, "redis://127.0.0.1:1/0")
    response = client.get("/readiness")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    failure = response.json()["failures"][0]
    assert failure["check"] == "broker"
    assert "refused" in failure["error"].lower()


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
