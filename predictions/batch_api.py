"""Batch prediction jobs API: submit JSON rows or a CSV upload, follow the job, fetch the CSV."""

import json
from datetime import datetime
from http import HTTPStatus
from typing import Any
from uuid import UUID

from django.core.exceptions import RequestDataTooBig
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError

from accounts.auth import predict_auth
from predictions.batch.submit import QueueUnavailable, batch_job_submit
from predictions.batch.upload import BadUpload, max_upload_bytes
from predictions.models import BatchJob, BatchJobStatus

router = Router(tags=["batch jobs"])

UPLOAD_FIELD = "file"
# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class JobRowsIn(Schema):
    rows: list[dict[str, Any]] = Field(
        ..., min_length=1, description="Rows of feature values, as in the predict API."
    )


class JobCreatedOut(Schema):
    id: UUID
    status: str
    url: str


class RowErrorOut(Schema):
    row: int = Field(..., description="1-based data row (the header is not counted).")
    field: str | None
    message: str


class JobOut(Schema):
    id: UUID
    model: str
    version: int
    status: str
    progress: int = Field(..., description="Percent of rows processed.")
    rows_total: int
    rows_done: int
    rows_failed: int
    errors: list[RowErrorOut] = Field(..., description="The first per-row errors.")
    error: str | None = Field(..., description="Why the whole job failed, if it did.")
    input_name: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    result_url: str | None


REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": JobRowsIn.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    UPLOAD_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": "UTF-8 CSV with a header row of the model's features.",
                    }
                },
                "required": [UPLOAD_FIELD],
            }
        },
    },
}


def _absolute(request, name, job):
    return request.build_absolute_uri(reverse(f"api:{name}", kwargs={"job_id": job.pk}))


def _out(request, job):
    finished = job.status == BatchJobStatus.SUCCEEDED
    return {
        "id": job.pk,
        "model": job.model.name,
        "version": job.version.version,
        "status": job.status,
        "progress": job.progress,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "rows_failed": job.rows_failed,
        "errors": job.errors,
        "error": job.error or None,
        "input_name": job.input_name or None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "duration_seconds": job.duration,
        "result_url": _absolute(request, "get_job_result", job) if finished else None,
    }


def _submission(request):
    """(upload, rows) from a multipart CSV upload or a JSON body; refuses anything else."""
    if request.content_type == "multipart/form-data":
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > max_upload_bytes() + MULTIPART_OVERHEAD_BYTES:  # refused before reading it
            raise BadUpload(
                f"The upload is larger than the {max_upload_bytes() // 2**20} MB limit.",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        upload = request.FILES.get(UPLOAD_FIELD)
        if upload is None:
            raise BadUpload(
                f"Send the CSV file as the multipart field '{UPLOAD_FIELD}'.",
                HTTPStatus.BAD_REQUEST,
            )
        return upload, None
    if request.content_type == "application/json":
        return None, _json_rows(request)
    raise BadUpload(
        f"Send JSON {{\"rows\": [...]}} or a multipart CSV upload (field '{UPLOAD_FIELD}').",
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    )


def _json_rows(request):
    """The rows of a JSON body `{"rows": [...]}`, refused as the predict route refuses them."""
    try:
        data = json.loads(request.body)
    except RequestDataTooBig:
        raise BadUpload(
            "The JSON body is too large: upload the rows as a CSV file instead.",
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        ) from None
    except (ValueError, RecursionError) as exc:  # RecursionError: brackets nested too deep
        detail = "too deeply nested" if isinstance(exc, RecursionError) else str(exc)
        raise HttpError(HTTPStatus.BAD_REQUEST, f"Cannot parse the JSON body: {detail}") from None
    try:
        return JobRowsIn.model_validate(data).rows
    except ValidationError as exc:
        errors = json.loads(exc.json(include_url=False, include_input=False))
        raise NinjaValidationError(
            [{**error, "loc": ["body", *error["loc"]]} for error in errors]
        ) from None


@router.post(
    "/models/{name}/jobs",
    response={HTTPStatus.ACCEPTED: JobCreatedOut},
    auth=predict_auth,
    url_name="create_job",
    openapi_extra={
        "requestBody": REQUEST_BODY,
        "responses": {
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE: {"description": "Neither JSON nor a CSV upload."},
            HTTPStatus.SERVICE_UNAVAILABLE: {
                "description": "No production version, or the job queue is unavailable."
            },
        },
    },
)
def create_job(request, response: HttpResponse, name: str):
    """Start a batch job on the production version; reserves one quota unit per row."""
    try:
        upload, rows = _submission(request)
        job, quota = batch_job_submit(user=request.auth, model_name=name, upload=upload, rows=rows)
    except BadUpload as exc:
        raise HttpError(exc.status, str(exc)) from None
    except QueueUnavailable:
        raise HttpError(
            HTTPStatus.SERVICE_UNAVAILABLE, "The job queue is unavailable; try again shortly."
        ) from None
    for header, value in quota.headers().items():
        response[header] = value
    url = _absolute(request, "get_job", job)
    response["Location"] = url
    return Status(HTTPStatus.ACCEPTED, {"id": job.pk, "status": job.status, "url": url})


def _visible_job(request, job_id):
    job = (
        BatchJob.objects.for_user(request.auth)
        .select_related("model", "version")
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        raise Http404  # someone else's job looks exactly like a missing one
    return job


@router.get("/jobs/{job_id}", response=JobOut, url_name="get_job")
def get_job(request, job_id: UUID):
    """A job's status, progress, counts and first per-row errors (its owner or an admin)."""
    return _out(request, _visible_job(request, job_id))


@router.get(
    "/jobs/{job_id}/result",
    url_name="get_job_result",
    openapi_extra={
        "responses": {
            HTTPStatus.OK: {"description": "CSV", "content": {"text/csv": {}}},
            HTTPStatus.CONFLICT: {"description": "The job has not succeeded (yet)."},
        }
    },
)
def get_job_result(request, job_id: UUID):
    """The result CSV, streamed: input columns, prediction, probabilities, error per row."""
    job = _visible_job(request, job_id)
    if job.status != BatchJobStatus.SUCCEEDED:
        raise HttpError(
            HTTPStatus.CONFLICT,
            f"The job is {job.status}; its result is ready once it has succeeded.",
        )
    return result_response(job)


def result_response(job):
    """A succeeded job's result CSV, streamed from storage in blocks."""
    return FileResponse(
        default_storage.open(job.result_file.name, "rb"),
        as_attachment=True,
        filename=f"{job.model.name}-job-{str(job.pk)[:8]}.csv",
        content_type="text/csv",
    )
