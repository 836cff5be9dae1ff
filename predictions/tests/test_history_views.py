"""The history page and its CSV export: own rows only, viewers never see inputs."""

import csv
import io
from datetime import timedelta
from http import HTTPStatus

from django.utils import timezone

from predictions.models import Prediction

SECRET_INPUT = "sensitive-feature-value"


def _log(user, request_id, *, model="iris-model", minutes_ago=0):
    return Prediction.objects.create(
        request_id=request_id,
        user=user,
        model_name=model,
        version_number=1,
        inputs=[{"x": SECRET_INPUT}],
        outputs=["setosa"],
        rows=1,
        latency_ms=1.5,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_user_sees_own_rows_and_opens_one_to_its_inputs(client, user, admin_user):
    _log(user, "mine")
    _log(admin_user, "theirs")
    client.force_login(user)
    page = client.get("/history/").content.decode()
    assert "mine" in page
    assert "theirs" not in page
    assert SECRET_INPUT not in page  # inputs load when a row is opened
    assert 'hx-get="/history/mine/"' in page
    detail = client.get("/history/mine/", HTTP_HX_REQUEST="true").content.decode()
    assert SECRET_INPUT in detail
    assert "setosa" in detail
    assert "<html" not in detail


def test_nobody_opens_someone_elses_row(client, user, admin_user):
    _log(admin_user, "theirs")
    client.force_login(user)
    assert client.get("/history/theirs/").status_code == HTTPStatus.NOT_FOUND
    client.force_login(admin_user)
    assert client.get("/history/theirs/").status_code == HTTPStatus.OK


def test_admin_sees_everyone_and_filters_by_user(client, user, admin_user):
    _log(user, "mine")
    _log(admin_user, "theirs")
    client.force_login(admin_user)
    assert "theirs" in client.get("/history/").content.decode()
    filtered = client.get("/history/", {"user": "user"}).content.decode()
    assert "mine" in filtered
    assert "theirs" not in filtered


def test_viewers_never_see_raw_inputs(client, viewer):
    _log(viewer, "viewer-row")
    client.force_login(viewer)
    page = client.get("/history/").content.decode()
    assert "viewer-row" in page
    detail = client.get("/history/viewer-row/").content.decode()
    assert "setosa" in detail
    assert SECRET_INPUT not in page + detail
    export = b"".join(client.get("/history/export.csv").streaming_content).decode()
    assert "viewer-row" in export
    assert SECRET_INPUT not in export


def test_load_more_pages_with_a_cursor(client, user):
    for i in range(55):
        _log(user, f"r{i:02d}", minutes_ago=i)
    client.force_login(user)
    first = client.get("/history/").content.decode()
    assert first.count('data-testid="history-row"') == 50
    next_url = first.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    more = client.get(next_url, HTTP_HX_REQUEST="true").content.decode()
    assert more.count('data-testid="history-row"') == 5
    assert "r54" in more
    assert "<html" not in more


def test_export_streams_the_filtered_set(client, user):
    _log(user, "a", model="m1")
    _log(user, "b", model="m2")
    client.force_login(user)
    response = client.get("/history/export.csv", {"model": "m1"})
    assert response.status_code == HTTPStatus.OK
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["request_id"] for r in rows] == ["a"]
    assert rows[0]["model"] == "m1"


def test_a_filter_that_does_not_parse_matches_nothing_and_says_why(client, user):
    _log(user, "a", model="m1")
    client.force_login(user)
    page = client.get("/history/", {"version": "two"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="filter-errors"' in page
    assert "version: Enter a whole number." in page
    assert 'data-testid="history-row"' not in page
    export = client.get("/history/export.csv", {"since": "yesterday"})
    assert export.status_code == HTTPStatus.BAD_REQUEST
    assert "since: Enter a valid date/time." in export.content.decode()
    assert client.get("/history/export.csv", {"model": "m1"}).status_code == HTTPStatus.OK
