"""The predict API under an experiment: arms, the X-Experiment-Group header, shadow copies."""

import json
import time
import uuid
from http import HTTPStatus

import pytest

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry.tests.experiments import ab_experiment, two_versions
from portal.celery import app as celery_app
from portal.tests.processes import celery_worker_args, child_env, running
from predictions.models import Prediction, PredictionStatus

ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
URL = "/api/v1/models/iris-model/predict"


@pytest.fixture
def call(client):
    def post(who, request_id=None, arm=None):
        _, token = make_token(who, scope=TokenScope.ALL)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if request_id:
            headers["HTTP_X_REQUEST_ID"] = request_id
        if arm is not None:
            headers["HTTP_X_EXPERIMENT_GROUP"] = arm
        return client.post(
            URL, data=json.dumps({"inputs": [ROW]}), content_type="application/json", **headers
        )

    return post


def test_predict_answers_with_the_users_arm_and_logs_it(train, user, call):
    control, candidate = two_versions(train)
    ab_experiment(control, candidate, weights=(0, 1))
    response = call(user, request_id="exp-1")
    assert response.status_code == HTTPStatus.OK, response.content
    assert (response.json()["arm"], response.json()["version"]) == ("candidate", 2)
    logged = Prediction.objects.get(request_id=response.json()["request_id"])
    assert (logged.arm, logged.version_id) == ("candidate", candidate.pk)


def test_admin_may_force_an_arm_a_user_may_not(train, user, admin_user, call, settings):
    control, candidate = two_versions(train)
    ab_experiment(control, candidate, weights=(1, 0))
    forced = call(admin_user, arm="candidate")
    assert forced.status_code == HTTPStatus.OK, forced.content
    assert (forced.json()["arm"], forced.json()["version"]) == ("candidate", 2)
    refused = call(user, arm="candidate")
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "X-Experiment-Group" in refused.json()["detail"]
    settings.EXPERIMENT_HEADER_OVERRIDE_FOR_ALL = True
    allowed = call(user, arm="candidate")
    assert allowed.status_code == HTTPStatus.OK
    assert allowed.json()["arm"] == "candidate"


def test_forcing_an_arm_that_does_not_exist_is_a_404(train, admin_user, call):
    control, candidate = two_versions(train)
    assert call(admin_user, arm="candidate").status_code == HTTPStatus.NOT_FOUND  # no experiment
    ab_experiment(control, candidate)
    response = call(admin_user, arm="nope")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "no arm 'nope'" in response.json()["detail"]


def test_shadow_never_changes_the_response_and_is_logged(
    train, user, call, django_capture_on_commit_callbacks
):
    control, candidate = two_versions(train)
    # A shadow version trained on another dataset: every copy fails its schema.
    broken = train(name="iris-model", dataset="wine")
    baseline = call(user, request_id="plain").json()
    with django_capture_on_commit_callbacks(execute=True):  # drops the cached "no experiment"
        ab_experiment(control, candidate, weights=(1, 0), shadow=broken)
    shadowed = call(user, request_id="shadowed")
    assert shadowed.status_code == HTTPStatus.OK
    body = shadowed.json()
    assert body["predictions"] == baseline["predictions"]
    assert body["probabilities"] == baseline["probabilities"]
    assert (body["version"], body["arm"]) == (1, "control")
    copy = Prediction.objects.get(request_id=f"{body['request_id']}:shadow:shadow")
    assert (copy.arm, copy.version_id, copy.status) == ("shadow", broken.pk, PredictionStatus.ERROR)
    assert "schema" in copy.error
    assert Prediction.objects.get(client_request_id="shadowed").status == PredictionStatus.OK


@pytest.fixture
def queue():
    """Publish for real (not eagerly) to a fresh queue: nothing consumes it before a worker."""
    name = f"shadow-{uuid.uuid4().hex[:8]}"
    saved = {key: celery_app.conf.get(key) for key in ("task_always_eager", "task_default_queue")}
    celery_app.conf.update(task_always_eager=False, task_default_queue=name)
    yield name
    celery_app.conf.update(saved)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_shadow_copies_run_off_the_request_path_on_a_worker(
    train, user, call, queue, settings, tmp_path
):
    control, candidate = two_versions(train)
    ab_experiment(control, candidate, weights=(1, 0), shadow=candidate)
    ids = []
    for _ in range(5):
        response = call(user)
        assert response.status_code == HTTPStatus.OK
        assert response.json()["version"] == 1
        ids.append(response.json()["request_id"])
    shadow_ids = [f"{request_id}:shadow:shadow" for request_id in ids]
    # Answered, and no shadow work has happened: it waits on the queue for a worker.
    assert not Prediction.objects.filter(request_id__in=shadow_ids).exists()
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Prediction.objects.filter(request_id__in=shadow_ids).count() == len(ids):
                break
            time.sleep(0.2)
    copies = Prediction.objects.filter(request_id__in=shadow_ids)
    assert copies.count() == len(ids), (tmp_path / "worker.log").read_text()[-3000:]
    assert {(c.arm, c.version_id, c.status) for c in copies} == {("shadow", candidate.pk, "ok")}
    assert {tuple(c.outputs) for c in copies} == {("setosa",)}
