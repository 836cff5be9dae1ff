"""POST /api/v1/models/{name}/predict: results, validation (never a 500), access, quota."""

import json
from http import HTTPStatus

import pytest
from guardian.shortcuts import assign_perm
from prometheus_client.parser import text_string_to_metric_families

from accounts import services as account_services
from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from models_registry.models import MLModel
from predictions.models import Prediction
from predictions.validation import RANGE_KINDS

ROW = {
    "sepal_length_(cm)": 5.1,
    "sepal_width_(cm)": 3.5,
    "petal_length_(cm)": 1.4,
    "petal_width_(cm)": 0.2,
}
URL = "/api/v1/models/iris-model/predict"


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


@pytest.fixture
def call(client, user):
    _, plaintext = make_token(user, scope=TokenScope.PREDICT)

    def post(body, url=URL, token=plaintext, raw=None, **headers):
        return client.post(
            url,
            data=raw if raw is not None else json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            **headers,
        )

    return post


def test_predicts_with_probabilities_and_logs_once(served, call):
    response = call(
        {"inputs": [ROW, {**ROW, "petal_length_(cm)": 5.5, "petal_width_(cm)": 2.1}]},
        HTTP_X_REQUEST_ID="req-1",
    )
    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert body["model"] == "iris-model"
    assert (body["version"], body["arm"]) == (1, None)
    assert response["X-Request-ID"] == "req-1"
    assert body["predictions"] == ["setosa", "virginica"]
    assert len(body["probabilities"]) == 2
    assert sum(body["probabilities"][0]) == pytest.approx(1, abs=1e-4)
    assert response["X-Quota-Remaining"] == str(int(response["X-Quota-Limit"]) - 2)
    logged = Prediction.objects.get(request_id=body["request_id"])  # eager: written inline
    assert logged.client_request_id == "req-1"
    assert (logged.rows, logged.outputs, logged.version_number) == (2, body["predictions"], 1)


def test_regression_has_no_probabilities(train, call):
    registry.version_promote(
        version=train(name="diabetes", dataset="diabetes", estimator="linear_regression")
    )
    schema = MLModel.objects.get(name="diabetes").production_version.input_schema
    row = {f["name"]: (f["min"] + f["max"]) / 2 for f in schema}
    body = call({"inputs": [row]}, url="/api/v1/models/diabetes/predict").json()
    assert body["probabilities"] is None
    assert isinstance(body["predictions"][0], float)


@pytest.mark.parametrize(
    ("row", "field", "kind"),
    [
        ({k: v for k, v in ROW.items() if k != "sepal_width_(cm)"}, "sepal_width_(cm)", "missing"),
        ({**ROW, "colour": "red"}, "colour", "extra_forbidden"),
        ({**ROW, "sepal_length_(cm)": "long"}, "sepal_length_(cm)", "number_type"),
        ({**ROW, "sepal_length_(cm)": True}, "sepal_length_(cm)", "number_type"),
        ({**ROW, "sepal_length_(cm)": 1e9}, "sepal_length_(cm)", "less_than_equal"),
        ({**ROW, "sepal_length_(cm)": -3}, "sepal_length_(cm)", "greater_than_equal"),
        ({**ROW, "sepal_length_(cm)": None}, "sepal_length_(cm)", "missing"),
    ],
)
def test_bad_rows_are_422_per_field_and_row(served, call, row, field, kind):
    if kind in RANGE_KINDS:  # ranges are refused only where the model says so
        served.model.enforce_input_ranges = True
        served.model.save()
    response = call({"inputs": [ROW, row]})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["detail"] == [
        {
            "loc": ["body", "inputs", 1, field],
            "msg": response.json()["detail"][0]["msg"],
            "type": kind,
        }
    ]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("{not json", HTTPStatus.BAD_REQUEST),
        ("", HTTPStatus.UNPROCESSABLE_ENTITY),
        ('{"inputs": []}', HTTPStatus.UNPROCESSABLE_ENTITY),
        ('{"inputs": "rows"}', HTTPStatus.UNPROCESSABLE_ENTITY),
        ('{"inputs": [1, 2]}', HTTPStatus.UNPROCESSABLE_ENTITY),
        ('{"rows": []}', HTTPStatus.UNPROCESSABLE_ENTITY),
        ("[]", HTTPStatus.UNPROCESSABLE_ENTITY),
    ],
)
def test_malformed_bodies_are_4xx_with_detail(served, call, raw, status):
    response = call(None, raw=raw)
    assert response.status_code == status
    assert "detail" in response.json()


