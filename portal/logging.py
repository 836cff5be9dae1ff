"""JSON log lines with the request id, and a last line of defence against leaked secrets."""

import logging
import re

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from portal.request_context import current_request_id

REDACTED = "[redacted]"
SECRET_PATTERNS = [
    # API tokens, whatever surrounds them.
    (re.compile(r"mlp_[A-Za-z0-9]{8}_[A-Za-z0-9_\-]{20,}"), "mlp_" + REDACTED),
    # Authorization headers and bearer credentials.
    (
        re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"',}\s]+(\s+[^\"',}\s]+)?"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1" + REDACTED),
    # password=..., "password": "...", secret/api_key/token fields in any key=value shape.
    (
        re.compile(
            r"(?i)([\"']?(?:password\d?|passwd|secret|api_key|token)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\"'&,}\s]+"
        ),
        r"\1" + REDACTED,
    ),
    # allauth password-reset keys live in the URL path.
    (re.compile(r"(/password/reset/key/)[^/\s\"']+"), r"\1" + REDACTED),
]


def redact(text):
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


SENSITIVE_KEY = re.compile(r"(?i)password|passwd|secret|token|authorization|api_key|cookie")
# Attributes every LogRecord has; never treated as sensitive extras.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


class RedactSecretsFilter(logging.Filter):
    """Rewrite the rendered message and string extras so no secret reaches a handler."""

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in list(vars(record).items()):
            if key in ("msg", "args"):
                continue
            if key not in _RECORD_ATTRIBUTES and SENSITIVE_KEY.search(key):
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def process_log_record(self, log_record):
        for key in ("color_message",):
            log_record.pop(key, None)
        return super().process_log_record(log_record)

    def formatException(self, ei):
        return redact(super().formatException(ei))
