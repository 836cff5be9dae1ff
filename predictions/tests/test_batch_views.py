"""Batch job pages: the upload form, the jobs list (own or everyone's), progress, download."""

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from accounts.tests.factories import UserFactory
from models_registry import services as registry
from predictions.models import BatchJob, BatchJobStatus

CSV = (
    b"sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n"
    b"5.1,3.5,1.4,0.2\n"
    b"6.3,3.3,oops,2.5\n"
)


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


def _submit(client, content=CSV, model="iris-model"):
    return client.post(
        "/jobs/new/",
        {"model": model, "file": SimpleUploadedFile("flowers.csv", content, "text/csv")},
    )


def test_a_user_uploads_a_csv_and_downloads_the_result(served, client, user):
    client.force_login(user)
    page = client.get("/jobs/?model=iris-model")
    assert page.status_code == HTTPStatus.OK
    assert b'data-testid="job-form"' in page.content
    assert b'href="/jobs/"' in page.content  # in the navigation
    response = _submit(client)
    job = BatchJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/jobs/{job.pk}/"
    detail = client.get(response["Location"])
    assert detail.status_code == HTTPStatus.OK
    assert b'data-status="succeeded"' in detail.content
    assert b"petal_length_(cm)" in detail.content
    assert b"Expected a number" in detail.content
    assert b"hx-get" not in detail.content  # finished: no more polling
    download = client.get(f"/jobs/{job.pk}/result.csv")
    assert download.status_code == HTTPStatus.OK
    assert download["Content-Disposition"].startswith('attachment; filename="iris-model-job-')
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[1].startswith("5.1,3.5,1.4,0.2,setosa,")
    assert lines[2].endswith("petal_length_(cm): Expected a number")
    listing = client.get("/jobs/")
    assert b"flowers.csv" in listing.content
    assert b"result.csv" in listing.content


def test_a_bad_file_is_shown_on_the_form(served, client, user):
    client.force_login(user)
    response = _submit(client, content=b"a,b\n1,2\n")
    assert response.status_code == HTTPStatus.OK
    assert b"unknown column(s): a, b" in response.content
    assert not BatchJob.objects.exists()


def test_the_form_offers_only_models_in_production(served, client, user, train):
    train(name="staging-only")
    client.force_login(user)
    content = client.get("/jobs/").content
    assert b'<option value="iris-model"' in content
    assert b"staging-only" not in content
    assert _submit(client, model="staging-only").status_code == HTTPStatus.OK
    assert not BatchJob.objects.exists()


def test_an_unfinished_job_polls_its_status_partial(served, client, user):
    job = BatchJob.objects.create(
        owner=user,
        model=served.model,
        version=served,
        rows_total=4,
        rows_done=1,
        status=BatchJobStatus.RUNNING,
        input_file="batch/inputs/x.csv",
        quota_day="2026-01-01",
    )
    client.force_login(user)
    page = client.get(f"/jobs/{job.pk}/")
    assert f'hx-get="/jobs/{job.pk}/"'.encode() in page.content
    partial = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true")
    assert partial.content.lstrip().startswith(b'<section class="card" id="job-status"')
    assert b'value="25"' in partial.content
    assert client.get(f"/jobs/{job.pk}/result.csv").status_code == HTTPStatus.NOT_FOUND
    assert b'hx-trigger="every 2s"' in client.get("/jobs/").content  # the list polls too


def test_users_see_their_own_jobs_and_admins_everyones(served, client, user, admin_user):
    other = UserFactory(username="other", role=Role.USER)
    for owner in (user, other):
        BatchJob.objects.create(
            owner=owner,
            model=served.model,
            version=served,
            rows_total=1,
            input_file="batch/inputs/x.csv",
            input_name=f"{owner.username}-rows.csv",
            quota_day="2026-01-01",
        )
    client.force_login(user)
    content = client.get("/jobs/").content
    assert b"user-rows.csv" in content
    assert b"other-rows.csv" not in content
    other_job = BatchJob.objects.get(owner=other)
    assert client.get(f"/jobs/{other_job.pk}/").status_code == HTTPStatus.NOT_FOUND
    client.force_login(admin_user)
    content = client.get("/jobs/").content
    assert b"user-rows.csv" in content
    assert b"other-rows.csv" in content


def test_viewers_get_no_form_and_may_not_post(served, client, viewer):
    client.force_login(viewer)
    assert b"job-form" not in client.get("/jobs/").content
    assert _submit(client).status_code == HTTPStatus.FORBIDDEN
    assert not BatchJob.objects.exists()
