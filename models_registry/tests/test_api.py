"""GET /api/v1/models and /api/v1/models/{name}, filtered by role and guardian grants."""

from http import HTTPStatus

import pytest
from guardian.shortcuts import assign_perm

from accounts.models import TokenScope
from accounts.tests.factories import UserFactory, make_token
from models_registry import services
from models_registry.models import MLModel


@pytest.fixture
def models(train):
    services.version_promote(version=train(name="open-model"))
    train(name="secret-model")
    MLModel.objects.filter(name="secret-model").update(restricted=True)
    return MLModel.objects.get(name="open-model"), MLModel.objects.get(name="secret-model")


def _names(client, user):
    _, plaintext = make_token(user, scope=TokenScope.READ)
    response = client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == HTTPStatus.OK
    return [m["name"] for m in response.json()]


def _detail(client, user, name):
    _, plaintext = make_token(user, scope=TokenScope.READ)
    return client.get(f"/api/v1/models/{name}", HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def test_restricted_model_is_hidden_from_those_not_granted(
    client, models, admin_user, user, viewer
):
    assert _names(client, admin_user) == ["open-model", "secret-model"]
    assert _names(client, user) == ["open-model"]
    assert _names(client, viewer) == ["open-model"]
    assert _detail(client, user, "secret-model").status_code == HTTPStatus.NOT_FOUND


def test_grant_to_a_user_or_a_group(client, models, user, viewer):
    _, secret = models
    assign_perm("models_registry.use_mlmodel", user, secret)
    assert _names(client, user) == ["open-model", "secret-model"]
    assert _detail(client, user, "secret-model").status_code == HTTPStatus.OK
    team = UserFactory(username="teammate", role="viewer")
    assign_perm("models_registry.use_mlmodel", team.groups.get(), secret)
    assert "secret-model" in _names(client, viewer)  # viewer group was granted


def test_detail_has_versions_metrics_and_schema(client, models, user):
    body = _detail(client, user, "open-model").json()
    assert body["production_version"] == 1
    assert body["task_type"] == "classification"
    version = body["versions"][0]
    assert version["stage"] == "production"
    assert version["metrics"]["accuracy"] > 0.8
    assert version["input_schema"][0]["name"] == "sepal_length_(cm)"
    assert version["output_classes"] == ["setosa", "versicolor", "virginica"]


def test_unknown_model_is_404(client, db, user):
    response = _detail(client, user, "nope")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Not found"}
