"""Batch jobs never stay stuck: the sweep resends a job whose worker died or whose message was
lost, or fails it with the reason and its quota back; proven on real workers killed mid-job."""

import csv
import io
import logging
import os
import signal
import uuid
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import QuotaKind, TokenScope
from accounts.quotas import quota_reserve, quota_status
from accounts.tests.factories import make_token
from models_registry import services as registry
from portal.celery import app as celery_app
from portal.tests.processes import celery_worker_args, child_env, running, wait_until
from predictions.batch.run import MAX_ATTEMPTS, batch_job_run
from predictions.batch.sweep import batch_jobs_sweep
from predictions.models import BatchJob, BatchJobStatus
from predictions.tasks import sweep_batch_jobs_task

HEADER = "sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n"
SETOSA, BAD = "5.1,3.5,1.4,0.2\n", "x,3.5,1.4,0.2\n"
STALL = timedelta(seconds=120)
KILL_JOB_ROWS = 100_000
BAD_EVERY = 1000
LOST_JOB_ROWS = 5_000
# The resuming worker's settings: a job silent for 3 s is dead, beat sweeps every second.
FAST_SWEEP = {"JOB_HEARTBEAT_SECONDS": 1, "JOB_STALL_SECONDS": 3, "JOB_SWEEP_SECONDS": 1}
RESUME_BOUND_SECONDS = 90


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


@pytest.fixture
def stalled_job(served, user, settings):
    """A job as a dead worker or a lost message leaves it, its rows of quota reserved."""
    settings.JOB_STALL_SECONDS = int(STALL.total_seconds())

    def make(*, status, attempts, silent, body=SETOSA + BAD + SETOSA, rows=3):
        quota = quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=rows)
        job = BatchJob(
            owner=user,
            model=served.model,
            version=served,
            rows_total=rows,
            quota_day=quota.resets_at.date() - timedelta(days=1),
        )
        job.input_file.save(f"{job.pk}.csv", ContentFile((HEADER + body).encode()), save=False)
        job.save()
        seen = timezone.now() - silent
        BatchJob.objects.filter(pk=job.pk).update(
            status=status, attempts=attempts, heartbeat_at=seen, created_at=seen, rows_done=1
        )
        job.refresh_from_db()
        return job

    return make


def _used(user):
    return quota_status(user, QuotaKind.PREDICTION_ROWS).used


# ---------------------------------------------------------------- the sweep's decisions


def test_a_running_job_gone_silent_is_queued_again(stalled_job, user):
    job = stalled_job(status=BatchJobStatus.RUNNING, attempts=1, silent=STALL * 2)
    assert batch_jobs_sweep() == [str(job.pk)]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_done) == (BatchJobStatus.QUEUED, 1, 0)
    assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)
    assert batch_jobs_sweep() == []  # sent once, not on every sweep
    assert _used(user) == 3  # still reserved: the job will run


def test_a_queued_job_nobody_took_is_sent_again(stalled_job):
    job = stalled_job(status=BatchJobStatus.QUEUED, attempts=0, silent=STALL * 2)
    assert batch_jobs_sweep() == [str(job.pk)]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (BatchJobStatus.QUEUED, 1)


def test_healthy_jobs_are_left_alone(stalled_job):
    stalled_job(status=BatchJobStatus.RUNNING, attempts=1, silent=STALL / 2)
    stalled_job(status=BatchJobStatus.QUEUED, attempts=0, silent=STALL / 2)
    stalled_job(status=BatchJobStatus.SUCCEEDED, attempts=1, silent=STALL * 10)
    before = list(BatchJob.objects.order_by("pk").values())
    assert batch_jobs_sweep() == []
    assert list(BatchJob.objects.order_by("pk").values()) == before


@pytest.mark.parametrize(
    ("status", "reason"),
    [(BatchJobStatus.RUNNING, "no heartbeat for 240 s"), (BatchJobStatus.QUEUED, "nobody took")],
)
def test_a_job_out_of_attempts_is_failed_with_its_quota_back(stalled_job, user, status, reason):
    job = stalled_job(status=status, attempts=MAX_ATTEMPTS, silent=STALL * 2)
    assert _used(user) == 3
    assert batch_jobs_sweep() == []
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert job.error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts:")
    assert reason in job.error
    assert job.finished_at is not None
    assert _used(user) == 0


def test_the_sweep_task_sends_the_job_and_it_finishes(stalled_job, user):
    job = stalled_job(status=BatchJobStatus.RUNNING, attempts=1, silent=STALL * 2)
    assert sweep_batch_jobs_task() == 1  # eager in tests: the resent task runs here
    job.refresh_from_db()
    assert (job.status, job.attempts) == (BatchJobStatus.SUCCEEDED, 2), job.error
    assert (job.rows_done, job.rows_failed) == (3, 1)
    assert _used(user) == 2  # the bad row came back


