"""Live performance from feedback: scikit-learn's metrics, and an alert past the margin."""

import json
from datetime import timedelta
from http import HTTPStatus

import numpy as np
import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from sklearn import metrics as sk

from accounts.models import AuditAction, AuditEvent, TokenScope
from accounts.tests.factories import make_token
from models_registry.models import MLModel, ModelVersion
from monitoring.models import MonitoringSettings, PerformanceCheck, PerformanceDay
from monitoring.performance import live_metrics, performance_check, positive_class
from predictions.models import Feedback, Prediction

pytestmark = pytest.mark.django_db
RNG = np.random.default_rng(5)


def _version(task_type="classification", classes=("big", "small"), metrics=None, name="m"):
    model = MLModel.objects.create(name=name, task_type=task_type)
    return model.versions.create(
        version=1,
        stage="production",
        artifact="models/none.skops",
        artifact_sha256="0" * 64,
        artifact_size=0,
        estimator="logistic_regression",
        dataset_name="csv",
        dataset_fingerprint="0",
        output_classes=list(classes),
        metrics=metrics or {},
    )


@pytest.fixture
def label(client, user, django_capture_on_commit_callbacks):
    def run(version, **rows):
        # Feedback asks for its recount on commit; a test's transaction never commits.
        with django_capture_on_commit_callbacks(execute=True):
            _log_and_label(client, user, version, **rows)

    return run


def _log_and_label(client, user, version, *, truths, predicted, scores=None, arm=""):
    """Log one prediction per row and post its true label through the feedback API."""
    _, token = make_token(user, scope=TokenScope.PREDICT)
    for i, (truth, guess) in enumerate(zip(truths, predicted, strict=True)):
        prediction, _ = Prediction.objects.get_or_create(
            request_id=f"{version.model.name}-{arm}-{i}",
            defaults=dict(
                user=user,
                model=version.model,
                version=version,
                model_name=version.model.name,
                version_number=version.version,
                arm=arm,
                inputs=[{"x": i}],
                outputs=[guess],
                probabilities=[[1 - scores[i], scores[i]]] if scores is not None else None,
                rows=1,
                latency_ms=1.0,
                created_at=timezone.now() - timedelta(hours=1),
            ),
        )
        response = client.post(
            f"/api/v1/predictions/{prediction.request_id}/feedback",
            data=json.dumps({"labels": [truth]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == HTTPStatus.CREATED, response.content


def _days(version):
    return PerformanceDay.objects.filter(model_name=version.model.name)


def test_classification_metrics_match_scikit_learn(label):
    version = _version()
    truths = RNG.choice(["big", "small"], 200).tolist()
    scores = RNG.random(200)
    predicted = ["small" if s > 0.5 else "big" for s in scores]
    label(version, truths=truths, predicted=predicted, scores=scores)
    live = live_metrics(_days(version), regression=False, positive=positive_class(version))
    assert live["labelled"] == 200
    assert live["accuracy"] == pytest.approx(sk.accuracy_score(truths, predicted))
    for name, score in (("precision", sk.precision_score), ("recall", sk.recall_score)):
        assert live[name] == pytest.approx(score(truths, predicted, pos_label="small"))
    assert live["f1"] == pytest.approx(sk.f1_score(truths, predicted, pos_label="small"))
    # Scores are counted in 50 bins: AUC is exact up to ties inside a bin.
    truth_positive = [t == "small" for t in truths]
    assert live["roc_auc"] == pytest.approx(sk.roc_auc_score(truth_positive, scores), abs=0.01)


def test_multiclass_metrics_are_macro_averages(label):
    version = _version(classes=("a", "b", "c"), name="three")
    truths = RNG.choice(["a", "b", "c"], 120).tolist()
    predicted = [t if RNG.random() < 0.7 else RNG.choice(["a", "b", "c"]) for t in truths]
    label(version, truths=truths, predicted=predicted)
    live = live_metrics(_days(version), regression=False, positive=positive_class(version))
    assert live["accuracy"] == pytest.approx(sk.accuracy_score(truths, predicted))
    assert live["f1"] == pytest.approx(sk.f1_score(truths, predicted, average="macro"))
    assert "roc_auc" not in live


def test_regression_metrics_match_scikit_learn(label):
    version = _version(task_type="regression", classes=(), name="price")
    truths = RNG.normal(100, 20, 80).round(2).tolist()
    predicted = [t + e for t, e in zip(truths, RNG.normal(0, 5, 80).round(2), strict=True)]
    label(version, truths=truths, predicted=predicted)
    live = live_metrics(_days(version), regression=True)
    assert live["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(truths, predicted)))
    assert live["mae"] == pytest.approx(sk.mean_absolute_error(truths, predicted))


def test_a_changed_label_is_counted_anew_not_twice(label):
    version = _version()
    label(version, truths=["big"], predicted=["big"])
    label(version, truths=["small"], predicted=["big"])  # same request id
    day = _days(version).get()
    assert day.labelled == 1
    assert day.confusion == {"small": {"big": 1}}
    assert Feedback.objects.get().model_name == "m"


def _alert_gauge(version):
    labels = {"model": version.model.name, "version": str(version.version)}
    return REGISTRY.get_sample_value("portal_live_performance_alert", labels)


def test_an_alert_once_live_accuracy_falls_past_the_margin(label, client, admin_user):
    version = _version(metrics={"accuracy": 0.9})  # no probabilities: accuracy is watched
    MonitoringSettings.objects.create(model=version.model, performance_min_labels=20)
    # 15 labelled rows, all wrong: below the minimum, so no verdict yet.
    label(version, truths=["big"] * 15, predicted=["small"] * 15)
    check = PerformanceCheck.objects.get(version=version)
    assert (check.labelled, check.alerting) == (15, False)
    label(version, truths=["big"] * 10, predicted=["small"] * 10, arm="b")
    check.refresh_from_db()
    assert check.alerting
    assert (check.metric, check.live, check.training) == ("accuracy", 0.0, 0.9)
    assert _alert_gauge(version) == 1
    performance_check(ModelVersion.objects.get(pk=version.pk))  # still alerting: audited once
    events = AuditEvent.objects.filter(action=AuditAction.PERFORMANCE_ALERT)
    assert events.count() == 1
    assert events.get().details["labelled"] == 25
    client.force_login(admin_user)
    page = client.get(f"/models/{version.model.name}/").content.decode()
    assert 'data-testid="performance-banner"' in page
    assert "0.000 on 25 labelled rows" in page


def test_the_alert_watches_the_same_seven_days_as_the_pages_week():
    version = _version(task_type="regression", classes=(), metrics={"rmse": 1.0})
    now = timezone.now()
    for age, labelled in ((6, 10), (7, 1000)):  # the 7th day back is outside the week
        PerformanceDay.objects.create(
            day=now.date() - timedelta(days=age),
            model_name="m",
            version_number=1,
            labelled=labelled,
            squared_error=4.0 * labelled,
            absolute_error=2.0 * labelled,
        )
    check = performance_check(version, now=now)
    assert (check.labelled, check.live) == (10, pytest.approx(2.0))
