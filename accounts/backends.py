"""Django's ModelBackend with each user's permission set kept in the shared cache.

Every API call checks a capability (has_perm); without this that is two queries per request.
A user's entry is dropped when the user changes, and an epoch bumped on any change to group
membership or to what a group or user is granted makes every entry stale at once.
"""

import logging

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

from portal import memo

logger = logging.getLogger(__name__)
EPOCH_KEY = "perms:epoch"
# Changes drop entries at once; the TTL only bounds what a missed signal could leave behind.
TTL_SECONDS = 300


def _user_key(user_id):
    return f"perms:user:{user_id}"


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if hasattr(user_obj, "_perm_cache"):
            return user_obj._perm_cache
        key = _user_key(user_obj.pk)
        try:
            found = cache.get_many([key, EPOCH_KEY])
        except Exception:  # noqa: BLE001 - no cache: ask the database, as ModelBackend does
            logger.warning("permission cache unavailable")
            return super().get_all_permissions(user_obj)
        epoch = found.get(EPOCH_KEY, 0)
        cached = found.get(key)
        if cached is not None and cached[0] == epoch:
            user_obj._perm_cache = cached[1]
            return cached[1]
        perms = super().get_all_permissions(user_obj)
        cache.set(key, (epoch, perms), TTL_SECONDS)
        return perms


def forget_user(user_id):
    cache.delete(_user_key(user_id))
    memo.bump()  # remembered tokens carry their user, and the user its permissions


def bump_epoch():
    memo.bump()
    try:
        cache.incr(EPOCH_KEY)
    except ValueError:  # no epoch yet
        cache.set(EPOCH_KEY, 1, None)
