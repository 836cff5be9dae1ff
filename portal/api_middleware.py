"""A safety net: any error under /api/ that is not JSON (Django's, ninja's 405) becomes JSON.

The causes are handled where they arise (portal.api_errors, portal.views); this catches what
slips past them, such as Django's technical 404 page in DEBUG or ninja's plain 405. A JSON
body is left as it is, so routes with their own error shape (OpenAI's for the LLM proxy) keep
it.
"""

from http import HTTPStatus

from django.http import JsonResponse

API_PREFIX = "/api/"
# The body is replaced, so these would describe the old one.
DROPPED_HEADERS = {"content-type", "content-length", "content-encoding", "content-disposition"}


def _is_json(response):
    media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _detail(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_error(response):
    """`response` with its body replaced by `{"detail": ...}`, status and headers kept."""
    replacement = JsonResponse(
        {"detail": _detail(response.status_code)}, status=response.status_code
    )
    for name, value in response.items():
        if name.lower() not in DROPPED_HEADERS:
            replacement[name] = value
    replacement.cookies = response.cookies
    return replacement


class JsonApiErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= HTTPStatus.BAD_REQUEST
            and request.path.startswith(API_PREFIX)
            and not _is_json(response)
        ):
            return _json_error(response)
        return response