def test_too_many_rows(served, call, settings):
    response = call({"inputs": [ROW] * 1001})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


def test_access_and_availability(served, call, client, viewer, user, train):
    _, viewer_token = make_token(viewer, scope=TokenScope.READ)
    assert call({"inputs": [ROW]}, token=viewer_token).status_code == HTTPStatus.FORBIDDEN
    assert call({"inputs": [ROW]}, url="/api/v1/models/nope/predict").status_code == (
        HTTPStatus.NOT_FOUND
    )
    train(name="unserved")
    unserved = call({"inputs": [ROW]}, url="/api/v1/models/unserved/predict")
    assert unserved.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert unserved.json() == {"detail": "Model unserved has no production version"}
    MLModel.objects.filter(name="iris-model").update(restricted=True)
    assert call({"inputs": [ROW]}).status_code == HTTPStatus.NOT_FOUND
    assign_perm("models_registry.use_mlmodel", user, MLModel.objects.get(name="iris-model"))
    assert call({"inputs": [ROW]}).status_code == HTTPStatus.OK


def test_quota_counts_rows(served, call, user):
    account_services.quota_set(user=user, prediction_rows_per_day=3)
    assert call({"inputs": [ROW, ROW]}).status_code == HTTPStatus.OK
    refused = call({"inputs": [ROW, ROW]})
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused["X-Quota-Remaining"] == "1"
    assert Prediction.objects.count() == 1


def test_promotion_takes_effect_on_the_next_request(
    served, call, train, django_capture_on_commit_callbacks
):
    assert call({"inputs": [ROW]}).json()["version"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        registry.version_promote(
            version=train(estimator="random_forest", params={"n_estimators": 5})
        )
    assert call({"inputs": [ROW]}).json()["version"] == 2


class _BrokenPredictor:
    def predict_rows(self, rows):
        raise ValueError("corrupt tree")


def test_a_model_failure_is_a_logged_500_and_refunds_the_quota(served, call, monkeypatch):
    # The one stand-in: an estimator that raises, as a corrupt or incompatible one would.
    monkeypatch.setattr("models_registry.serving.load_predictor", lambda v: _BrokenPredictor())
    response = call({"inputs": [ROW, ROW]}, HTTP_X_REQUEST_ID="req-broken")
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "failed" in response.json()["detail"]
    logged = Prediction.objects.get(client_request_id="req-broken")
    assert (logged.status, logged.outputs) == ("error", [])
    assert "corrupt tree" in logged.error
    monkeypatch.undo()
    after = call({"inputs": [ROW]})
    assert after.status_code == HTTPStatus.OK
    assert int(after["X-Quota-Remaining"]) == int(after["X-Quota-Limit"]) - 1


def test_restricting_a_model_takes_effect_on_the_next_request(served, call):
    assert call({"inputs": [ROW]}).status_code == HTTPStatus.OK  # "open" is cached now
    model = MLModel.objects.get(name="iris-model")
    model.restricted = True
    model.save()
    assert call({"inputs": [ROW]}).status_code == HTTPStatus.NOT_FOUND


def test_predictions_are_counted_and_timed(served, call, client):
    def sample(name, **labels):
        text = client.get("/metrics").content.decode()
        return next(
            (
                s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
            ),
            0,
        )

    labels = {"model": "iris-model", "version": "1"}
    before = sample("portal_predictions_total", **labels, arm="", status="ok")
    rows_before = sample("portal_prediction_rows_total", **labels)
    timed_before = sample("portal_prediction_latency_seconds_count", **labels)
    assert call({"inputs": [ROW, ROW, ROW]}).status_code == HTTPStatus.OK
    assert sample("portal_predictions_total", **labels, arm="", status="ok") == before + 1
    assert sample("portal_prediction_rows_total", **labels) == rows_before + 3
    assert sample("portal_prediction_latency_seconds_count", **labels) == timed_before + 1


def test_with_the_cache_down_predict_still_answers_and_counts(served, call, user, settings):
    from accounts.models import QuotaKind, QuotaUsage
    from accounts.quota_counters import counters_sync

    call({"inputs": [ROW]})  # warm: this process remembers token, limits and model
    counters_sync()  # as beat does every few seconds: the database's copy says 1
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # Redis gone: nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    response = call({"inputs": [ROW, ROW]})
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["predictions"] == ["setosa", "setosa"]
    usage = QuotaUsage.objects.get(user=user, kind=QuotaKind.PREDICTION_ROWS)
    assert usage.used == 3  # counting goes on in the database, from its copy
