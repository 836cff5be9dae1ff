"""GET /api/v1/predictions and feedback: own rows only (admins: all), cursor pagination."""

import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from predictions.models import Feedback, Prediction


def _log(user, request_id, *, model="iris-model", version=1, minutes_ago=0, rows=1):
    return Prediction.objects.create(
        request_id=request_id,
        user=user,
        model_name=model,
        version_number=version,
        inputs=[{"x": 1}] * rows,
        outputs=["setosa"] * rows,
        rows=rows,
        latency_ms=1.0,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def api(client):
    def call(caller, path, method="get", body=None, scope=TokenScope.ALL, **params):
        _, token = make_token(caller, scope=scope)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if method == "post":
            return client.post(
                path, data=json.dumps(body), content_type="application/json", **headers
            )
        return client.get(path, params, **headers)

    return call


def test_users_see_their_own_history_admins_see_all(api, user, admin_user):
    _log(user, "mine")
    _log(admin_user, "theirs")
    assert [p["request_id"] for p in api(user, "/api/v1/predictions").json()["items"]] == ["mine"]
    assert api(user, "/api/v1/predictions", user="admin").json()["items"] == []
    everyone = api(admin_user, "/api/v1/predictions").json()["items"]
    assert {p["request_id"] for p in everyone} == {"mine", "theirs"}
    only_user = api(admin_user, "/api/v1/predictions", user="user").json()["items"]
    assert [p["request_id"] for p in only_user] == ["mine"]


def test_cursor_pages_through_everything_once(api, user):
    for i in range(7):
        _log(user, f"r{i}", minutes_ago=i)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api(user, "/api/v1/predictions", **params).json()
        seen += [p["request_id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"r{i}" for i in range(7)]
    bad = api(user, "/api/v1/predictions", cursor="not-a-cursor")
    assert bad.status_code == HTTPStatus.BAD_REQUEST


def test_filters(api, user):
    _log(user, "a", model="m1", version=1, minutes_ago=120)
    _log(user, "b", model="m1", version=2)
    _log(user, "c", model="m2", version=1)

    def ids(**filters):
        return [
            p["request_id"] for p in api(user, "/api/v1/predictions", **filters).json()["items"]
        ]

    assert ids(model="m1") == ["b", "a"]
    assert ids(model="m1", version=2) == ["b"]
    since = (timezone.now() - timedelta(minutes=60)).isoformat()
    assert sorted(ids(since=since)) == ["b", "c"]


def test_feedback_owner_only_and_one_label_per_row(api, user, admin_user, viewer):
    _log(user, "req", rows=2)
    url = "/api/v1/predictions/req/feedback"
    created = api(user, url, method="post", body={"labels": ["setosa", "virginica"]})
    assert created.status_code == HTTPStatus.CREATED
    assert Feedback.objects.get(prediction__request_id="req").labels == ["setosa", "virginica"]
    wrong = api(user, url, method="post", body={"labels": ["setosa"]})
    assert wrong.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    other = api(admin_user, url, method="post", body={"labels": ["a", "b"]})
    assert other.status_code == HTTPStatus.CREATED  # admins may correct anyone's
    _log(admin_user, "admins")
    stranger = api(
        user, "/api/v1/predictions/admins/feedback", method="post", body={"labels": ["x"]}
    )
    assert stranger.status_code == HTTPStatus.NOT_FOUND  # no hint that it exists
    viewer_try = api(viewer, url, method="post", body={"labels": ["a", "b"]}, scope=TokenScope.READ)
    assert viewer_try.status_code == HTTPStatus.FORBIDDEN
    assert api(user, "/api/v1/predictions").json()["items"][0]["feedback"] == ["a", "b"]


def test_dates_with_odd_offsets_or_out_of_range_are_never_a_500(api, user):
    _log(user, "a", model="m1", version=1)
    # An offset PostgreSQL cannot store is fine once the date is read in UTC.
    odd = api(user, "/api/v1/predictions", since="0697-08-07T21:22:09-16:33")
    assert odd.status_code == HTTPStatus.OK
    assert [p["request_id"] for p in odd.json()["items"]] == ["a"]
    assert api(user, "/api/v1/predictions", until="0697-08-07T21:22:09-16:33").json() == {
        "items": [],
        "next_cursor": None,
    }
    too_early = api(user, "/api/v1/predictions", since="0001-01-01T00:00:00+05:00")
    assert too_early.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
