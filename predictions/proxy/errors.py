"""The proxy's errors: what an upstream did wrong, and what the client is told (OpenAI's shape)."""

from http import HTTPStatus


class UpstreamError(Exception):
    """One deployment failed. `retryable` ones (429, 5xx, timeouts, connection) fall back."""

    RATE_LIMITED = "rate_limited"
    SERVER = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    BAD_REQUEST = "bad_request"  # the upstream refused the request itself: no fallback helps
    AUTH = "auth_error"  # the provider refused our key: a configuration problem
    MALFORMED = "malformed_response"

    RETRYABLE = frozenset({RATE_LIMITED, SERVER, TIMEOUT, CONNECTION, MALFORMED})

    def __init__(self, kind, message, *, status=None, retry_after=None):
        super().__init__(message)
        self.kind = kind
        self.status = status  # the upstream's HTTP status, when it answered
        self.message = message  # safe to show: never a key, never a full upstream body
        self.retry_after = retry_after  # seconds, from the upstream's Retry-After

    @property
    def retryable(self):
        return self.kind in self.RETRYABLE


class ProxyError(Exception):
    """An answer to the client in OpenAI's error shape, with its HTTP status."""

    def __init__(self, status, message, *, type="invalid_request_error", code=None, param=None):
        super().__init__(message)
        self.status = HTTPStatus(status)
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = {}

    def body(self):
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
