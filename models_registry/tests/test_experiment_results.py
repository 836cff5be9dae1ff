"""Results: per-arm numbers from the prediction log, the significance test and its sentence."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from models_registry.experiments import stats
from models_registry.tests.experiments import ab_experiment, log_rows, two_versions
from predictions.models import Feedback, Prediction


def _feedback(request_ids, label):
    for prediction in Prediction.objects.filter(request_id__in=request_ids):
        Feedback.objects.create(prediction=prediction, labels=[label] * prediction.rows)


def test_two_proportion_test_matches_the_textbook():
    # 60/100 vs 40/100: z = 0.2 / sqrt(0.5 * 0.5 * 0.02) = 2.828 → p = 0.00468
    assert stats.two_proportion_test(60, 100, 40, 100) == pytest.approx(0.00468, abs=1e-4)
    assert stats.two_proportion_test(5, 10, 5, 10) == pytest.approx(1.0)
    assert stats.two_proportion_test(0, 10, 0, 10) == 1.0
    assert stats.two_proportion_test(1, 0, 1, 10) is None


@pytest.fixture
def experiment(train):
    control, candidate = two_versions(train)
    return ab_experiment(control, candidate, weights=(75, 25))


def _versions(experiment):
    arms = {arm.name: arm.version for arm in experiment.arms.all()}
    return arms["control"], arms["candidate"]


def _arms(results):
    return {arm["name"]: arm for arm in results["arms"]}


def test_numbers_per_arm_and_a_significant_accuracy_lead(experiment):
    control, candidate = _versions(experiment)
    # control: 100 requests, 4 errors, 96 ok predicting setosa; 60 labelled, 30 right.
    right = log_rows(control, "control", count=30, latency_ms=10)
    wrong = log_rows(control, "control", count=30, latency_ms=10)
    log_rows(control, "control", count=36, latency_ms=30)
    log_rows(control, "control", count=4, status="error", latency_ms=1)
    _feedback(right, "setosa")
    _feedback(wrong, "versicolor")
    # candidate: 50 requests predicting versicolor; 50 labelled, 45 right.
    good = log_rows(candidate, "candidate", count=45, outputs=("versicolor",), latency_ms=20)
    bad = log_rows(candidate, "candidate", count=5, outputs=("versicolor",), latency_ms=20)
    _feedback(good, "versicolor")
    _feedback(bad, "virginica")
    # Outside the window (before the start): never counted.
    log_rows(control, "control", count=7, at=experiment.started_at - timedelta(minutes=5))

    results = stats.experiment_results(experiment)
    arms = _arms(results)
    assert (arms["control"]["requests"], arms["control"]["errors"]) == (100, 4)
    assert arms["control"]["error_rate"] == pytest.approx(0.04)
    assert arms["control"]["p50_ms"] == pytest.approx(10)
    assert arms["control"]["p95_ms"] == pytest.approx(30)
    assert arms["candidate"]["p50_ms"] == pytest.approx(20)
    assert arms["control"]["accuracy"] == pytest.approx(0.5)
    assert arms["candidate"]["accuracy"] == pytest.approx(0.9)
    assert arms["control"]["share"] == pytest.approx(0.75)
    assert results["labels"] == ["setosa", "versicolor"]
    assert arms["control"]["distribution"] == [96, 0]
    assert arms["candidate"]["distribution"] == [0, 50]
    comparison = results["comparison"]
    assert (comparison["metric"], comparison["leader"]) == ("accuracy", "candidate")
    assert comparison["significant"] is True
    assert comparison["p_value"] < 0.001
    assert comparison["distribution_p"] < 0.001
    assert comparison["sentence"].startswith(
        "Arm candidate leads on accuracy (90.0% vs 50.0% for control, 50 and 60 labelled rows)"
    )
    assert "the difference is significant" in comparison["sentence"]


def test_without_feedback_the_lead_is_on_error_rate_and_not_yet_significant(experiment):
    control, candidate = _versions(experiment)
    log_rows(control, "control", count=19)
    log_rows(control, "control", count=1, status="error")
    log_rows(candidate, "candidate", count=20)
    comparison = stats.experiment_results(experiment)["comparison"]
    assert (comparison["metric"], comparison["leader"]) == ("error rate", "candidate")
    assert comparison["significant"] is False
    assert comparison["sentence"] == (
        "Arm candidate leads on error rate (0.0% vs 5.0% for control, 20 and 20 requests; "
        f"no feedback yet); the difference is not significant yet (p = "
        f"{comparison['p_value']:.3g}); keep collecting requests (or feedback, to compare "
        "accuracy)."
    )


def test_no_requests_says_so(experiment):
    assert stats.experiment_results(experiment)["comparison"]["sentence"] == (
        "No requests yet in this experiment's window."
    )


def test_results_page_shows_the_numbers_the_sentence_and_the_chart(client, viewer, experiment):
    control, candidate = _versions(experiment)
    log_rows(control, "control", count=8, latency_ms=4)
    log_rows(control, "control", count=2, status="error")
    log_rows(candidate, "candidate", count=10, outputs=("virginica",), latency_ms=6)
    client.force_login(viewer)  # results are aggregates: every role that sees the model
    url = f"/models/iris-model/experiments/{experiment.pk}/"
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "Arm candidate leads on error rate (0.0% vs 20.0% for control" in html
    assert '<td data-col="requests">10</td>' in html
    assert '<td data-col="error-rate">20.0%</td>' in html
    assert 'data-testid="distribution-chart"' in html
    assert "Stop experiment" not in html  # no actions for a viewer
    # htmx polling gets only the results fragment.
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section id="results"')
    assert 'data-testid="verdict"' in fragment


def test_results_ignore_rows_after_the_stop(client, admin_user, experiment):
    control = experiment.control_arm().version
    log_rows(control, "control", count=3)
    experiment.status, experiment.stopped_at = "stopped", timezone.now()
    experiment.save()
    log_rows(control, "control", count=5, at=timezone.now() + timedelta(seconds=5))
    assert _arms(stats.experiment_results(experiment))["control"]["requests"] == 3
