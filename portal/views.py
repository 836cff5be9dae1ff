"""Dashboard and the friendly error pages."""

from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_GET

from accounts.models import ApiToken
from accounts.quotas import quota_statuses
from accounts.roles import role_of

API_PREFIX = "/api/"


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
