"""The batch runner without a broker: chunks, restarts from scratch, failures refund quota."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from prometheus_client import REGISTRY

from accounts.models import QuotaKind
from accounts.quotas import quota_reserve, quota_status
from models_registry import services as registry
from models_registry.serving import clear_loaded
from predictions.batch import run
from predictions.batch.run import MAX_ATTEMPTS, batch_job_run
from predictions.models import BatchJob, BatchJobStatus

HEADER = "sepal_length_(cm),sepal_width_(cm),petal_length_(cm),petal_width_(cm)\n"
GOOD = "5.1,3.5,1.4,0.2\n"
BAD_ROWS = {
    "x,3.5,1.4,0.2\n": ("sepal_length_(cm)", "Expected a number"),
    "5.1,3.5,1.4\n": (None, "Expected 4 fields, got 3"),
    "5.1,3.5,1.4,0.2,9\n": (None, "Expected 4 fields, got 5"),
    "5.1,,1.4,0.2\n": ("sepal_width_(cm)", "Value required"),
    "5.1,3.5,1.4,inf\n": ("petal_width_(cm)", "Expected a finite number"),
    "5.1,3.5,1.4,99\n": ("petal_width_(cm)", "Must be at most 3.7"),
    "5.1,3.5,1.4,-1\n": ("petal_width_(cm)", "Must be at least 0"),
    "nan,3.5,1.4,0.2\n": ("sepal_length_(cm)", "Expected a number"),
}


@pytest.fixture
def served(train):
    version = train()
    registry.version_promote(version=version)
    return version


@pytest.fixture
def enforcing(served):
    """The model refuses values outside the schema's ranges (off by default)."""
    served.model.enforce_input_ranges = True
    served.model.save()
    return served


@pytest.fixture
def make_job(served, user):
    def make(body, rows):
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
        return job

    return make


def _result_lines(job):
    with default_storage.open(job.result_file.name, "rb") as stored:
        return list(csv.DictReader(io.StringIO(stored.read().decode())))


def _rows_counted(status):
    labels = {"model": "iris-model", "status": status}
    return REGISTRY.get_sample_value("portal_batch_job_rows_total", labels) or 0


def test_every_kind_of_bad_row_is_reported_across_chunks(make_job, user, enforcing, monkeypatch):
    monkeypatch.setattr(run, "CHUNK_ROWS", 3)  # several chunks; row numbers run on across them
    predicted, invalid = _rows_counted("predicted"), _rows_counted("invalid")
    bad = list(BAD_ROWS)
    body = "".join(GOOD + line for line in bad)
    job = make_job(body, rows=2 * len(bad))
    assert batch_job_run(job.pk) == BatchJobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.rows_done, job.rows_failed, job.attempts) == (16, 8, 1)
    assert job.errors == [
        {"row": 2 * i + 2, "field": field, "message": message}
        for i, (field, message) in enumerate(BAD_ROWS.values())
    ]
    lines = _result_lines(job)
    assert len(lines) == 16
    assert all(line["prediction"] == "setosa" and not line["error"] for line in lines[::2])
    assert all(line["prediction"] == "" and line["error"] for line in lines[1::2])
    assert lines[1]["sepal_length_(cm)"] == "x"  # the input as given
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 8
    assert _rows_counted("predicted") - predicted == 8
    assert _rows_counted("invalid") - invalid == 8


def test_a_plain_file_never_takes_the_row_by_row_path(make_job, enforcing, monkeypatch):
    monkeypatch.setattr(run, "CHUNK_ROWS", 4)

    def row_by_row(*args, **kwargs):
        raise AssertionError("a plain file went row by row")

    monkeypatch.setattr(run, "score_chunk", row_by_row)
    out_of_range = "5.1,3.5,1.4,99\n"
    job = make_job(GOOD * 5 + out_of_range + GOOD * 4, rows=10)
    assert batch_job_run(job.pk) == BatchJobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.rows_done, job.rows_failed) == (10, 1)
    assert job.errors == [{"row": 6, "field": "petal_width_(cm)", "message": "Must be at most 3.7"}]
    lines = _result_lines(job)
    assert [line["error"] for line in lines].count("") == 9
    assert lines[0]["sepal_length_(cm)"] == "5.1"  # the input line as given


def test_a_redelivered_job_starts_again_from_scratch(make_job, user):
    job = make_job(GOOD + "x,1,1,1\n" + GOOD, rows=3)
    # What a worker killed mid-job leaves: running, partial counts, a stale stored result.
    stale = default_storage.save(f"{run.RESULT_DIR}/{job.pk}.csv", ContentFile(b"stale\n"))
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJobStatus.RUNNING,
        attempts=1,
        rows_done=2,
        rows_failed=5,
        errors=[{"row": 9, "field": None, "message": "old"}],
    )
    assert batch_job_run(job.pk) == BatchJobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.attempts, job.rows_done, job.rows_failed) == (2, 3, 1)
    assert job.errors == [{"row": 2, "field": "sepal_length_(cm)", "message": "Expected a number"}]
    assert job.result_file.name == stale  # rewritten in place, not beside the stale one
    assert [line["prediction"] for line in _result_lines(job)] == ["setosa", "", "setosa"]
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 2


def test_a_finished_job_delivered_again_is_left_alone(make_job, user):
    job = make_job(GOOD + "x,1,1,1\n", rows=2)
    assert batch_job_run(job.pk) == BatchJobStatus.SUCCEEDED
    counted = _rows_counted("predicted")
    assert batch_job_run(job.pk) is None
    assert _rows_counted("predicted") == counted
    job.refresh_from_db()
    assert job.attempts == 1
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 1  # refunded once, not twice


def test_a_job_that_keeps_dying_is_given_up(make_job, user):
    job = make_job(GOOD, rows=1)
    BatchJob.objects.filter(pk=job.pk).update(status=BatchJobStatus.RUNNING, attempts=MAX_ATTEMPTS)
    assert batch_job_run(job.pk) == BatchJobStatus.FAILED
    job.refresh_from_db()
    assert "Gave up" in job.error
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 0


def test_a_model_that_cannot_load_fails_the_job_and_refunds_it(make_job, served, user):
    job = make_job(GOOD * 3, rows=3)
    clear_loaded()
    default_storage.delete(served.artifact.name)
    assert batch_job_run(job.pk) == BatchJobStatus.FAILED
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert job.error
    assert job.finished_at is not None
    assert not job.result_file
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 0
    assert _rows_counted("failed") >= 3


def test_only_the_first_errors_are_kept_on_the_job(make_job, monkeypatch):
    monkeypatch.setattr(run, "CHUNK_ROWS", 40)
    job = make_job("x,1,1,1\n" * (run.MAX_STORED_ERRORS + 50), rows=run.MAX_STORED_ERRORS + 50)
    assert batch_job_run(job.pk) == BatchJobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.rows_failed == run.MAX_STORED_ERRORS + 50
    assert [e["row"] for e in job.errors] == list(range(1, run.MAX_STORED_ERRORS + 1))
    assert len(_result_lines(job)) == run.MAX_STORED_ERRORS + 50  # the CSV has every error