def test_a_job_sent_again_runs_once_and_an_extra_copy_does_nothing(stalled_job):
    job = stalled_job(status=BatchJobStatus.RUNNING, attempts=1, silent=STALL * 2)
    batch_jobs_sweep()
    assert batch_job_run(job.pk) == BatchJobStatus.SUCCEEDED
    assert batch_job_run(job.pk) is None  # a second copy of the message: nothing to do
    job.refresh_from_db()
    assert job.attempts == 2


def test_a_task_for_a_job_not_in_the_database_is_logged(db, caplog):
    missing = uuid.uuid4()
    with caplog.at_level(logging.WARNING, logger="predictions.batch.run"):
        assert batch_job_run(missing) is None
    assert f"batch job {missing} does not exist" in caplog.text


# ---------------------------------------------------------------- real workers


@pytest.fixture
def queue():
    """The app publishes to a queue of this test's own instead of running tasks eagerly."""
    name = f"stalled-{uuid.uuid4().hex[:8]}"
    saved = {key: celery_app.conf.get(key) for key in ("task_always_eager", "task_default_queue")}
    celery_app.conf.update(task_always_eager=False, task_default_queue=name)
    yield name
    celery_app.conf.update(saved)


def _worker(queue, tmp_path, *, pool="solo", beat=False):
    args = [f"--pool={pool}" if arg == "--pool=solo" else arg for arg in celery_worker_args(queue)]
    if beat:  # beat inside the worker, as production runs it, with its own schedule file
        args += ["--beat", "--schedule", str(tmp_path / f"beat-{uuid.uuid4().hex[:6]}")]
    return args


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


def _result_rows(job):
    with job.result_file.open("rb") as stored:
        return list(csv.DictReader(io.StringIO(stored.read().decode())))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning")
def test_a_job_whose_worker_and_pool_are_killed_is_resumed_by_the_sweep(
    client, admin_user, train, queue, settings, tmp_path
):
    registry.version_promote(version=train())
    _, token = make_token(admin_user, scope=TokenScope.PREDICT)  # a quota above the job's rows
    lines = [BAD if i % BAD_EVERY == 0 else SETOSA for i in range(KILL_JOB_ROWS)]
    job = _submit(client, token, HEADER + "".join(lines))
    expected_bad = KILL_JOB_ROWS // BAD_EVERY
    # The broker's visibility timeout stays at its hour: only the sweep can bring the job back.
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT, **FAST_SWEEP)

    def midway():
        job.refresh_from_db()
        return job.status == BatchJobStatus.RUNNING and 0 < job.rows_done < KILL_JOB_ROWS

    first_args = _worker(queue, tmp_path, pool="prefork")
    with running(first_args, env=env, log_path=tmp_path / "first.log") as first:
        wait_until(midway, timeout=60, interval=0.02, what="the job to be midway", process=first)
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool child, at once
        first.wait(timeout=10)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (BatchJobStatus.RUNNING, 1)

    second_args = _worker(queue, tmp_path, beat=True)
    with running(second_args, env=env, log_path=tmp_path / "second.log") as second:
        wait_until(
            lambda: _finished(job),
            timeout=RESUME_BOUND_SECONDS,
            what="the sweep to resume the job",
            process=second,
        )
    assert job.status == BatchJobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    assert (job.rows_done, job.rows_failed) == (KILL_JOB_ROWS, expected_bad)
    rows = _result_rows(job)
    assert len(rows) == KILL_JOB_ROWS  # written whole by the second attempt
    assert sum(row["prediction"] == "" for row in rows) == expected_bad
    assert _used(admin_user) == KILL_JOB_ROWS - expected_bad


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning")
def test_a_job_whose_message_was_lost_is_sent_again(client, user, train, queue, settings, tmp_path):
    registry.version_promote(version=train())
    _, token = make_token(user, scope=TokenScope.PREDICT)
    job = _submit(client, token, HEADER + SETOSA * LOST_JOB_ROWS)
    with celery_app.connection_for_write() as connection:
        assert connection.default_channel.queue_purge(queue) == 1  # as a Redis restart loses it
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=settings.MEDIA_ROOT, **FAST_SWEEP)
    with running(_worker(queue, tmp_path, beat=True), env=env, log_path=tmp_path / "w.log") as w:
        wait_until(
            lambda: _finished(job),
            timeout=RESUME_BOUND_SECONDS,
            what="the sweep to send the job again",
            process=w,
        )
    assert job.status == BatchJobStatus.SUCCEEDED, job.error
    assert job.attempts == 2  # the lost message, then the run
    assert (job.rows_done, job.rows_failed) == (LOST_JOB_ROWS, 0)
    assert _used(user) == job.rows_total == LOST_JOB_ROWS
