"""Every URL by anonymous/viewer/user/admin → expected status, in one table.

A new URL without a row here fails `test_every_url_has_a_row`.
"""

from datetime import date
from http import HTTPStatus

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry.models import Experiment, MLModel, TrainingJob
from predictions.models import BatchJob, BatchJobStatus, Prediction

OK, FOUND = HTTPStatus.OK, HTTPStatus.FOUND
FORBIDDEN, NOT_FOUND = HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND
UNAUTHORIZED = HTTPStatus.UNAUTHORIZED
BAD_REQUEST = HTTPStatus.BAD_REQUEST
ROLES = ("anonymous", "viewer", "user", "admin")

# Third-party sites we do not own route by route; sampled below instead.
UNLISTED_PREFIXES = ("admin/",)


def row(anonymous, viewer, user, admin):
    return dict(zip(ROLES, (anonymous, viewer, user, admin), strict=True))


PAGE = row(FOUND, OK, OK, OK)  # any signed-in role
ADMIN_PAGE = row(FOUND, FORBIDDEN, FORBIDDEN, OK)
PUBLIC = row(OK, OK, OK, OK)
# Admin-only POST endpoints answer a plain (non-htmx) form post with a redirect.
ADMIN_POST = row(FOUND, FORBIDDEN, FORBIDDEN, FOUND)
GUEST_ONLY = row(OK, FOUND, FOUND, FOUND)  # allauth sends signed-in users on
REDIRECT = row(FOUND, FOUND, FOUND, FOUND)
API_READ = row(UNAUTHORIZED, OK, OK, OK)

