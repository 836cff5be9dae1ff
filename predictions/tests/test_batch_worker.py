"""Batch jobs on a real Celery worker: results end to end, and a worker killed mid-job."""

import csv
import io
import os
import signal
import uuid
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import QuotaKind, TokenScope
from accounts.quotas import quota_status
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal.celery import app as celery_app
from portal.tests.processes import celery_worker_args, child_env, running, wait_until
from predictions.models import BatchJob, BatchJobStatus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning"),
]

HEADER = "sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n"
SETOSA, VIRGINICA = "5.1,3.5,1.4,0.2\n", "6.3,3.3,6.0,2.5\n"
KILL_JOB_ROWS = 300_000


@pytest.fixture
def queue():
    """The app publishes to a queue of this test's own instead of running tasks eagerly."""
    name = f"batch-{uuid.uuid4().hex[:8]}"
    saved = {key: celery_app.conf.get(key) for key in ("task_always_eager", "task_default_queue")}
    celery_app.conf.update(task_always_eager=False, task_default_queue=name)
    yield name
    celery_app.conf.update(saved)


def _submit(client, token, content):
    response = client.post(
        "/api/v1/models/iris-model/jobs",
        {"file": SimpleUploadedFile("rows.csv", content.encode(), "text/csv")},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    return BatchJob.objects.get(pk=response.json()["id"])


def _finished(job):
    job.refresh_from_db()
    return job.is_finished


def test_a_csv_with_bad_rows_runs_on_a_real_worker(client, user, train, queue, settings, tmp_path):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    content = HEADER + SETOSA + "5.1,3.5,one,0.2\n" + VIRGINICA + "5.1,3.5\n" + SETOSA
    job = _submit(client, token, content)
    assert job.status == BatchJobStatus.QUEUED  # published, not run in this process
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT)
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log") as worker:
        wait_until(lambda: _finished(job), timeout=60, what="the job to finish", process=worker)

    body = client.get(f"/api/v1/jobs/{job.pk}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert body["status"] == "succeeded", body["error"]
    assert (body["rows_total"], body["rows_done"], body["rows_failed"]) == (5, 5, 2)
    assert body["progress"] == 100
    assert body["errors"] == [
        {"row": 2, "field": "petal_length_(cm)", "message": "Expected a number"},
        {"row": 4, "field": None, "message": "Expected 4 fields, got 2"},
    ]
    response = client.get(body["result_url"], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.OK
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["prediction"] for r in rows] == ["setosa", "", "virginica", "", "setosa"]
    assert rows[1]["error"] == "petal_length_(cm): Expected a number"
    assert rows[3]["error"] == "Expected 4 fields, got 2"
    assert rows[3]["sepal_length_(cm)"] == "5.1"
    assert float(rows[2]["probability_virginica"]) > 0.5
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 3  # the bad rows came back


def test_a_job_whose_worker_is_killed_restarts_cleanly(
    client, admin_user, train, queue, settings, tmp_path
):
    registry.version_promote(version=train())
    _, token = make_token(admin_user, scope=TokenScope.PREDICT)
    bad_every = 1000  # one bad row per thousand, spread over every chunk
    lines = [("x,3.5,1.4,0.2\n" if i % bad_every == 0 else SETOSA) for i in range(KILL_JOB_ROWS)]
    job = _submit(client, token, HEADER + "".join(lines))
    expected_bad = KILL_JOB_ROWS // bad_every
    # A short visibility timeout lets the second worker take back what the first one held.
    env = child_env(
        CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT, CELERY_VISIBILITY_TIMEOUT=2
    )

    def midway():
        job.refresh_from_db()
        return job.status == BatchJobStatus.RUNNING and 0 < job.rows_done < KILL_JOB_ROWS

    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "first.log") as first:
        wait_until(midway, timeout=60, interval=0.02, what="the job to be midway", process=first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    job.refresh_from_db()
    assert job.status == BatchJobStatus.RUNNING
    assert job.rows_done < KILL_JOB_ROWS

    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "second.log") as second:
        wait_until(lambda: _finished(job), timeout=90, what="the job to finish", process=second)
    assert job.status == BatchJobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    assert (job.rows_done, job.rows_failed) == (KILL_JOB_ROWS, expected_bad)
    assert job.errors[0] == {"row": 1, "field": "sepal_length_(cm)", "message": "Expected a number"}
    with job.result_file.open("rb") as stored:
        result = stored.read().decode().splitlines()
    assert len(result) == KILL_JOB_ROWS + 1  # rewritten whole: no rows twice, none missing
    assert sum(line.endswith("Expected a number") for line in result) == expected_bad
    used = quota_status(admin_user, QuotaKind.PREDICTION_ROWS).used
    assert used == KILL_JOB_ROWS - expected_bad  # refunded once, by the attempt that finished
