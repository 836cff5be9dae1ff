"""/metrics: the portal's counters plus values read from the database and Redis at scrape."""

import json

from prometheus_client.parser import text_string_to_metric_families

from accounts.models import TokenScope
from accounts.tests.factories import make_token
from models_registry import services as registry
from predictions import logbook
from predictions.tasks import drain_prediction_log_task


def _samples(client, name):
    text = client.get("/metrics").content.decode()
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_production_versions_are_read_at_scrape_time(client, train):
    version = train()
    assert _samples(client, "portal_production_version_info") == {}
    registry.version_promote(version=version)
    assert _samples(client, "portal_production_version_info") == {
        (("model", "iris-model"), ("version", "1")): 1.0
    }


def test_queue_depth_counts_the_celery_queue_and_the_log_buffer(client, db, settings):
    logbook.buffer().rpush(logbook.PENDING_KEY, json.dumps({"request_id": "x"}))
    depth = _samples(client, "portal_celery_queue_depth")
    assert depth[(("queue", "prediction-log-buffer"),)] == 1.0
    assert (("queue", settings.CELERY_TASK_DEFAULT_QUEUE),) in depth


def test_training_and_task_outcomes_are_counted(client, train):
    key = (("outcome", "succeeded"),)
    before = _samples(client, "portal_training_jobs_total").get(key, 0)
    train()
    assert _samples(client, "portal_training_jobs_total")[key] == before + 1

    task = (("outcome", "success"), ("task", drain_prediction_log_task.name))
    before = _samples(client, "portal_celery_tasks_total").get(task, 0)
    drain_prediction_log_task.delay()
    assert _samples(client, "portal_celery_tasks_total")[task] == before + 1
    runtime = _samples(client, "portal_celery_task_runtime_seconds_count")
    assert runtime[(("task", drain_prediction_log_task.name),)] >= 1


def test_live_accuracy_comes_from_recent_feedback(client, user, train):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    row = {
        "sepal_length_(cm)": 5.1,
        "sepal_width_(cm)": 3.5,
        "petal_length_(cm)": 1.4,
        "petal_width_(cm)": 0.2,
    }
    response = client.post(
        "/api/v1/models/iris-model/predict",
        data=json.dumps({"inputs": [row, row]}),
        content_type="application/json",
        **headers,
    )
    assert response.json()["predictions"] == ["setosa", "setosa"]
    assert _samples(client, "portal_live_accuracy_ratio") == {}
    request_id = response.json()["request_id"]
    client.post(
        f"/api/v1/predictions/{request_id}/feedback",
        data=json.dumps({"labels": ["setosa", "virginica"]}),
        content_type="application/json",
        **headers,
    )
    key = (("arm", ""), ("model", "iris-model"), ("version", "1"))
    assert _samples(client, "portal_live_accuracy_ratio") == {key: 0.5}
    # A row without its truth (None) is left out, not counted wrong.
    client.post(
        f"/api/v1/predictions/{request_id}/feedback",
        data=json.dumps({"labels": ["setosa", None]}),
        content_type="application/json",
        **headers,
    )
    assert _samples(client, "portal_live_accuracy_ratio") == {key: 1.0}
