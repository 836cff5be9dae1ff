"""The current request id, shared by the request middleware, logs and Celery tasks."""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# Client-supplied ids are echoed into logs and headers, so only a safe shape is accepted.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id():
    return uuid.uuid4().hex


def client_request_id(value):
    """The client's X-Request-ID when it is safe to echo, else ''."""
    if value and REQUEST_ID_PATTERN.match(value):
        return value
    return ""


def current_request_id():
    return request_id_var.get()
