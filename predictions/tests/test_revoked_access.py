"""A revoked grant hides a restricted model's old predictions and jobs too: API and pages, 404."""

import json
from datetime import date
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry.models import MLModel
from predictions.models import BatchJob, BatchJobStatus, Prediction

USE = "models_registry.use_mlmodel"


def _served_model(name, *, restricted):
    model = MLModel.objects.create(name=name, task_type="classification", restricted=restricted)
    version = model.versions.create(
        version=1,
        stage="production",
        artifact="models/none.skops",
        artifact_sha256="0" * 64,
        artifact_size=0,
        estimator="logistic_regression",
        dataset_name="iris",
        dataset_fingerprint="0",
        output_classes=["a", "b"],
    )
    return model, version


def _history_of(user, model, version):
    Prediction.objects.create(
        request_id=f"{model.name}-req",
        user=user,
        model=model,
        version=version,
        model_name=model.name,
        version_number=1,
        inputs=[{"x": 1}],
        outputs=["a"],
        rows=1,
        latency_ms=1.0,
        created_at=timezone.now(),
    )
    result = default_storage.save(
        f"batch/results/{model.name}.csv", ContentFile(b"prediction\na\n")
    )
    return BatchJob.objects.create(
        owner=user,
        model=model,
        version=version,
        status=BatchJobStatus.SUCCEEDED,
        rows_total=1,
        rows_done=1,
        quota_day=date.today(),
        result_file=result,
    ).pk


@pytest.fixture
def world(user):
    """The user's prediction and finished job on a restricted model (granted) and an open one."""
    secret, secret_version = _served_model("secret", restricted=True)
    open_model, open_version = _served_model("open", restricted=False)
    assign_perm(USE, user, secret)
    return {
        "secret": secret,
        "secret_job": _history_of(user, secret, secret_version),
        "open_job": _history_of(user, open_model, open_version),
    }


@pytest.fixture
def api(client, user):
    _, token = make_token(user, scope=TokenScope.ALL)

    def call(path, body=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if body is not None:
            return client.post(path, json.dumps(body), "application/json", **headers)
        return client.get(path, **headers)

    return call


def api_statuses(api, job):
    return {
        "feedback": api("/api/v1/predictions/secret-req/feedback", {"labels": ["b"]}).status_code,
        "job": api(f"/api/v1/jobs/{job}").status_code,
        "result": api(f"/api/v1/jobs/{job}/result").status_code,
    }


def page_statuses(client, job):
    return {
        "detail": client.get("/history/secret-req/").status_code,
        "job": client.get(f"/jobs/{job}/").status_code,
        "result": client.get(f"/jobs/{job}/result.csv").status_code,
    }


def listed(api, client):
    """Request ids in the API history, the history page and export, and models in the jobs page."""
    items = api("/api/v1/predictions").json()["items"]
    return {
        "api": sorted(item["request_id"] for item in items),
        "page": "secret-req" in client.get("/history/").content.decode(),
        "export": "secret-req" in client.get("/history/export.csv").getvalue().decode(),
        "jobs": "secret" in client.get("/jobs/").content.decode(),
    }


def test_a_revoked_grant_hides_the_models_old_predictions_and_jobs(world, api, client, user):
    client.force_login(user)
    job = world["secret_job"]
    assert api_statuses(api, job) == {
        "feedback": HTTPStatus.CREATED,
        "job": HTTPStatus.OK,
        "result": HTTPStatus.OK,
    }
    assert page_statuses(client, job) == {"detail": 200, "job": 200, "result": 200}
    assert listed(api, client) == {
        "api": ["open-req", "secret-req"],
        "page": True,
        "export": True,
        "jobs": True,
    }

    remove_perm(USE, user, world["secret"])

    assert set(api_statuses(api, job).values()) == {HTTPStatus.NOT_FOUND}
    assert set(page_statuses(client, job).values()) == {HTTPStatus.NOT_FOUND}
    assert listed(api, client) == {
        "api": ["open-req"],
        "page": False,
        "export": False,
        "jobs": False,
    }
    # The open model's rows are untouched.
    assert api(f"/api/v1/jobs/{world['open_job']}/result").status_code == HTTPStatus.OK


def test_leaving_the_granted_group_hides_them_too(world, api, user):
    remove_perm(USE, user, world["secret"])
    team = Group.objects.create(name="secret-team")
    assign_perm(USE, team, world["secret"])
    user.groups.add(team)
    assert api(f"/api/v1/jobs/{world['secret_job']}").status_code == HTTPStatus.OK
    user.groups.remove(team)
    assert api(f"/api/v1/jobs/{world['secret_job']}").status_code == HTTPStatus.NOT_FOUND


def test_admins_still_see_everything(world, client, admin_user):
    _, token = make_token(admin_user, scope=TokenScope.ALL)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    items = client.get("/api/v1/predictions", **headers).json()["items"]
    assert {item["request_id"] for item in items} == {"open-req", "secret-req"}
    assert client.get(f"/api/v1/jobs/{world['secret_job']}", **headers).status_code == 200


def _where(queryset):
    return str(queryset.query).partition(" WHERE ")[2]


def test_history_queries_gain_no_condition_when_nothing_is_hidden(world, user):
    # The history page's plan at 11M rows stays the same for everyone with every grant.
    assert "model_id" not in _where(Prediction.objects.for_user(user))
    assert "model_id" not in _where(BatchJob.objects.for_user(user))
    remove_perm(USE, user, world["secret"])
    assert f'"model_id" IN ({world["secret"].pk})' in _where(Prediction.objects.for_user(user))
