"""Dashboard and the friendly error pages."""

from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django.views.decorators.http import require_GET

from accounts.models import ApiToken
from accounts.quotas import quota_statuses
from accounts.roles import role_of
from portal.api_middleware import API_PREFIX


@login_required
@require_GET
def dashboard(request):
    user = request.user
    tokens = ApiToken.objects.for_user(user)
    return render(
        request,
        "portal/dashboard.html",
        {
            "role": role_of(user),
            "quotas": quota_statuses(user),
            "active_tokens": tokens.active().count(),
            "recent_tokens": tokens.active()[:5],
        },
    )


def _error(request, status, template, detail):
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": detail}, status=status)
    return render(request, template, {"status": status}, status=status)


def bad_request(request, exception=None):
    # Django's own refusals (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a host not allowed),
    # raised before or outside any API view.
    if not request.path.startswith(API_PREFIX):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            {"detail": "The request body is too large."},
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    return JsonResponse({"detail": "Bad request"}, status=HTTPStatus.BAD_REQUEST)


def permission_denied(request, exception=None):
    return _error(request, HTTPStatus.FORBIDDEN, "403.html", "Forbidden")


def page_not_found(request, exception=None):
    return _error(request, HTTPStatus.NOT_FOUND, "404.html", "Not found")


def server_error(request):
    # Rendered without a context processor chain that could fail again.
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": "Internal server error"}, status=HTTPStatus.INTERNAL_SERVER_ERROR
        )
    return HttpResponseServerError(loader.get_template("500.html").render())
