"""Input ranges: served and flagged by default, refused only when the model enforces them."""

import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from models_registry.models import MLModel
from monitoring.drift import window, window_orm
from monitoring.models import FeatureDrift, TrafficMinute
from monitoring.services import drift_check
from predictions.models import BatchJob, Prediction

URL = "/api/v1/models/iris-model/predict"
FEATURE = "sepal_length_(cm)"
ROW = {FEATURE: 5.1, "sepal_width_(cm)": 3.5, "petal_length_(cm)": 1.4, "petal_width_(cm)": 0.2}
# Iris' sepal length spans 4.3-7.9 cm in training; the schema widens that by half: 2.5-9.7.
SHRUNKEN = {**ROW, FEATURE: 1.5}


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


@pytest.fixture
def call(client, user):
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)

    def post(rows):
        return client.post(
            URL,
            data=json.dumps({"inputs": rows}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {plaintext}",
        )

    return post


def _counted(version):
    labels = {"model": "iris-model", "version": str(version.version), "feature": FEATURE}
    return REGISTRY.get_sample_value("portal_prediction_out_of_range_total", labels) or 0


def test_an_out_of_range_value_is_served_flagged_and_counted(served, call):
    before = _counted(served)
    response = call([SHRUNKEN, ROW, {**SHRUNKEN, "petal_width_(cm)": 40.0}])
    assert response.status_code == HTTPStatus.OK, response.content
    assert len(response.json()["predictions"]) == 3

    logged = Prediction.objects.get(request_id=response.json()["request_id"])
    assert logged.out_of_range == {FEATURE: 2, "petal_width_(cm)": 1}
    assert logged.out_of_range_rows == 2
    assert _counted(served) - before == 2
    minute = TrafficMinute.objects.get(model_name="iris-model")
    assert (minute.rows, minute.out_of_range_rows) == (3, 2)


def test_history_shows_what_was_served_out_of_range(served, call, client, user):
    request_id = call([SHRUNKEN]).json()["request_id"]
    _, plaintext = make_token(user, scope=TokenScope.READ)
    listed = client.get("/api/v1/predictions", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert listed.json()["items"][0]["out_of_range"] == {FEATURE: 1}
    client.force_login(user)
    detail = client.get(f"/history/{request_id}/", HTTP_HX_REQUEST="true")
    assert b"sepal_length_(cm) (1 row)" in detail.content


def test_in_range_traffic_is_not_flagged(served, call):
    response = call([ROW])
    logged = Prediction.objects.get(request_id=response.json()["request_id"])
    assert (logged.out_of_range, logged.out_of_range_rows) == (None, 0)


def test_types_and_unknown_features_stay_strict(served, call):
    response = call([{**ROW, FEATURE: "long"}, {**ROW, "colour": "red"}])
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    kinds = {(e["loc"][2], e["type"]) for e in response.json()["detail"]}
    assert kinds == {(0, "number_type"), (1, "extra_forbidden")}


def test_a_model_that_enforces_ranges_refuses_them(served, call, client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        f"/models/{served.model.name}/settings/",
        {"description": "", "gates": "", "enforce_input_ranges": "on"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert MLModel.objects.get(name="iris-model").enforce_input_ranges
    client.logout()

    response = call([ROW, SHRUNKEN])
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert [(e["loc"][2:], e["type"]) for e in response.json()["detail"]] == [
        ([1, FEATURE], "greater_than_equal")
    ]
    assert not Prediction.objects.exists()  # refused before anything was predicted


def test_drift_report_and_pages_show_the_out_of_range_rows(served, call, client, viewer):
    for _ in range(3):
        assert call([SHRUNKEN, ROW]).status_code == HTTPStatus.OK
    _, report = drift_check(version=served)
    by_feature = {f.feature: f.out_of_range for f in FeatureDrift.objects.filter(report=report)}
    assert by_feature[FEATURE] == 3
    assert by_feature["petal_width_(cm)"] == 0

    client.force_login(viewer)
    drift = client.get(f"/monitoring/models/{served.model.name}/drift/")
    assert drift.status_code == HTTPStatus.OK
    assert b'data-testid="out-of-range" class="drift-warn">3<' in drift.content
    overview = client.get("/monitoring/")
    assert b'title="3 of 6 rows">50%<' in overview.content


def test_the_demo_database_twin_counts_the_same(served, call):
    for rows in ([SHRUNKEN], [SHRUNKEN, SHRUNKEN, ROW], [ROW]):
        assert call(rows).status_code == HTTPStatus.OK
    now = timezone.now()
    start, end = now - timedelta(hours=1), now + timedelta(minutes=1)
    assert connection.vendor == "postgresql"
    assert window.out_of_range_rows(served, start, end) == {FEATURE: 3}
    assert window_orm.out_of_range_rows(served, start, end) == {FEATURE: 3}


def _batch(client, user, text):
    """Run a batch job on the CSV `text` (eagerly, as tests run tasks)."""
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)
    response = client.post(
        "/api/v1/models/iris-model/jobs",
        {"file": SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")},
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
    )
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    return BatchJob.objects.get(pk=response.json()["id"])  # eager: already run


BATCH = (
    "sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n"
    "5.1,3.5,1.4,0.2\n"
    "1.5,3.5,1.4,0.2\n"
    "1.5,3.5,1.4,40\n"
)


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "row-by-row"])
def test_batch_jobs_serve_out_of_range_rows_and_count_them(served, client, user, quoted):
    text = BATCH if not quoted else BATCH.replace("5.1,3.5", '"5.1",3.5', 1)
    before = _counted(served)
    job = _batch(client, user, text)
    assert (job.status, job.rows_done, job.rows_failed) == ("succeeded", 3, 0)
    assert _counted(served) - before == 2


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "row-by-row"])
def test_batch_jobs_of_a_model_enforcing_ranges_refuse_those_rows(served, client, user, quoted):
    served.model.enforce_input_ranges = True
    served.model.save()
    text = BATCH if not quoted else BATCH.replace("5.1,3.5", '"5.1",3.5', 1)
    job = _batch(client, user, text)
    assert (job.status, job.rows_done, job.rows_failed) == ("succeeded", 3, 2)
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (2, FEATURE),
        (3, FEATURE),
        (3, "petal_width_(cm)"),
    ]
