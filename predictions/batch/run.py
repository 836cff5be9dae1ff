"""Score a stored batch job chunk by chunk: validate and predict vectorised, write the result.

Idempotent: every attempt starts from row one and rewrites the whole result, so a task
redelivered after its worker died simply runs again. Only the latest attempt may record
progress or finish the job, and the finishing update refunds bad rows exactly once. A running
attempt beats a heartbeat; the sweep (predictions/batch/sweep.py) sends a job whose beats
stopped to a worker again, or fails it.
"""

import csv
import io
import logging
import tempfile
from collections import Counter
from functools import partial

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from models_registry import serving
from monitoring import metrics
from portal.heartbeat import heartbeat
from predictions.batch.frames import result_header, result_lines, score_chunk
from predictions.batch.plain import NotPlain, score_plain
from predictions.batch.submit import batch_job_fail, quota_refund
from predictions.batch.upload import (
    check_columns,
    check_width,
    csv_reader,
    data_rows,
    plain_lines,
)
from predictions.csv_cells import safe_row
from predictions.models import BatchJob, BatchJobStatus

logger = logging.getLogger(__name__)

CHUNK_ROWS = 10_000
MAX_STORED_ERRORS = 100
# A job whose worker keeps dying (out of memory, say) is failed rather than retried forever.
# Lost messages the sweep sends again count too (predictions/batch/sweep.py).
MAX_ATTEMPTS = 3
RESULT_DIR = "batch/results"


class Superseded(Exception):
    """A newer attempt owns the job (this one was presumed dead and redelivered)."""


def batch_job_run(job_id):
    """Run a job to the end; returns its final status, or None if there was nothing to do."""
    claim = _claim(job_id)
    if claim is None:
        return None
    attempt, took_over = claim
    job = BatchJob.objects.select_related("version__model", "owner").get(pk=job_id)
    if took_over and attempt > MAX_ATTEMPTS:
        # Delivered again each time its worker died mid-job (out of memory, say): give up.
        _fail(job, attempt, f"Gave up after {MAX_ATTEMPTS} attempts.")
        return BatchJobStatus.FAILED
    try:
        # The thread beats through a long chunk or model load; each chunk beats as well.
        with heartbeat(partial(_beat, job, attempt), every=settings.JOB_HEARTBEAT_SECONDS):
            totals = _score(job, attempt)
    except Superseded:
        logger.warning("batch job %s attempt %s superseded", job.pk, attempt)
        return None
    except Exception as exc:  # any failure must end the job, never leave it running
        logger.exception("batch job %s failed", job.pk)
        _fail(job, attempt, f"{type(exc).__name__}: {exc}")
        return BatchJobStatus.FAILED
    _succeed(job, attempt, **totals)
    return BatchJobStatus.SUCCEEDED


@transaction.atomic
def _claim(job_id):
    """Take the job for a new attempt: (attempt, whether a running attempt was taken over).

    A queued job is the usual case. A running one is taken over: its message came back
    because the worker holding it died (the broker requeues what a lost worker held), and
    the attempt it replaces, if somehow still alive, stops at its next write.
    """
    job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        # Acknowledged all the same: there is nothing to run, ever.
        logger.warning("batch job %s does not exist; nothing to run", job_id)
        return None
    if job.is_finished:
        return None  # a redelivery of a job that already ended
    took_over = job.status == BatchJobStatus.RUNNING
    job.attempts += 1
    job.status = BatchJobStatus.RUNNING
    job.started_at = job.heartbeat_at = timezone.now()
    job.rows_done = job.rows_failed = 0
    job.errors = []
    job.save(
        update_fields=[
            "attempts",
            "status",
            "started_at",
            "heartbeat_at",
            "rows_done",
            "rows_failed",
            "errors",
        ]
    )
    return job.attempts, took_over


def _mine(job, attempt):
    """The job, as long as this attempt still owns it."""
    return BatchJob.objects.filter(pk=job.pk, attempts=attempt, status=BatchJobStatus.RUNNING)


def _beat(job, attempt):
    """The heartbeat thread's beat; False once another attempt or the sweep has the job."""
    return bool(_mine(job, attempt).update(heartbeat_at=timezone.now()))


def _record(job, attempt, **fields):
    if not _mine(job, attempt).update(heartbeat_at=timezone.now(), **fields):
        raise Superseded(job.pk)


