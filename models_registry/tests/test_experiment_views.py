"""Experiment pages: the form validates, actions are audited, the models list shows splits."""

from http import HTTPStatus

import pytest

from accounts.models import AuditAction, AuditEvent
from models_registry.experiments.models import Experiment, ExperimentStatus
from models_registry.models import Stage
from models_registry.tests.experiments import ab_experiment, two_versions


def _form(control, candidate, **overrides):
    data = {
        "name": "bigger C",
        "kind": "ab",
        "description": "",
        "arms-TOTAL_FORMS": "4",
        "arms-INITIAL_FORMS": "0",
        "arms-0-name": "control",
        "arms-0-version": control.pk,
        "arms-0-weight": "80",
        "arms-1-name": "candidate",
        "arms-1-version": candidate.pk,
        "arms-1-weight": "20",
        "shadow_name": "shadow",
        "shadow_version": "",
        "steps": "5, 25, 50, 100",
        "max_error_rate_delta": "2",
        "max_latency_ratio": "1.5",
        "min_requests": "100",
        "min_step_seconds": "300",
    }
    return {**data, **overrides}


@pytest.fixture
def versions(train):
    return two_versions(train)


def test_admin_creates_and_starts_an_experiment(client, admin_user, versions):
    client.force_login(admin_user)
    response = client.post("/models/iris-model/experiments/new/", _form(*versions))
    experiment = Experiment.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/models/iris-model/experiments/{experiment.pk}/"
    assert {a.name: (a.weight, a.is_control) for a in experiment.arms.all()} == {
        "control": (80, True),
        "candidate": (20, False),
    }
    client.post(f"/models/iris-model/experiments/{experiment.pk}/start/")
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.RUNNING
    assert experiment.started_by == admin_user
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.EXPERIMENT_CREATED, AuditAction.EXPERIMENT_STARTED} <= actions
    listing = client.get("/models/").content.decode()
    assert "80% → v1 (control), 20% → v2 (candidate)" in listing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arms-1-weight": "-1"}, "greater than or equal to 0"),
        ({"arms-0-weight": "0", "arms-1-weight": "0"}, "more than 0"),
        ({"arms-1-name": "control"}, "unique"),
        ({"arms-1-name": "not a slug"}, "Enter a valid"),
        ({"arms-1-version": "999999"}, "Select a valid choice"),
        ({"kind": "canary", "steps": "5, 50"}, "last step must be 100"),
        ({"kind": "canary", "steps": "50, 25, 100"}, "must increase"),
    ],
)
def test_the_create_form_refuses_bad_experiments(client, admin_user, versions, overrides, message):
    client.force_login(admin_user)
    response = client.post("/models/iris-model/experiments/new/", _form(*versions, **overrides))
    assert response.status_code == HTTPStatus.OK
    assert message in response.content.decode()
    assert not Experiment.objects.exists()


def test_a_version_of_another_model_is_refused(client, admin_user, versions, train):
    other = train(name="other-model")
    client.force_login(admin_user)
    response = client.post("/models/iris-model/experiments/new/", _form(versions[0], other))
    assert "Select a valid choice" in response.content.decode()
    assert not Experiment.objects.exists()


def test_weights_pin_stop_and_conclude_are_audited(client, admin_user, user, versions):
    experiment = ab_experiment(*versions)
    base = f"/models/iris-model/experiments/{experiment.pk}"
    client.force_login(admin_user)
    client.post(f"{base}/weights/", {"weight-control": "10", "weight-candidate": "90"})
    client.post(f"{base}/pin/", {"username": "user", "arm": "candidate"})
    client.post(f"{base}/stop/", {"reason": "enough data"})
    client.post(f"{base}/conclude/", {"winner": "candidate", "promote": "on"})
    experiment.refresh_from_db()
    assert (experiment.status, experiment.winner) == (ExperimentStatus.CONCLUDED, "candidate")
    assert experiment.stopped_by == admin_user
    assert versions[1].__class__.objects.get(pk=versions[1].pk).stage == Stage.PRODUCTION
    events = {e.action: e for e in AuditEvent.objects.all()}
    assert events[AuditAction.EXPERIMENT_WEIGHTS_CHANGED].details["weights"]["candidate"] == {
        "from": 50,
        "to": 90,
    }
    assert events[AuditAction.EXPERIMENT_USER_PINNED].details["user"] == "user"
    assert events[AuditAction.EXPERIMENT_STOPPED].details["reason"] == "enough data"
    assert events[AuditAction.EXPERIMENT_CONCLUDED].details["winner"] == "candidate"
    assert AuditAction.MODEL_PROMOTED in events


def test_a_refused_action_says_why(client, admin_user, versions):
    experiment = ab_experiment(*versions, start=False)
    ab_experiment(*versions)  # another one already runs on the model
    client.force_login(admin_user)
    response = client.post(f"/models/iris-model/experiments/{experiment.pk}/start/", follow=True)
    assert "already runs" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.DRAFT


def test_users_read_results_but_cannot_act(client, user, versions):
    experiment = ab_experiment(*versions)
    client.force_login(user)
    assert client.get(f"/models/iris-model/experiments/{experiment.pk}/").status_code == 200
    for action in ("start", "stop", "conclude", "weights", "pin"):
        response = client.post(f"/models/iris-model/experiments/{experiment.pk}/{action}/")
        assert response.status_code == HTTPStatus.FORBIDDEN, action
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.RUNNING


def test_experiments_api_lists_arms(client, user, user_token, versions):
    ab_experiment(*versions, shadow=versions[1])
    response = client.get(
        "/api/v1/models/iris-model/experiments", HTTP_AUTHORIZATION=f"Bearer {user_token}"
    )
    assert response.status_code == HTTPStatus.OK
    (experiment,) = response.json()
    assert experiment["status"] == "running"
    assert [(a["name"], a["version"], a["is_shadow"]) for a in experiment["arms"]] == [
        ("control", 1, False),
        ("candidate", 2, False),
        ("shadow", 2, True),
    ]
