"""A per-process memo for the facts every API request looks up, kept honest by one shared key.

A predict call needs its token and user, the user's permissions and quota limits, whether the
model is restricted, its running experiment and its production version. Each lives in the
database (and most in the shared cache too), but they change rarely. Within a request, the
first lookup reads one shared generation key; entries remembered under that generation are
reused, entries from an older one are computed again. Whatever changes one of these facts
calls `bump()`, which moves the generation on commit, so every worker sees the change on its
next request: one cache read per request instead of half a dozen lookups.

Outside a request (Celery tasks, commands, shells) nothing is remembered: lookups go straight
to their source, as if this module did not exist.
"""

import logging
import time
import uuid
from contextvars import ContextVar
from threading import Lock

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

GENERATION_KEY = "memo:generation"
# A backstop only: a change made behind the ORM's back (raw SQL) is seen within this time.
MAX_AGE_SECONDS = 60
MAX_ENTRIES = 10_000

_UNCHECKED = "unchecked"
# None outside a request; _UNCHECKED until the request's first lookup reads the generation.
_generation = ContextVar("memo_generation", default=None)
_entries = {}  # key -> (generation, expires at, value)
_lock = Lock()


def request_started():
    """Open a request's scope (returns the token `request_finished` needs)."""
    return _generation.set(_UNCHECKED)


def request_finished(token):
    _generation.reset(token)


def _current_generation():
    generation = _generation.get()
    if generation != _UNCHECKED:
        return generation
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
            generation = cache.get(GENERATION_KEY)
    except Exception:  # noqa: BLE001 - no shared cache: no memo, every lookup goes to source
        logger.warning("memo generation unreadable; looking everything up")
        generation = None
    _generation.set(generation)
    return generation


def remember(key, compute):
    """compute(), or the value remembered for `key` under the current generation."""
    if _generation.get() is None:
        return compute()
    generation = _current_generation()
    if generation is None:
        return compute()
    now = time.monotonic()
    hit = _entries.get(key)
    if hit is not None and hit[0] == generation and hit[1] > now:
        return hit[2]
    value = compute()
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = (generation, now + MAX_AGE_SECONDS, value)
    return value


def forget_local():
    with _lock:
        _entries.clear()


def _publish():
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 - entries still expire after MAX_AGE_SECONDS
        logger.warning("memo generation not moved; workers catch up within %ss", MAX_AGE_SECONDS)


def bump():
    """Something remembered may have changed: everyone's memo is dropped when this commits.

    This request remembers nothing more: what it reads now may be its own uncommitted change.
    """
    forget_local()
    if _generation.get() is not None:
        _generation.set(None)
    transaction.on_commit(_publish)
