"""JSON error responses shared by every NinjaAPI instance: always `{"detail": ...}`."""

from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja.errors import AuthenticationError

from accounts.quotas import QuotaExceeded
from monitoring import metrics
from predictions.services import (
    InvalidInputs,
    ModelNotFound,
    NoProductionVersion,
    PredictionFailed,
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
        return api.create_response(
            request, {"detail": exc.errors}, status=HTTPStatus.UNPROCESSABLE_ENTITY
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
