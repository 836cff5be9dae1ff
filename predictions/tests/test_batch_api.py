"""Batch jobs API: JSON and CSV submissions, refused files, access, quota (jobs run eagerly)."""

import csv
import io
import json
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from guardian.shortcuts import assign_perm

from accounts.models import QuotaKind, Role, TokenScope, UserQuota
from accounts.quotas import quota_status
from accounts.tests.factories import UserFactory, make_token
from models_registry import services as registry
from models_registry.models import MLModel
from predictions.models import BatchJob, BatchJobStatus, Prediction

FEATURES = ["sepal_length_(cm)", "sepal_width_(cm)", "petal_length_(cm)", "petal_width_(cm)"]
SETOSA = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
VIRGINICA = {**SETOSA, "petal_length_(cm)": 5.5, "petal_width_(cm)": 2.1}
URL = "/api/v1/models/iris-model/jobs"


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


@pytest.fixture
def token(user):
    return make_token(user, scope=TokenScope.PREDICT)[1]


def csv_bytes(rows, header=FEATURES):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def upload(client, token, content, name="rows.csv", url=URL):
    return client.post(
        url,
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def post_json(client, token, body, url=URL):
    return client.post(
        url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def get(client, token, url):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_json_rows_job_runs_and_reports_bad_rows(served, client, user, token):
    rows = [
        SETOSA,
        {**SETOSA, "petal_width_(cm)": "wide"},
        VIRGINICA,
        {**SETOSA, "sepal_width_(cm)": None},
    ]
    response = post_json(client, token, {"rows": rows})
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    body = response.json()
    assert body["status"] == BatchJobStatus.QUEUED  # as submitted; eager tests then run it inline
    assert body["url"].endswith(f"/api/v1/jobs/{body['id']}")
    assert response["Location"] == body["url"]
    assert response["X-Quota-Remaining"] == str(int(response["X-Quota-Limit"]) - 4)

    job = get(client, token, body["url"]).json()
    assert job["status"] == "succeeded", job["error"]
    assert (job["rows_total"], job["rows_done"], job["rows_failed"]) == (4, 4, 2)
    assert job["progress"] == 100
    assert (job["model"], job["version"]) == ("iris-model", served.version)
    assert job["errors"] == [
        {"row": 2, "field": "petal_width_(cm)", "message": "Expected a number"},
        {"row": 4, "field": "sepal_width_(cm)", "message": "Value required"},
    ]
    assert job["duration_seconds"] >= 0
    result = get(client, token, job["result_url"])
    assert result.status_code == HTTPStatus.OK
    assert result["Content-Type"] == "text/csv"
    lines = list(csv.DictReader(io.StringIO(b"".join(result.streaming_content).decode())))
    assert [line["prediction"] for line in lines] == ["setosa", "", "virginica", ""]
    assert [bool(line["error"]) for line in lines] == [False, True, False, True]
    assert lines[1]["error"] == "petal_width_(cm): Expected a number"
    assert float(lines[0]["probability_setosa"]) > 0.5
    assert lines[1]["probability_setosa"] == ""
    # Bad rows are refunded: the day's usage counts only the two rows that were predicted.
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 2
    assert not Prediction.objects.exists()  # the job is the record, not the prediction log


def test_csv_upload_job_keeps_input_columns_in_their_order(served, client, token):
    header = list(reversed(FEATURES))
    content = csv_bytes([[SETOSA[f] for f in header], [VIRGINICA[f] for f in header]], header)
    body = upload(client, token, content, name="mine.csv").json()
    job = get(client, token, body["url"]).json()
    assert (job["status"], job["rows_failed"], job["input_name"]) == ("succeeded", 0, "mine.csv")
    text = b"".join(get(client, token, job["result_url"]).streaming_content).decode()
    header_line, first, second = text.splitlines()
    assert header_line.split(",") == [
        *header,
        "prediction",
        "probability_setosa",
        "probability_versicolor",
        "probability_virginica",
        "error",
    ]
    assert first.startswith("0.2,1.4,3.5,5.1,setosa,")
    assert second.split(",")[4] == "virginica"


def test_a_utf8_bom_and_blank_lines_are_fine(served, client, token):
    content = b"\xef\xbb\xbf" + csv_bytes([[5.1, 3.5, 1.4, 0.2], [], [6.3, 3.3, 6.0, 2.5]])
    response = upload(client, token, content)
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    job = BatchJob.objects.get(pk=response.json()["id"])
    assert (job.rows_total, job.rows_failed, job.status) == (2, 0, BatchJobStatus.SUCCEEDED)


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"", HTTPStatus.UNPROCESSABLE_ENTITY, "empty"),
        (",".join(FEATURES).encode() + b"\n", HTTPStatus.UNPROCESSABLE_ENTITY, "no data rows"),
        (
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00binary",
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "not a CSV",
        ),
        (
            csv_bytes([["5,1", "caf\xe9"]]).replace(b"caf", b"caf\xe9"),
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "UTF-8",
        ),
        (
            csv_bytes([[1, 2, 3]], header=FEATURES[:3]),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "missing column(s): petal_width_(cm)",
        ),
        (
            csv_bytes([[1, 2, 3, 4, 5]], header=[*FEATURES, "colour"]),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "unknown column(s): colour",
        ),
        (b'{"rows": [{"a": 1}]}', HTTPStatus.UNPROCESSABLE_ENTITY, "does not match the model"),
    ],
    ids=["empty", "header-only", "binary", "latin-1", "missing-column", "unknown-column", "json"],
)
def test_bad_files_are_refused_before_anything_is_taken(
    served, client, user, token, content, status, words
):
    response = upload(client, token, content)
    assert response.status_code == status, response.content
    assert words in response.json()["detail"]
    assert not BatchJob.objects.exists()
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 0