# route pattern -> (method, concrete path template, expected statuses)
MATRIX = {
    "": ("GET", "/", PAGE),
    "tokens/": ("GET", "/tokens/", PAGE),
    # The target is the admin's token: everyone else gets 404, never someone else's token.
    "tokens/<int:pk>/revoke/": (
        "POST",
        "/tokens/{admin_token}/revoke/",
        row(FOUND, NOT_FOUND, NOT_FOUND, FOUND),
    ),
    "users/": ("GET", "/users/", ADMIN_PAGE),
    "users/<int:pk>/role/": ("POST", "/users/{viewer_id}/role/", ADMIN_POST),
    "users/<int:pk>/quota/": ("POST", "/users/{viewer_id}/quota/", ADMIN_POST),
    "audit/": ("GET", "/audit/", ADMIN_PAGE),
    "models/": ("GET", "/models/", PAGE),
    "history/": ("GET", "/history/", PAGE),
    "history/export.csv": ("GET", "/history/export.csv", PAGE),
    # The target is the user's prediction: the owner and admins see it, a viewer gets 404.
    "history/<str:request_id>/": (
        "GET",
        "/history/{user_prediction}/",
        row(FOUND, NOT_FOUND, OK, OK),
    ),
    # Batch jobs: the target is the admin's job, so only the admin (owner) finds it.
    "jobs/": ("GET", "/jobs/", PAGE),
    # Users may start jobs; without a file the form answers with its errors (200).
    "jobs/new/": ("POST", "/jobs/new/", row(FOUND, FORBIDDEN, OK, OK)),
    "jobs/<uuid:pk>/": ("GET", "/jobs/{admin_batch_job}/", row(FOUND, NOT_FOUND, NOT_FOUND, OK)),
    "jobs/<uuid:pk>/result.csv": (
        "GET",
        "/jobs/{admin_batch_job}/result.csv",
        row(FOUND, NOT_FOUND, NOT_FOUND, OK),
    ),
    "models/train/": ("GET", "/models/train/", ADMIN_PAGE),
    "models/jobs/<int:pk>/": ("GET", "/models/jobs/{job_id}/", ADMIN_PAGE),
    "models/<slug:name>/": ("GET", "/models/{model}/", PAGE),
    "monitoring/": ("GET", "/monitoring/", PAGE),
    "monitoring/system/": ("GET", "/monitoring/system/", PAGE),
    "monitoring/models/<slug:name>/drift/": ("GET", "/monitoring/models/{model}/drift/", PAGE),
    "monitoring/models/<slug:name>/performance/": (
        "GET",
        "/monitoring/models/{model}/performance/",
        PAGE,
    ),
    # The model has no version 1, so even the admin gets 404 after the permission check.
    "models/<slug:name>/versions/<int:version>/promote/": (
        "POST",
        "/models/{secret_model}/versions/1/promote/",
        row(FOUND, FORBIDDEN, FORBIDDEN, NOT_FOUND),
    ),
    "models/<slug:name>/rollback/": ("POST", "/models/{model}/rollback/", ADMIN_POST),
    # Users may predict; "open" has no production version, so the form says so (200).
    "models/<slug:name>/predict/": (
        "POST",
        "/models/{model}/predict/",
        row(FOUND, FORBIDDEN, OK, OK),
    ),
    "models/<slug:name>/access/": ("POST", "/models/{secret_model}/access/", ADMIN_POST),
    "models/<slug:name>/settings/": ("POST", "/models/{model}/settings/", ADMIN_POST),
    # Experiments: results are aggregates, readable by every role that may see the model;
    # creating and running them is for admins (manage_models).
    "experiments/": ("GET", "/experiments/", PAGE),
    "models/<slug:name>/experiments/": ("GET", "/models/{model}/experiments/", PAGE),
    "models/<slug:name>/experiments/new/": (
        "GET",
        "/models/{model}/experiments/new/",
        ADMIN_PAGE,
    ),
    "models/<slug:name>/experiments/<int:pk>/": (
        "GET",
        "/models/{model}/experiments/{experiment}/",
        PAGE,
    ),
    # The experiment has no arms, so the admin's start is refused with a message (redirect).
    "models/<slug:name>/experiments/<int:pk>/start/": (
        "POST",
        "/models/{model}/experiments/{experiment}/start/",
        ADMIN_POST,
    ),
    "models/<slug:name>/experiments/<int:pk>/stop/": (
        "POST",
        "/models/{model}/experiments/{experiment}/stop/",
        ADMIN_POST,
    ),
    "models/<slug:name>/experiments/<int:pk>/conclude/": (
        "POST",
        "/models/{model}/experiments/{experiment}/conclude/",
        ADMIN_POST,
    ),
    "models/<slug:name>/experiments/<int:pk>/weights/": (
        "POST",
        "/models/{model}/experiments/{experiment}/weights/",
        ADMIN_POST,
    ),
    "models/<slug:name>/experiments/<int:pk>/pin/": (
        "POST",
        "/models/{model}/experiments/{experiment}/pin/",
        ADMIN_POST,
    ),
    "api/v1/models/<name>/experiments": (
        "GET",
        "/api/v1/models/{model}/experiments",
        API_READ,
    ),
    "health": ("GET", "/health", PUBLIC),
    "readiness": ("GET", "/readiness", PUBLIC),
    # Public in the app; nginx keeps it off the internet (deploy/).
    "metrics": ("GET", "/metrics", PUBLIC),
    "api/v1/openapi.json": ("GET", "/api/v1/openapi.json", PUBLIC),
    "api/v1/docs": ("GET", "/api/v1/docs", PUBLIC),
    "api/v1/me": ("GET", "/api/v1/me", API_READ),
    "api/v1/models": ("GET", "/api/v1/models", API_READ),
    # Valid auth but no JSON body: viewers are refused first, others get 400.
    "api/v1/models/<name>/predict": (
        "POST",
        "/api/v1/models/{model}/predict",
        row(UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, BAD_REQUEST),
    ),
    "api/v1/predictions": ("GET", "/api/v1/predictions", API_READ),
    # A multipart post without the file: viewers are refused first, others get 400.
    "api/v1/models/<name>/jobs": (
        "POST",
        "/api/v1/models/{model}/jobs",
        row(UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, BAD_REQUEST),
    ),
    "api/v1/jobs/<job_id>": (
        "GET",
        "/api/v1/jobs/{admin_batch_job}",
        row(UNAUTHORIZED, NOT_FOUND, NOT_FOUND, OK),
    ),
    "api/v1/jobs/<job_id>/result": (
        "GET",
        "/api/v1/jobs/{admin_batch_job}/result",
        row(UNAUTHORIZED, NOT_FOUND, NOT_FOUND, OK),
    ),
    "api/v1/predictions/<request_id>/feedback": (
        "POST",
        "/api/v1/predictions/unknown/feedback",
        row(UNAUTHORIZED, FORBIDDEN, BAD_REQUEST, BAD_REQUEST),
    ),
    "api/v1/models/<name>": (
        "GET",
        "/api/v1/models/nothing-here",
        row(UNAUTHORIZED, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
    "api/v1/": ("GET", "/api/v1/", row(NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND)),
    # allauth
    "accounts/login/": ("GET", "/accounts/login/", GUEST_ONLY),
    "accounts/logout/": ("GET", "/accounts/logout/", row(FOUND, OK, OK, OK)),
    "accounts/inactive/": ("GET", "/accounts/inactive/", PUBLIC),
    # Signup is closed: allauth answers with its "sign up closed" page.
    "accounts/signup/": ("GET", "/accounts/signup/", row(OK, FOUND, FOUND, FOUND)),
    "accounts/reauthenticate/": ("GET", "/accounts/reauthenticate/", PAGE),
    "accounts/email/": ("GET", "/accounts/email/", PAGE),
    "accounts/confirm-email/": ("GET", "/accounts/confirm-email/", PUBLIC),
    "accounts/password/change/": ("GET", "/accounts/password/change/", PAGE),
    "accounts/password/set/": ("GET", "/accounts/password/set/", REDIRECT),
    "accounts/password/reset/": ("GET", "/accounts/password/reset/", PUBLIC),
    # Without a login in progress these pages send everyone on.
    "accounts/login/code/confirm/": ("GET", "/accounts/login/code/confirm/", REDIRECT),
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": (
        "GET",
        "/accounts/confirm-email/not-a-key/",
        PUBLIC,
    ),
    "accounts/password/reset/key/done/": ("GET", "/accounts/password/reset/key/done/", PUBLIC),
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": (
        "GET",
        "/accounts/password/reset/key/1-not-a-key/",
        PUBLIC,
    ),
    "accounts/password/reset/done/": ("GET", "/accounts/password/reset/done/", PUBLIC),
    "accounts/2fa/": ("GET", "/accounts/2fa/", PAGE),
    "accounts/2fa/authenticate/": (
        "GET",
        "/accounts/2fa/authenticate/",
        row(FOUND, FOUND, FOUND, FOUND),
    ),
    "accounts/2fa/reauthenticate/": ("GET", "/accounts/2fa/reauthenticate/", REDIRECT),
    # Activating TOTP first asks for the password again (reauthentication).
    "accounts/2fa/totp/activate/": ("GET", "/accounts/2fa/totp/activate/", REDIRECT),
    "accounts/2fa/totp/deactivate/": (
        "GET",
        "/accounts/2fa/totp/deactivate/",
        row(FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
    "accounts/2fa/recovery-codes/": (
        "GET",
        "/accounts/2fa/recovery-codes/",
        row(FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
    "accounts/2fa/recovery-codes/generate/": (
        "GET",
        "/accounts/2fa/recovery-codes/generate/",
        REDIRECT,
    ),
    "accounts/2fa/recovery-codes/download/": (
        "GET",
        "/accounts/2fa/recovery-codes/download/",
        row(FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
}

# More paths for routes above whose answer depends on the object.
EXTRA_PATHS = {
    # The user's own job (still queued): theirs and the admin's to see, nobody else's.
    "/jobs/{user_batch_job}/": row(FOUND, NOT_FOUND, OK, OK),
    "/jobs/{user_batch_job}/result.csv": row(FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    "/api/v1/jobs/{user_batch_job}": row(UNAUTHORIZED, NOT_FOUND, OK, OK),
    "/api/v1/jobs/{user_batch_job}/result": row(
        UNAUTHORIZED, NOT_FOUND, HTTPStatus.CONFLICT, HTTPStatus.CONFLICT
    ),
    # A restricted model is invisible (404) to every role without a grant.
    "/models/{secret_model}/": row(FOUND, NOT_FOUND, NOT_FOUND, OK),
    "/monitoring/models/{secret_model}/drift/": row(FOUND, NOT_FOUND, NOT_FOUND, OK),
    "/monitoring/models/{secret_model}/performance/": row(FOUND, NOT_FOUND, NOT_FOUND, OK),
    "/api/v1/models/{secret_model}": row(UNAUTHORIZED, NOT_FOUND, NOT_FOUND, OK),
    "/api/v1/models/{model}": API_READ,
    # Experiments of a restricted model are as invisible as the model ...
    "/models/{secret_model}/experiments/": row(FOUND, NOT_FOUND, NOT_FOUND, OK),
    "/models/{secret_model}/experiments/{secret_experiment}/": row(FOUND, NOT_FOUND, NOT_FOUND, OK),
    "/api/v1/models/{secret_model}/experiments": row(UNAUTHORIZED, NOT_FOUND, NOT_FOUND, OK),
    # ... and an experiment is found only under its own model's name (no id guessing).
    "/models/{model}/experiments/{secret_experiment}/": row(FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
}

# Django admin, sampled: only admins (staff) get in.
ADMIN_SITE = {
    "/admin/": row(FOUND, FOUND, FOUND, OK),
    "/admin/accounts/apitoken/": row(FOUND, FOUND, FOUND, OK),
    "/admin/accounts/auditevent/": row(FOUND, FOUND, FOUND, OK),
    "/admin/accounts/auditevent/add/": row(FOUND, FOUND, FOUND, FORBIDDEN),
    "/admin/models_registry/mlmodel/": row(FOUND, FOUND, FOUND, OK),
    "/admin/models_registry/modelversion/": row(FOUND, FOUND, FOUND, OK),
    "/admin/models_registry/trainingjob/": row(FOUND, FOUND, FOUND, OK),
}


def _routes(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def test_every_url_has_a_row():
    routes = {r for r in _routes(get_resolver()) if not r.startswith(UNLISTED_PREFIXES)}
    assert routes - MATRIX.keys() == set(), "new URLs need a row in MATRIX"
    assert MATRIX.keys() - routes == set(), "MATRIX lists URLs that no longer exist"


def _batch_jobs(role_users):
    """A finished job of the admin's (with its result stored) and a queued one of the user's."""
    model = MLModel.objects.create(name="batched", task_type="classification")
    version = model.versions.create(
        version=1,
        artifact="models/none.skops",
        artifact_sha256="0" * 64,
        artifact_size=0,
        estimator="logistic_regression",
        dataset_name="iris",
        dataset_fingerprint="0",
    )
    common = {"model": model, "version": version, "rows_total": 1, "quota_day": date.today()}
    admin_job = BatchJob.objects.create(
        owner=role_users["admin"],
        status=BatchJobStatus.SUCCEEDED,
        result_file=default_storage.save("batch/results/x.csv", ContentFile(b"prediction\n")),
        **common,
    )
    user_job = BatchJob.objects.create(owner=role_users["user"], **common)
    return {"admin_batch_job": admin_job.pk, "user_batch_job": user_job.pk}


@pytest.fixture
def world(role_users):
    admin_token, _ = make_token(role_users["admin"], scope=TokenScope.ALL)
    tokens = {
        "viewer": make_token(role_users["viewer"], scope=TokenScope.READ)[1],
        "user": make_token(role_users["user"], scope=TokenScope.ALL)[1],
        "admin": make_token(role_users["admin"], scope=TokenScope.ALL)[1],
    }
    job = TrainingJob.objects.create(model_name="m", dataset="iris", estimator="random_forest")
    open_model, _ = MLModel.objects.get_or_create(name="open", task_type="classification")
    secret_model, _ = MLModel.objects.get_or_create(
        name="secret", task_type="classification", restricted=True
    )
    experiment = Experiment.objects.create(model=open_model, name="open experiment")
    secret_experiment = Experiment.objects.create(model=secret_model, name="secret experiment")
    ids = {
        "admin_token": admin_token.pk,
        "viewer_id": role_users["viewer"].pk,
        "job_id": job.pk,
        "model": open_model.name,
        "secret_model": "secret",
        "experiment": experiment.pk,
        "secret_experiment": secret_experiment.pk,
    }
    ids.update(_batch_jobs(role_users))
    ids["user_prediction"] = Prediction.objects.create(
        request_id="user-prediction",
        user=role_users["user"],
        model_name="open",
        version_number=1,
        inputs=[{"x": 1}],
        outputs=["a"],
        rows=1,
        latency_ms=1.0,
        created_at=timezone.now(),
    ).request_id
    return {"users": role_users, "tokens": tokens, "ids": ids}


def _request(client, world, role, method, path):
    headers = {}
    if role != "anonymous":
        client.force_login(world["users"][role])
        if path.startswith("/api/"):
            headers["HTTP_AUTHORIZATION"] = f"Bearer {world['tokens'][role]}"
    return getattr(client, method.lower())(path, **headers)


@pytest.mark.parametrize("route", sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_access(client, world, route, role):
    method, template, expected = MATRIX[route]
    path = template.format(**world["ids"])
    response = _request(client, world, role, method, path)
    assert response.status_code == expected[role], f"{role} {method} {path}"


@pytest.mark.parametrize("template", sorted(EXTRA_PATHS))
@pytest.mark.parametrize("role", ROLES)
def test_object_dependent_access(client, world, template, role):
    path = template.format(**world["ids"])
    response = _request(client, world, role, "GET", path)
    assert response.status_code == EXTRA_PATHS[template][role], f"{role} GET {path}"


@pytest.mark.parametrize("path", sorted(ADMIN_SITE))
@pytest.mark.parametrize("role", ROLES)
def test_admin_site_access(client, world, path, role):
    response = _request(client, world, role, "GET", path)
    assert response.status_code == ADMIN_SITE[path][role], f"{role} GET {path}"
