"""Keyset pagination over the prediction log: no OFFSET scans, no COUNT(*)."""

import base64
import binascii
from datetime import datetime

from django.db.models import Q

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class BadCursor(ValueError):
    pass


def encode_cursor(prediction):
    raw = f"{prediction.created_at.isoformat()}|{prediction.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor):
    try:
        created, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("Invalid cursor") from None


def filter_history(
    queryset,
    *,
    model=None,
    version=None,
    arm=None,
    status=None,
    since=None,
    until=None,
    user=None,
    client_request_id=None,
):
    if model:
        queryset = queryset.filter(model_name=model)
    if version:
        queryset = queryset.filter(version_number=version)
    if arm:
        queryset = queryset.filter(arm=arm)
    if status:
        queryset = queryset.filter(status=status)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    if user:
        queryset = queryset.filter(user__username=user)
    if client_request_id:
        queryset = queryset.filter(client_request_id=client_request_id)
    return queryset


def page(queryset, *, cursor=None, limit=DEFAULT_PAGE_SIZE):
    """Return (items, next_cursor) newest first, continuing after `cursor`."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    queryset = queryset.order_by("-created_at", "-id")
    if cursor:
        created, pk = decode_cursor(cursor)
        queryset = queryset.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=pk))
    items = list(queryset[: limit + 1])
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return items[:limit], next_cursor
