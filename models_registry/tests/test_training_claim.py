"""A training run claims its job: a second run is a no-op, a run taken back registers nothing."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from models_registry.models import JobStatus, ModelVersion, TrainingJob
from models_registry.training import pipeline
from models_registry.training.pipeline import run_training
from models_registry.training.sweep import training_jobs_sweep

RACERS = 3


def _job(**fields):
    return TrainingJob.objects.create(
        model_name="iris-model", dataset="iris", estimator="logistic_regression", **fields
    )


def test_a_second_run_of_a_finished_job_does_nothing(train):
    version = train()
    job = version.training_job
    before = TrainingJob.objects.values().get(pk=job.pk)
    assert run_training(job.pk) == version  # answers as the first run did
    assert TrainingJob.objects.values().get(pk=job.pk) == before
    assert ModelVersion.objects.count() == 1


def test_a_run_of_a_job_another_run_holds_does_nothing(db):
    job = _job()
    claimed = TrainingJob.objects.filter(pk=job.pk)
    claimed.update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())
    before = claimed.values().get()
    assert run_training(job.pk) is None
    assert claimed.values().get() == before
    assert not ModelVersion.objects.exists()


def test_a_missing_job_is_logged(db, caplog):
    assert run_training(987_654) is None
    assert "training job 987654 does not exist" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_runs_racing_for_one_job_register_one_version():
    job = _job()
    barrier = threading.Barrier(RACERS)
    results, errors = [], []

    def race():
        try:
            barrier.wait()
            results.append(run_training(job.pk))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    job.refresh_from_db()
    assert errors == []
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), job.error
    assert ModelVersion.objects.count() == 1
    # The winner returns the version; a loser that came late answers with the same one.
    assert {result for result in results if result is not None} == {job.version}


def test_a_run_taken_back_by_the_sweep_registers_nothing(db, monkeypatch):
    job = _job()
    register = pipeline._register

    def taken_back_first(*args, **kwargs):
        # The sweep found this run silent (its heartbeat long gone) and queued the job again.
        assert training_jobs_sweep(now=timezone.now() + timedelta(hours=1)) == [job.pk]
        return register(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_register", taken_back_first)
    assert run_training(job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == (JobStatus.QUEUED, 1, 0)
    assert {stage["status"] for stage in job.stages} == {"pending"}
    assert not ModelVersion.objects.exists()

    monkeypatch.setattr(pipeline, "_register", register)
    version = run_training(job.pk)  # the message the sweep sent
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert version.version == 1
    assert ModelVersion.objects.count() == 1
