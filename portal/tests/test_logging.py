"""One JSON line per request with its request id; no secret ever reaches a log line."""

import io
import json
import logging
from http import HTTPStatus

import pytest

from accounts.models import TokenScope
from accounts.tests.factories import DEFAULT_PASSWORD, make_token
from portal.logging import JsonFormatter, RedactSecretsFilter, RequestIdFilter, redact


@pytest.fixture
def log_lines():
    """Capture everything logged, through the same filters and formatter as production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    root.removeHandler(handler)
    root.setLevel(previous_level)


def test_request_id_is_echoed_or_generated(client, db, log_lines):
    given = client.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert given["X-Request-ID"] == "abc-123"
    generated = client.get("/health")
    assert len(generated["X-Request-ID"]) == 32
    unsafe = client.get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert unsafe["X-Request-ID"] != "bad id\nwith newline"

    access = [line for line in log_lines() if line["logger"] == "portal.request"]
    assert [line["request_id"] for line in access][:2] == ["abc-123", generated["X-Request-ID"]]
    assert access[0]["status"] == HTTPStatus.OK
    assert access[0]["path"] == "/health"
    assert isinstance(access[0]["duration_ms"], float)


def test_api_errors_carry_the_request_id(client, db):
    response = client.get("/api/v1/me", HTTP_X_REQUEST_ID="req-401")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["X-Request-ID"] == "req-401"


def test_no_secret_in_any_log_line(client, user, log_lines, settings):
    settings.DEBUG = True  # ninja's bearer class logs bad headers in DEBUG; ours must not
    _, plaintext = make_token(user, scope=TokenScope.ALL)
    secret = plaintext.split("_", 2)[2]
    client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {plaintext}")
    client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}x")
    client.post("/accounts/login/", {"login": "user", "password": "wrong-" + DEFAULT_PASSWORD})
    client.post("/accounts/login/", {"login": "user", "password": DEFAULT_PASSWORD})
    client.get(f"/accounts/password/reset/key/1-{secret}/")
    logging.getLogger("portal.test").warning("header was Authorization: Bearer %s", plaintext)
    logging.getLogger("portal.test").info("form", extra={"password": DEFAULT_PASSWORD})

    dumped = json.dumps(log_lines())
    assert "/api/v1/me" in dumped  # the requests were logged at all
    for leaked in (secret, DEFAULT_PASSWORD):
        assert leaked not in dumped


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("{'HTTP_AUTHORIZATION': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("password=hunter2&next=/", "hunter2"),
        ('{"password": "hunter2"}', "hunter2"),
        ("GET /accounts/password/reset/key/1-abcdef/", "abcdef"),
        ("token mlp_ABCDEFGH_" + "s" * 43, "s" * 43),
    ],
)
def test_redact(text, hidden):
    assert hidden not in redact(text)
