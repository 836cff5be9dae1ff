"""Request id on every request and response, one JSON log line per request, and the CSP."""

import logging
import time

from django.conf import settings

from portal import memo
from portal.http import client_ip
from portal.request_context import (
    REQUEST_ID_HEADER,
    client_request_id,
    new_request_id,
    request_id_var,
)

access_log = logging.getLogger("portal.request")


class RequestIdMiddleware:
    """`request.request_id` is ours, always fresh; `request.client_request_id` the client's.

    A client may send any id, twice or someone else's, so nothing keyed by an id (the
    prediction log) may take the client's. The response header and log lines carry the
    client's id when it sent one (correlation), else ours.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_request_id = client_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = new_request_id()
        request_id = request.client_request_id or request.request_id
        token = request_id_var.set(request_id)
        scope = memo.request_started()
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._log(request, response.status_code, started)
            return response
        finally:
            memo.request_finished(scope)
            request_id_var.reset(token)

    @staticmethod
    def _log(request, status, started):
        user = getattr(request, "user", None)
        api_user = getattr(request, "auth", None)
        user_id = getattr(api_user, "pk", None) or (
            user.pk if user is not None and user.is_authenticated else None
        )
        # The path only: query strings can carry secrets and are not needed to debug.
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user_id,
                "client_ip": client_ip(request),
            },
        )


class ContentSecurityPolicyMiddleware:
    """settings.CONTENT_SECURITY_POLICY on every response that does not set its own."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        # DEBUG's own error page runs inline scripts; no production response is exempt.
        debug_error_page = settings.DEBUG and response.status_code >= 500
        if self.policy and not debug_error_page:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
