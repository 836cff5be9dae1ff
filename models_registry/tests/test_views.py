"""Registry pages: list, detail with compare and schema, promote/rollback/access, training."""

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditAction, AuditEvent
from models_registry import services
from models_registry.models import MLModel, Stage, TrainingJob


@pytest.fixture
def two_versions(train):
    first = train()
    second = train(estimator="random_forest", params={"n_estimators": 5})
    services.version_promote(version=first)
    return first, second


def test_list_shows_production_and_traffic(client, viewer, two_versions):
    client.force_login(viewer)
    page = client.get("/models/").content.decode()
    assert "iris-model" in page
    assert "100% → v1" in page
    assert "Train a model" not in page  # viewers do not train


def test_detail_compares_two_versions_with_a_chart(client, user, two_versions):
    client.force_login(user)
    page = client.get("/models/iris-model/").content.decode()
    assert page.count('class="bar-a"') == 6  # one bar per classification metric
    assert "sepal_length_(cm)" in page  # the schema
    assert "Promote</button>" not in page  # users do not promote
    fragment = client.get("/models/iris-model/", {"a": 2, "b": 1}, HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content
    assert b"v2 (random_forest)" in fragment.content


def test_admin_promotes_and_rolls_back_from_the_page(client, admin_user, two_versions):
    first, second = two_versions
    client.force_login(admin_user)
    page = client.get("/models/iris-model/").content.decode()
    assert "/models/iris-model/versions/2/promote/" in page
    response = client.post("/models/iris-model/versions/2/promote/", follow=True)
    assert b"iris-model v2 is now in production." in response.content
    second.refresh_from_db()
    assert second.stage == Stage.PRODUCTION
    client.post("/models/iris-model/rollback/")
    assert MLModel.objects.get(name="iris-model").production_version == first
    events = AuditEvent.objects.filter(actor_id=admin_user.pk).values_list("action", flat=True)
    assert {AuditAction.MODEL_PROMOTED, AuditAction.MODEL_ROLLED_BACK} <= set(events)


def test_failed_promotion_says_why(client, admin_user, train):
    train()
    MLModel.objects.filter(name="iris-model").update(
        gates=[{"metric": "accuracy", "op": ">", "threshold": 2}]
    )
    failed = train()
    client.force_login(admin_user)
    response = client.post(f"/models/iris-model/versions/{failed.version}/promote/", follow=True)
    assert b"failed its gates" in response.content


def test_restricted_model_pages(client, user, viewer, admin_user, two_versions):
    MLModel.objects.filter(name="iris-model").update(restricted=True)
    client.force_login(user)
    assert client.get("/models/iris-model/").status_code == HTTPStatus.NOT_FOUND
    assert b"iris-model" not in client.get("/models/").content
    client.force_login(admin_user)
    client.post("/models/iris-model/access/", {"who": "user", "grant": "on"})
    client.post("/models/iris-model/access/", {"who": "viewer", "grant": "on"})
    client.post("/models/iris-model/access/", {"who": "viewer"})  # revoke again
    client.force_login(user)
    assert client.get("/models/iris-model/").status_code == HTTPStatus.OK
    client.force_login(viewer)
    assert client.get("/models/iris-model/").status_code == HTTPStatus.NOT_FOUND
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_ACCESS_GRANTED).count() == 3


def test_train_form_starts_a_job_and_shows_progress(
    client, admin_user, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/models/train/",
            {
                "model_name": "form-model",
                "dataset": "iris",
                "estimator": "random_forest",
                "params": "n_estimators=5\nmax_depth=3",
            },
        )
    job = TrainingJob.objects.get(model_name="form-model")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/models/jobs/{job.pk}/"
    page = client.get(f"/models/jobs/{job.pk}/").content.decode()
    assert 'data-status="succeeded"' in page
    assert '<progress max="100" value="100"' in page
    assert "hx-trigger" not in page.split('id="job-status"')[1].split(">")[0]  # stops polling