def _score(job, attempt):
    version = job.version
    predictor = serving.load_predictor(version)
    with default_storage.open(job.input_file.name, "rb") as source:
        data = source.read()  # at most BATCH_MAX_UPLOAD_MB
    # Checked at submission; again here, before any split, as the file outlives that check.
    check_width(data, version.input_schema)
    plain = plain_lines(data)
    if plain is not None:
        header = check_columns(plain[0], version.input_schema)
        try:
            return _write(job, attempt, header, predictor, _plain_chunks(plain[1], header, job))
        except NotPlain as exc:
            logger.info("batch job %s needs the row-by-row path: %s", job.pk, exc)
    with csv_reader(io.BytesIO(data), version.input_schema) as reader:
        header = check_columns(next(reader), version.input_schema)
        return _write(job, attempt, header, predictor, _row_chunks(reader, header, job))


def _plain_chunks(lines, header, job):
    predictor = serving.load_predictor(job.version)
    for start in range(0, len(lines), CHUNK_ROWS):
        chunk = lines[start : start + CHUNK_ROWS]
        text, result = score_plain(
            chunk, header=header, version=job.version, predictor=predictor, first_row=start + 1
        )
        yield text, result, len(chunk)


def _row_chunks(reader, header, job):
    predictor = serving.load_predictor(job.version)
    done = 0
    for chunk in _chunks(data_rows(reader), CHUNK_ROWS):
        result = score_chunk(
            chunk, header=header, version=job.version, predictor=predictor, first_row=done + 1
        )
        done += len(chunk)
        yield result_lines(chunk, result), result, len(chunk)


def _write(job, attempt, header, predictor, chunks):
    """Write the result file chunk by chunk, recording progress; the totals for _succeed."""
    done = failed = 0
    errors = []
    out_of_range = Counter()
    with tempfile.TemporaryFile() as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        # Feature names come from a training CSV: as unsafe in a spreadsheet as any cell.
        csv.writer(text, lineterminator="\n").writerow(safe_row(result_header(header, predictor)))
        for lines, result, rows in chunks:
            text.write(lines)
            done += rows
            failed += result.failed
            out_of_range.update(result.out_of_range)
            errors.extend(result.errors[: MAX_STORED_ERRORS - len(errors)])
            _record(job, attempt, rows_done=done, rows_failed=failed, errors=errors)
        text.flush()
        text.detach()
        name = f"{RESULT_DIR}/{job.pk}.csv"
        # A previous attempt may have stored its result before dying: start from scratch.
        default_storage.delete(name)
        stored = default_storage.save(name, File(out, name=f"{job.pk}.csv"))
    return {
        "done": done,
        "failed": failed,
        "errors": errors,
        "result": stored,
        "out_of_range": out_of_range,
    }


def _chunks(rows, size):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@transaction.atomic
def _succeed(job, attempt, *, done, failed, errors, result, out_of_range):
    updated = _mine(job, attempt).update(
        status=BatchJobStatus.SUCCEEDED,
        rows_done=done,
        rows_failed=failed,
        errors=errors,
        result_file=result,
        finished_at=timezone.now(),
    )
    if updated:  # bad rows were never predicted: their quota goes back, once
        quota_refund(job, failed)
        _observe(job, BatchJobStatus.SUCCEEDED, predicted=done - failed, invalid=failed)
        _observe_out_of_range(job, out_of_range)
    logger.info(
        "batch job finished",
        extra={"job": str(job.pk), "rows": done, "failed": failed, "attempt": attempt},
    )


def _fail(job, attempt, error):
    if batch_job_fail(job, error=error, attempt=attempt):
        _observe(job, BatchJobStatus.FAILED, failed=job.rows_total)


def _observe_out_of_range(job, out_of_range):
    """Rows served with a value outside its range, as predict calls count theirs."""
    version = job.version
    for feature, rows in out_of_range.items():
        metrics.prediction_out_of_range.labels(
            model=version.model.name, version=str(version.version), feature=feature
        ).inc(rows)


def _observe(job, status, **rows):
    """Count the finished job's rows by outcome and time its run (once: on the transition)."""
    model = job.version.model.name
    for outcome, count in rows.items():
        if count:
            metrics.batch_job_rows.labels(model=model, status=outcome).inc(count)
    seconds = (timezone.now() - job.started_at).total_seconds()
    metrics.batch_job_duration.labels(model=model, status=status).observe(seconds)
