"""JSON error responses shared by every NinjaAPI instance: always `{"detail": ...}`.

Also documents them: `document_errors` adds each operation's error statuses to the OpenAPI
schema, by rule (a token → 401/403/429, a path parameter → 404, parameters or a body → 422,
a body → 400/413), plus any an operation declares itself in `openapi_extra["responses"]`.
"""

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError

from accounts.quotas import QuotaExceeded
from monitoring import metrics
from predictions.services import (
    InvalidInputs,
    ModelNotFound,
    NoProductionVersion,
    PredictionFailed,
)

# A request can hold a million bad fields; the answer shows this many and counts the rest.
MAX_ERRORS_SHOWN = 100
ERROR_SCHEMA_NAME = "Error"
ERROR_SCHEMA = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object"}},
            ],
            "description": "What went wrong; for 422, the first field-level errors.",
        },
        "error_count": {
            "type": "integer",
            "description": f"How many errors there were in all (at most {MAX_ERRORS_SHOWN} shown).",
        },
    },
    "required": ["detail"],
}
STANDARD_ERRORS = {
    HTTPStatus.BAD_REQUEST: "The body is not valid JSON (or not the declared type).",
    HTTPStatus.UNAUTHORIZED: "No token, or an unknown, expired or revoked one.",
    HTTPStatus.FORBIDDEN: "The token's scope or the user's role does not allow this.",
    HTTPStatus.NOT_FOUND: "No such object, or one you may not see.",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "The body is larger than the server accepts.",
    HTTPStatus.UNPROCESSABLE_ENTITY: (
        f"Invalid input: field-level errors (the first {MAX_ERRORS_SHOWN}) and `error_count`."
    ),
    HTTPStatus.TOO_MANY_REQUESTS: "Daily quota used up, or too many requests at once.",
}


def validation_failed(api, request, errors):
    """422 with the first MAX_ERRORS_SHOWN field-level errors and how many there were."""
    return api.create_response(
        request,
        {"detail": errors[:MAX_ERRORS_SHOWN], "error_count": len(errors)},
        status=HTTPStatus.UNPROCESSABLE_ENTITY,
    )


def install_error_handlers(api):
    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc):
        metrics.api_auth_failures.labels(reason=str(exc)).inc()
        response = api.create_response(
            request, {"detail": str(exc)}, status=HTTPStatus.UNAUTHORIZED
        )
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        detail = str(exc) or "You do not have permission to do this"
        return api.create_response(request, {"detail": detail}, status=HTTPStatus.FORBIDDEN)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, {"detail": "Not found"}, status=HTTPStatus.NOT_FOUND)

    @api.exception_handler(ModelNotFound)
    def model_not_found(request, exc):
        return api.create_response(
            request, {"detail": f"No model {exc}"}, status=HTTPStatus.NOT_FOUND
        )

    @api.exception_handler(NoProductionVersion)
    def no_production_version(request, exc):
        return api.create_response(
            request,
            {"detail": f"Model {exc} has no production version"},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )

    @api.exception_handler(PredictionFailed)
    def prediction_failed(request, exc):
        return api.create_response(
            request,
            {"detail": f"Model {exc} failed on these inputs; the failure is logged"},
            status=HTTPStatus.INTERNAL_SERVER_ERROR,
        )

    @api.exception_handler(InvalidInputs)
    def invalid_inputs(request, exc):
        return validation_failed(api, request, exc.errors)

    @api.exception_handler(NinjaValidationError)
    def invalid_parameters(request, exc):
        return validation_failed(api, request, exc.errors)

    @api.exception_handler(RequestDataTooBig)
    def body_too_large(request, exc):
        # Django would answer its HTML 400; the body was refused unread, for its size.
        limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20
        return api.create_response(
            request,
            {"detail": f"The request body is larger than the {limit_mb:g} MB limit."},
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )

    @api.exception_handler(QuotaExceeded)
    def quota_exceeded(request, exc):
        status = exc.status
        metrics.quota_rejections.labels(kind=status.kind).inc()
        response = api.create_response(
            request,
            {
                "detail": f"Daily quota exhausted: {status.used} of {status.limit} "
                f"{status.kind.replace('_', ' ')} used; it resets at "
                f"{status.resets_at:%Y-%m-%d %H:%M} UTC",
            },
            status=HTTPStatus.TOO_MANY_REQUESTS,
        )
        for name, value in status.headers(exceeded=True).items():
            response[name] = value
        return response


# ---------------------------------------------------------------- the OpenAPI document
def document_errors(schema):
    """Give every operation of an OpenAPI `schema` its error responses, all as `Error`."""
    schema["components"].setdefault("schemas", {})[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            for status in _standard_statuses(path, operation):
                responses.setdefault(status, {"description": STANDARD_ERRORS[status]})
            for status, response in list(responses.items()):
                if int(status) >= HTTPStatus.BAD_REQUEST and "content" not in response:
                    # A copy: openapi_extra's dicts are the routes' own module constants.
                    content = {"application/json": {"schema": reference}}
                    responses[status] = {**response, "content": content}
    return schema


def _standard_statuses(path, operation):
    statuses = []
    if operation.get("security"):
        # nginx's rate limit answers 429 on every route, as the quota does on predictions.
        statuses += [HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS]
    if "{" in path:
        statuses.append(HTTPStatus.NOT_FOUND)
    if "requestBody" in operation:
        statuses += [HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_ENTITY_TOO_LARGE]
    if "requestBody" in operation or operation.get("parameters"):
        statuses.append(HTTPStatus.UNPROCESSABLE_ENTITY)
    return statuses
