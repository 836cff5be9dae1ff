"""The log keys each prediction by the server's own id; the client's X-Request-ID rides along."""

import json
from http import HTTPStatus

import pytest

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from predictions import logbook
from predictions.models import Prediction

ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
URL = "/api/v1/models/iris-model/predict"


@pytest.fixture
def served(train):
    registry.version_promote(version=train())


@pytest.fixture
def api(client, bearer):
    def call(who, path, body=None, **headers):
        _, token = make_token(who, scope=TokenScope.ALL)
        if body is None:
            return client.get(path, **bearer(token), **headers)
        return client.post(
            path, json.dumps(body), content_type="application/json", **bearer(token), **headers
        )

    return call


def test_a_repeated_x_request_id_logs_every_request(served, api, user, admin_user):
    # A retry by the same client, and another caller reusing its id: three answers, three rows.
    responses = [
        api(who, URL, {"inputs": [ROW]}, HTTP_X_REQUEST_ID="dup-1")
        for who in (user, user, admin_user)
    ]
    assert [r.status_code for r in responses] == [HTTPStatus.OK] * 3
    assert [r["X-Request-ID"] for r in responses] == ["dup-1"] * 3
    body_ids = [r.json()["request_id"] for r in responses]
    assert len(set(body_ids)) == 3
    assert "dup-1" not in body_ids
    logged = Prediction.objects.filter(client_request_id="dup-1")
    assert sorted(logged.values_list("request_id", flat=True)) == sorted(body_ids)
    # Feedback takes the body's id, which names exactly one row.
    first = api(user, f"/api/v1/predictions/{body_ids[0]}/feedback", {"labels": ["setosa"]})
    assert first.status_code == HTTPStatus.CREATED, first.content
    assert Prediction.objects.get(request_id=body_ids[0]).feedback.labels == ["setosa"]
    by_client_id = api(user, "/api/v1/predictions/dup-1/feedback", {"labels": ["setosa"]})
    assert by_client_id.status_code == HTTPStatus.NOT_FOUND


def test_without_x_request_id_the_header_names_the_row(served, api, user):
    response = api(user, URL, {"inputs": [ROW]})
    assert response.status_code == HTTPStatus.OK
    assert response["X-Request-ID"] == response.json()["request_id"]
    row = Prediction.objects.get(request_id=response["X-Request-ID"])
    assert row.client_request_id == ""


def test_history_shows_and_filters_by_the_client_id(served, api, client, user):
    for client_id in ("mine-1", "mine-2"):
        api(user, URL, {"inputs": [ROW]}, HTTP_X_REQUEST_ID=client_id)
    plain = api(user, URL, {"inputs": [ROW]}).json()["request_id"]
    items = api(user, "/api/v1/predictions").json()["items"]
    assert sorted(item["client_request_id"] or "" for item in items) == ["", "mine-1", "mine-2"]
    only = api(user, "/api/v1/predictions?client_request_id=mine-2").json()["items"]
    assert [item["client_request_id"] for item in only] == ["mine-2"]
    assert only[0]["request_id"] == Prediction.objects.get(client_request_id="mine-2").request_id

    client.force_login(user)
    opened = client.get(f"/history/{only[0]['request_id']}/", HTTP_HX_REQUEST="true")
    assert 'data-testid="history-client-request-id">mine-2<' in opened.content.decode()
    without = client.get(f"/history/{plain}/", HTTP_HX_REQUEST="true")
    assert "history-client-request-id" not in without.content.decode()


def test_an_unsafe_x_request_id_is_neither_echoed_nor_kept(served, api, user):
    response = api(user, URL, {"inputs": [ROW]}, HTTP_X_REQUEST_ID="bad id")
    assert response.status_code == HTTPStatus.OK
    assert response["X-Request-ID"] == response.json()["request_id"]
    assert Prediction.objects.get().client_request_id == ""


@pytest.mark.parametrize(
    "write",
    [logbook.write_records, logbook._write_orm],  # PostgreSQL's insert; the demo's ORM one
    ids=["postgresql", "orm"],
)
def test_both_log_writers_keep_the_client_id(db, write):
    record = {
        "request_id": "ours-1",
        "client_request_id": "theirs-1",
        "model_name": "iris-model",
        "version_number": 1,
        "inputs": [ROW],
        "outputs": ["setosa"],
        "rows": 1,
        "latency_ms": 1.0,
        "created_at": "2026-11-30T08:00:00+00:00",
    }
    without = {**record, "request_id": "ours-2", "client_request_id": None}
    assert write([record, without]) == 2
    assert Prediction.objects.get(request_id="ours-1").client_request_id == "theirs-1"
    assert Prediction.objects.get(request_id="ours-2").client_request_id == ""