def test_running_job_polls(client, admin_user):
    job = TrainingJob.objects.create(model_name="m", dataset="iris", estimator="random_forest")
    client.force_login(admin_user)
    fragment = client.get(f"/models/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert "<html" not in fragment


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dataset": "csv"}, b"Upload a CSV file."),
        ({"params": "n_estimators"}, b"Parameters look like name=value"),
        ({"params": "depth=3"}, b"Unknown parameter"),
        ({"dataset": "csv", "csv_file": b"", "target_column": "y"}, b"empty"),
        (
            {"dataset": "csv", "csv_file": b"a,b\n1,2\n", "target_column": "zz"},
            b"is not in the CSV",
        ),
    ],
)
def test_train_form_errors(client, admin_user, data, message):
    client.force_login(admin_user)
    payload = {"model_name": "m", "dataset": "iris", "estimator": "random_forest", **data}
    if "csv_file" in payload:
        payload["csv_file"] = SimpleUploadedFile("data.csv", payload["csv_file"])
    response = client.post("/models/train/", payload)
    assert response.status_code == HTTPStatus.OK
    assert message in response.content
    assert not TrainingJob.objects.exists()


def test_admin_sets_gates_that_the_next_training_obeys(client, admin_user, train):
    train()
    client.force_login(admin_user)
    response = client.post(
        "/models/iris-model/settings/",
        {
            "description": "Flowers",
            "gates": "accuracy >= 1.5\nroc_auc > 0.5",
            "max_regression": "0.05",
        },
        follow=True,
    )
    assert b"Saved description, gates, max_regression" in response.content
    model = MLModel.objects.get(name="iris-model")
    assert model.gates == [
        {"metric": "accuracy", "op": ">=", "threshold": 1.5},
        {"metric": "roc_auc", "op": ">", "threshold": 0.5},
    ]
    assert train().stage == Stage.FAILED
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_SETTINGS_CHANGED).exists()


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ("accuracy => 1", b"Cannot read gate"),
        ("accuracy >= high", b"is not a number"),
        ("speed >= 1", b"Unknown metric"),
    ],
)
def test_bad_gates_are_refused(client, admin_user, train, gates, message):
    train()
    client.force_login(admin_user)
    response = client.post("/models/iris-model/settings/", {"gates": gates}, follow=True)
    assert message in response.content
    assert MLModel.objects.get(name="iris-model").gates == []


def test_django_admin_actions_promote_and_roll_back(client, admin_user, two_versions):
    first, second = two_versions
    client.force_login(admin_user)
    client.post(
        "/admin/models_registry/modelversion/",
        {"action": "promote", "_selected_action": [second.pk]},
    )
    second.refresh_from_db()
    assert second.stage == Stage.PRODUCTION
    client.post(
        "/admin/models_registry/mlmodel/",
        {"action": "rollback", "_selected_action": [first.model_id]},
    )
    first.refresh_from_db()
    assert first.stage == Stage.PRODUCTION


def test_django_admin_refuses_bad_gates(client, admin_user, two_versions):
    model = two_versions[0].model
    client.force_login(admin_user)
    response = client.post(
        f"/admin/models_registry/mlmodel/{model.pk}/change/",
        {
            "name": model.name,
            "task_type": model.task_type,
            "gates": '[{"metric": "speed"}]',
        },
    )
    assert b"Each gate needs metric, op and threshold" in response.content


def test_user_predicts_from_the_model_page_and_it_is_logged(client, user, two_versions):
    from predictions.models import Prediction

    client.force_login(user)
    page = client.get("/models/iris-model/").content.decode()
    assert 'data-testid="predict-form"' in page
    row = {
        "sepal_length_(cm)": "5.1",
        "sepal_width_(cm)": "3.5",
        "petal_length_(cm)": "1.4",
        "petal_width_(cm)": "0.2",
    }
    result = client.post("/models/iris-model/predict/", row, HTTP_HX_REQUEST="true")
    assert b'data-testid="prediction">setosa<' in result.content
    assert Prediction.objects.get().user == user
    bad = client.post(
        "/models/iris-model/predict/", {**row, "sepal_width_(cm)": "wide"}, HTTP_HX_REQUEST="true"
    )
    assert b"sepal_width_(cm): Expected a number" in bad.content


def test_viewers_get_no_predict_form(client, viewer, two_versions):
    client.force_login(viewer)
    assert b'data-testid="predict-form"' not in client.get("/models/iris-model/").content
    assert client.post("/models/iris-model/predict/").status_code == HTTPStatus.FORBIDDEN
