"""Every /api/ error is small JSON `{"detail": ...}` with the right status, never HTML or a 500.

Run as production runs: DEBUG off, and the client hands back the 500 page instead of raising.
"""

import json
from http import HTTPStatus

import pytest
from django.test import Client

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal.api_errors import MAX_ERRORS_SHOWN

PREDICT_URL = "/api/v1/models/iris-model/predict"
JOBS_URL = "/api/v1/models/iris-model/jobs"
ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
DEEP_NESTING = "[" * 100_000 + "]" * 100_000
# A capped 422 is a few kilobytes; uncapped, 100,000 errors were 9.4 MB.
MAX_ERROR_BYTES = 64 * 1024


@pytest.fixture(autouse=True)
def _production_like(settings):
    settings.DEBUG = False


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.fixture
def auth(user):
    _, token = make_token(user, scope=TokenScope.PREDICT)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def served(train):
    registry.version_promote(version=train())


def assert_json_error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["detail"], body
    return body


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/nope", "/api/v1/models/x/y/z"])
def test_an_unknown_api_path_is_a_json_404(client, auth, path):
    assert_json_error(client.get(path, **auth), HTTPStatus.NOT_FOUND)


def test_an_unknown_api_path_is_json_in_debug_too(client, settings):
    settings.DEBUG = True  # Django's technical 404 page is 16 KB of HTML
    assert_json_error(client.get("/api/v1/nope"), HTTPStatus.NOT_FOUND)


def test_a_page_outside_the_api_keeps_its_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("method", "path"), [("put", "/api/v1/models"), ("delete", "/api/v1/me")])
def test_a_wrong_method_is_a_json_405_that_names_the_allowed_ones(client, auth, method, path):
    response = getattr(client, method)(path, **auth)
    body = assert_json_error(response, HTTPStatus.METHOD_NOT_ALLOWED)
    assert response["Allow"] == "GET"
    assert body["detail"] == "Method Not Allowed"


def test_a_predict_body_over_the_upload_limit_is_a_json_413(client, auth, served, settings):
    body = json.dumps({"inputs": [ROW] * 1000, "padding": "x" * 100})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1
    response = client.post(PREDICT_URL, body, content_type="application/json", **auth)
    assert_json_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


def test_a_bad_request_django_refuses_before_any_view_is_json(client, settings):
    # DisallowedHost is raised in a middleware, before any API view: Django's 400 handler.
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    response = client.get("/api/v1/me", HTTP_HOST="evil.example.com")
    assert_json_error(response, HTTPStatus.BAD_REQUEST)


@pytest.mark.parametrize("url", [PREDICT_URL, JOBS_URL])
def test_deeply_nested_json_is_a_json_400(client, auth, served, url):
    response = client.post(url, DEEP_NESTING, content_type="application/json", **auth)
    assert_json_error(response, HTTPStatus.BAD_REQUEST)


def test_broken_json_to_the_jobs_api_is_a_400_as_for_predict(client, auth, served):
    for url in (PREDICT_URL, JOBS_URL):
        response = client.post(url, '{"rows": [', content_type="application/json", **auth)
        assert_json_error(response, HTTPStatus.BAD_REQUEST)


def test_a_hundred_thousand_bad_fields_give_a_small_422_with_the_count(client, auth, served):
    rows = [{f"f{i}": 0 for i in range(100)} for _ in range(1000)]  # ~1 MB, all unknown
    response = client.post(PREDICT_URL, json.dumps({"inputs": rows}), "application/json", **auth)
    body = assert_json_error(response, HTTPStatus.UNPROCESSABLE_ENTITY)
    assert len(response.content) < MAX_ERROR_BYTES
    assert len(body["detail"]) == MAX_ERRORS_SHOWN
    # 100 unknown and 4 missing features per row.
    assert body["error_count"] == 1000 * 104
    assert body["detail"][0]["loc"][:3] == ["body", "inputs", 0]


def test_schema_validation_errors_are_capped_too(client, auth, served):
    response = client.post(
        JOBS_URL, json.dumps({"rows": list(range(5000))}), "application/json", **auth
    )
    body = assert_json_error(response, HTTPStatus.UNPROCESSABLE_ENTITY)
    assert len(body["detail"]) == MAX_ERRORS_SHOWN
    assert body["error_count"] == 5000
    assert len(response.content) < MAX_ERROR_BYTES


def test_a_few_errors_are_all_shown_with_their_count(client, auth, served):
    response = client.post(
        PREDICT_URL, json.dumps({"inputs": [{**ROW, "extra": 1}]}), "application/json", **auth
    )
    body = assert_json_error(response, HTTPStatus.UNPROCESSABLE_ENTITY)
    assert body == {
        "detail": [
            {
                "loc": ["body", "inputs", 0, "extra"],
                "msg": "Unknown feature",
                "type": "extra_forbidden",
            }
        ],
        "error_count": 1,
    }
