"""Feedback labels fit the prediction: a class of its version, or a regressor's finite number."""

import json
from http import HTTPStatus

import pytest
from django.utils import timezone

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from predictions.models import Feedback, Prediction


@pytest.fixture
def post(client, user):
    _, token = make_token(user, scope=TokenScope.PREDICT)

    def call(request_id, labels, raw=None):
        return client.post(
            f"/api/v1/predictions/{request_id}/feedback",
            data=raw if raw is not None else json.dumps({"labels": labels}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return call


def logged(user, version, request_id, rows=2):
    """A logged prediction of `version`, as the log writer stores it."""
    return Prediction.objects.create(
        request_id=request_id,
        user=user,
        model=version.model,
        version=version,
        model_name=version.model.name,
        version_number=version.version,
        inputs=[{}] * rows,
        outputs=[version.output_classes[0] if version.output_classes else 1.0] * rows,
        rows=rows,
        latency_ms=1.0,
        created_at=timezone.now(),
    )


@pytest.fixture
def classifier(train, user):
    version = train()  # iris: setosa, versicolor, virginica
    return logged(user, version, "iris-req")


@pytest.fixture
def regressor(train, user):
    version = train(name="diabetes-model", dataset="diabetes", estimator="linear_regression")
    return logged(user, version, "diabetes-req")


def errors_of(response):
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    body = response.json()
    assert body["error_count"] == len(body["detail"])
    return {tuple(error["loc"]): error for error in body["detail"]}


def test_a_classifier_takes_its_classes_and_none(classifier, post):
    response = post("iris-req", ["virginica", None])
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert Feedback.objects.get().labels == ["virginica", None]


@pytest.mark.parametrize(
    ("label", "kind", "words"),
    [
        ("not-a-class", "enum", "setosa, versicolor, virginica"),
        ({"a": 1}, "type_error", "not an object or a list"),
        (["setosa"], "type_error", "not an object or a list"),
        (True, "bool_type", "not true or false"),
        (3, "enum", "classes"),
    ],
)
def test_a_classifier_refuses_what_is_not_one_of_its_classes(classifier, post, label, kind, words):
    errors = errors_of(post("iris-req", ["setosa", label]))
    assert list(errors) == [("body", "labels", 1)]
    assert errors["body", "labels", 1]["type"] == kind
    assert words in errors["body", "labels", 1]["msg"]
    assert not Feedback.objects.exists()


def test_classes_are_compared_as_text(train, user, post):
    version = train()
    version.output_classes = ["0", "1"]  # stored as strings; clients send numbers
    version.save()
    logged(user, version, "binary-req")
    assert post("binary-req", [1, 0]).status_code == HTTPStatus.CREATED
    assert Feedback.objects.get().labels == [1, 0]


def test_a_regressor_takes_finite_numbers_only(regressor, post):
    assert post("diabetes-req", [151.0, 75]).status_code == HTTPStatus.CREATED
    errors = errors_of(post("diabetes-req", ["151", True]))
    assert errors["body", "labels", 0]["type"] == "number_type"
    assert errors["body", "labels", 1]["type"] == "bool_type"
    assert Feedback.objects.get().labels == [151.0, 75]  # the refused word changed nothing


def test_non_finite_numbers_are_refused(regressor, post):
    # Python's JSON reader takes NaN and Infinity; PostgreSQL's JSON would not store them.
    errors = errors_of(post("diabetes-req", None, raw='{"labels": [NaN, Infinity]}'))
    assert {error["type"] for error in errors.values()} == {"finite_number"}
    assert len(errors) == 2


def test_one_label_per_row_is_a_field_level_error(classifier, post):
    errors = errors_of(post("iris-req", ["setosa"]))
    assert "one label per row" in errors["body", "labels"]["msg"]


def test_a_prediction_whose_version_is_gone_still_takes_plain_values(user, post):
    Prediction.objects.create(
        request_id="orphan",
        user=user,
        model_name="gone",
        version_number=1,
        inputs=[{}],
        outputs=["a"],
        rows=1,
        latency_ms=1.0,
        created_at=timezone.now(),
    )
    assert post("orphan", ["anything"]).status_code == HTTPStatus.CREATED
    assert errors_of(post("orphan", [{"a": 1}]))["body", "labels", 0]["type"] == "type_error"