def test_too_large_and_too_long_files_are_refused(served, client, token, settings):
    settings.BATCH_MAX_UPLOAD_MB = 1
    big = csv_bytes([[5.1, 3.5, 1.4, 0.2]] * 70_000)  # ~1.1 MB
    response = upload(client, token, big)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "limit" in response.json()["detail"]
    settings.BATCH_MAX_ROWS = 3
    response = upload(client, token, csv_bytes([[5.1, 3.5, 1.4, 0.2]] * 4))
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "more than 3 rows" in response.json()["detail"]
    response = post_json(client, token, {"rows": [SETOSA] * 4})
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert upload(client, token, csv_bytes([[5.1, 3.5, 1.4, 0.2]] * 3)).status_code == 202
    assert BatchJob.objects.count() == 1


def test_size_limits_hold_for_every_way_in(served, client, token, settings):
    settings.BATCH_MAX_UPLOAD_MB = 1
    # Past the limit, but by less than the multipart allowance: the file's own size decides.
    just_over = csv_bytes([[5.1, 3.5, 1.4, 0.2]]) + b"5.1,3.5,1.4,0.2\n" * 66_000
    assert 2**20 < len(just_over) < 2**20 + 64 * 1024
    response = upload(client, token, just_over)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "the limit is 1 MB" in response.json()["detail"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # Django's cap on a request body it reads
    response = post_json(client, token, {"rows": [SETOSA] * 20})
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "upload the rows as a CSV file" in response.json()["detail"]
    assert not BatchJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"rows": []}', "application/json", HTTPStatus.UNPROCESSABLE_ENTITY),
        ('{"rows": [', "application/json", HTTPStatus.BAD_REQUEST),
        ('{"rows": [{"colour": 1}]}', "application/json", HTTPStatus.UNPROCESSABLE_ENTITY),
        ("5.1,3.5,1.4,0.2", "text/plain", HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    ],
)
def test_bad_json_bodies_are_refused(served, client, token, body, content_type, status):
    response = client.post(
        URL, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == status, response.content
    assert response.json()["detail"]
    assert not BatchJob.objects.exists()


def test_multipart_without_the_file_field_is_a_400(served, client, token):
    response = client.post(URL, {"other": "x"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "'file'" in response.json()["detail"]


def test_only_the_owner_or_an_admin_sees_a_job(served, client, token, admin_user):
    job_url = post_json(client, token, {"rows": [SETOSA]}).json()["url"]
    result_url = f"{job_url}/result"
    assert get(client, token, job_url).status_code == HTTPStatus.OK
    assert get(client, token, result_url).status_code == HTTPStatus.OK
    other = UserFactory(username="other", role=Role.USER)
    _, other_token = make_token(other, scope=TokenScope.ALL)
    for url in (job_url, result_url, job_url.replace(job_url[-36:], "0" * 8 + job_url[-28:])):
        response = get(client, other_token, url)
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert response.json() == {"detail": "Not found"}  # no hint that the job exists
    _, admin_token = make_token(admin_user, scope=TokenScope.READ)
    assert get(client, admin_token, job_url).json()["status"] == "succeeded"
    assert get(client, admin_token, result_url).status_code == HTTPStatus.OK


def test_a_read_token_may_follow_its_own_jobs(served, client, user, token):
    job_url = post_json(client, token, {"rows": [SETOSA]}).json()["url"]
    _, read_token = make_token(user, scope=TokenScope.READ, name="read")
    assert get(client, read_token, job_url).status_code == HTTPStatus.OK
    response = post_json(client, read_token, {"rows": [SETOSA]})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_viewers_may_not_start_jobs(served, client, viewer_token):
    response = post_json(client, viewer_token, {"rows": [SETOSA]})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "detail" in response.json()
    assert not BatchJob.objects.exists()


def test_result_of_an_unfinished_job_is_a_409(served, client, user, token):
    job = BatchJob.objects.create(
        owner=user,
        model=served.model,
        version=served,
        rows_total=1,
        input_file="batch/inputs/none.csv",
        quota_day="2026-01-01",
    )
    response = get(client, token, f"/api/v1/jobs/{job.pk}/result")
    assert response.status_code == HTTPStatus.CONFLICT
    assert "queued" in response.json()["detail"]
    assert get(client, token, f"/api/v1/jobs/{job.pk}").json()["result_url"] is None


def test_restricted_models_need_a_grant_and_a_production_version(served, client, user, token):
    MLModel.objects.filter(name="iris-model").update(restricted=True)
    response = post_json(client, token, {"rows": [SETOSA]})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assign_perm("models_registry.use_mlmodel", user, MLModel.objects.get(name="iris-model"))
    assert post_json(client, token, {"rows": [SETOSA]}).status_code == HTTPStatus.ACCEPTED
    MLModel.objects.create(name="idle", task_type="classification")
    response = post_json(client, token, {"rows": [SETOSA]}, url="/api/v1/models/idle/jobs")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "no production version" in response.json()["detail"]


def test_the_version_is_fixed_at_submission(served, client, token, train):
    job_url = post_json(client, token, {"rows": [SETOSA]}).json()["url"]
    newer = train(estimator="random_forest", params={"n_estimators": 3})
    registry.version_promote(version=newer)
    assert get(client, token, job_url).json()["version"] == served.version
    second_url = post_json(client, token, {"rows": [SETOSA]}).json()["url"]
    assert get(client, token, second_url).json()["version"] == newer.version


def test_rows_are_reserved_against_the_quota(served, client, user, token):
    UserQuota.objects.create(user=user, prediction_rows_per_day=5)
    rows = [SETOSA] * 3
    first = post_json(client, token, {"rows": rows})
    assert first.status_code == HTTPStatus.ACCEPTED
    assert first["X-Quota-Remaining"] == "2"
    refused = upload(client, token, csv_bytes([[5.1, 3.5, 1.4, 0.2]] * 3))
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["X-Quota-Limit"] == "5"
    assert refused["X-Quota-Remaining"] == "2"
    assert int(refused["Retry-After"]) > 0
    assert "quota" in refused.json()["detail"].lower()
    assert BatchJob.objects.count() == 1
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 3
