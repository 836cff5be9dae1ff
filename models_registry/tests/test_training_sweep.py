"""The training-job sweep's decisions: requeue the stalled, resend the lost, fail the hopeless."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from models_registry.models import PIPELINE_STAGES, JobStatus, TrainingJob
from models_registry.tasks import sweep_training_jobs_task
from models_registry.training.sweep import MAX_ATTEMPTS, training_jobs_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def stall(settings):
    settings.JOB_STALL_SECONDS = 120
    return timedelta(seconds=120)


def _job(*, status=JobStatus.QUEUED, attempts=0, silent=timedelta(0), **fields):
    job = TrainingJob.objects.create(
        model_name="iris-model", dataset="iris", estimator="logistic_regression"
    )
    seen = timezone.now() - silent
    TrainingJob.objects.filter(pk=job.pk).update(
        status=status, attempts=attempts, heartbeat_at=seen, created_at=seen, **fields
    )
    job.refresh_from_db()
    return job


def _half_done():
    stages = [{"name": name, "status": "done", "seconds": 0.1} for name in PIPELINE_STAGES]
    stages[2:] = [{"name": name, "status": "pending"} for name in PIPELINE_STAGES[2:]]
    stages[2]["status"] = "running"
    return {"stages": stages, "progress": 33}


def test_a_running_job_gone_silent_is_queued_again_from_the_start(stall):
    job = _job(status=JobStatus.RUNNING, attempts=1, silent=stall * 2, **_half_done())
    assert training_jobs_sweep() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (JobStatus.QUEUED, 1, 0)
    assert {stage["status"] for stage in job.stages} == {"pending"}
    assert "attempt 1: no heartbeat for 240 s" in job.log[-1]
    assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)  # the send restarts the clock
    assert training_jobs_sweep() == []  # sent once, not on every sweep


def test_a_healthy_running_job_and_a_fresh_queued_one_are_left_alone(stall):
    running = _job(status=JobStatus.RUNNING, attempts=1, silent=stall / 2, **_half_done())
    queued = _job(silent=stall / 2)
    before = list(TrainingJob.objects.order_by("pk").values())
    assert training_jobs_sweep() == []
    assert list(TrainingJob.objects.order_by("pk").values()) == before
    assert {running.status, queued.status} == {JobStatus.RUNNING, JobStatus.QUEUED}


def test_a_queued_job_nobody_took_is_sent_again_and_counts_an_attempt(stall):
    job = _job(silent=stall + timedelta(seconds=1))
    assert training_jobs_sweep() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    assert "nobody took the job in 121 s" in job.log[-1]


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.QUEUED])
def test_a_job_out_of_attempts_is_failed_with_the_reason(stall, status):
    job = _job(status=status, attempts=MAX_ATTEMPTS, silent=stall * 2)
    assert training_jobs_sweep() == []
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.finished_at is not None
    assert job.error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts;")
    assert ("no heartbeat" if status == JobStatus.RUNNING else "nobody took") in job.error


def test_finished_jobs_are_never_touched(stall):
    for status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        _job(status=status, attempts=1, silent=stall * 10)
    assert training_jobs_sweep() == []


def test_the_sweep_task_sends_the_job_and_it_runs_to_the_end(stall, client, admin_user):
    job = _job(status=JobStatus.RUNNING, attempts=1, silent=stall * 2, **_half_done())
    assert sweep_training_jobs_task() == 1  # eager in tests: the resent task runs here
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (JobStatus.SUCCEEDED, 2, 100), job.error
    assert job.version.version == 1
    client.force_login(admin_user)
    page = client.get(reverse("registry:job_detail", args=[job.pk]))
    assert page.status_code == HTTPStatus.OK
    assert "attempt 2 · 100%" in page.content.decode()
    assert "no heartbeat for 240 s (its worker is gone); sent again" in page.content.decode()
