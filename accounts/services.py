"""Account workflows that write and audit: tokens, roles, users, quotas."""

import contextlib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import quota_counters
from accounts.models import (
    ApiToken,
    AuditAction,
    AuditEvent,
    QuotaKind,
    QuotaUsage,
    Role,
    TokenScope,
    User,
    UserQuota,
    hash_token,
)
from accounts.quotas import quota_day
from accounts.roles import allowed_scopes, role_group, role_of
from accounts.tokens import generate_token
from portal import memo


@transaction.atomic
def token_create(*, user, name, scope=TokenScope.READ, expires_days=None, actor=None, ip=None):
    """Create a token and return (ApiToken, plaintext); the plaintext exists only here."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    scope = TokenScope(scope)
    role = role_of(user)
    if scope not in allowed_scopes(role):
        raise ValidationError(
            {
                "scope": f"A {role.label if role else 'user without a role'} cannot hold a "
                f"'{scope.value}' token."
            }
        )
    expires_days = settings.TOKEN_DEFAULT_EXPIRY_DAYS if expires_days is None else expires_days
    if not 1 <= expires_days <= settings.TOKEN_MAX_EXPIRY_DAYS:
        raise ValidationError(
            {"expires_days": f"Expiry must be 1 to {settings.TOKEN_MAX_EXPIRY_DAYS} days."}
        )
    prefix, plaintext = generate_token()
    token = ApiToken(
        user=user,
        name=name[:100],
        scope=scope,
        prefix=prefix,
        expires_at=timezone.now() + timedelta(days=expires_days),
    )
    token.token_hash = hash_token(plaintext)
    token.save()
    AuditEvent.objects.record(
        AuditAction.TOKEN_CREATED,
        actor=actor or user,
        target=token,
        details={"owner": user.username, "scope": scope.value, "expires_days": expires_days},
        ip=ip,
    )
    return token, plaintext


@transaction.atomic
def token_revoke(*, token, actor, ip=None):
    """Revoke a token (idempotent: revoking twice records nothing new)."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db(fields=["revoked_at"])
    if updated:
        memo.bump()  # workers remember the token's row
        AuditEvent.objects.record(
            AuditAction.TOKEN_REVOKED,
            actor=actor,
            target=token,
            details={"owner": token.user.username},
            ip=ip,
        )
    return token


@transaction.atomic
def role_set(*, user, role, actor=None, ip=None):
    role = Role(role)
    previous = role_of(user)
    user.groups.remove(*[role_group(r) for r in Role if r != role])
    user.groups.add(role_group(role))
    # Only admins reach Django admin; demoting a superuser removes the superuser bit too.
    user.is_staff = role == Role.ADMIN
    if role != Role.ADMIN:
        user.is_superuser = False
    user.save(update_fields=["is_staff", "is_superuser"])
    user._role_cache = role
    if previous != role:
        AuditEvent.objects.record(
            AuditAction.ROLE_CHANGED,
            actor=actor,
            target=user,
            details={"from": previous.value if previous else None, "to": role.value},
            ip=ip,
        )
    return user


@transaction.atomic
def user_create(*, username, role, email="", password=None, actor=None, ip=None):
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": "A username is required."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"User {username!r} already exists."})
    user = User(username=username, email=email or "")
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    AuditEvent.objects.record(
        AuditAction.USER_CREATED,
        actor=actor,
        target=user,
        details={"role": Role(role).value},
        ip=ip,
    )
    role_set(user=user, role=role, actor=actor, ip=ip)
    return user


QUOTA_FIELDS = {f"{kind.value}_per_day": kind for kind in QuotaKind}


@transaction.atomic
def quota_set(*, user, actor=None, ip=None, **limits):
    """Set per-user overrides; a value of None returns that kind to the role default."""
    unknown = set(limits) - set(QUOTA_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown quota fields: {', '.join(sorted(unknown))}")
    for field, value in limits.items():
        if value is not None and value < 0:
            raise ValidationError({field: "A quota cannot be negative."})
    quota, _ = UserQuota.objects.select_for_update().get_or_create(user=user)
    changes = {}
    for field, value in limits.items():
        before = getattr(quota, field)
        if before != value:
            changes[field] = {"from": before, "to": value}
            setattr(quota, field, value)
    if changes:
        quota.save()
        AuditEvent.objects.record(
            AuditAction.QUOTA_CHANGED, actor=actor, target=user, details=changes, ip=ip
        )
    return quota


def _counters_zero(user_id, kinds, day):
    for kind in kinds:
        # Without Redis there is no counter to reset: the database's zero is what counts.
        with contextlib.suppress(quota_counters.Unavailable):
            quota_counters.counter_put(user_id=user_id, kind=kind.value, day=day, used=0)


@transaction.atomic
def quota_usage_reset(*, user, actor=None, ip=None, kinds=None):
    """Zero today's usage (an operator's escape hatch, audited)."""
    kinds = [QuotaKind(kind) for kind in (kinds or QuotaKind)]
    day = quota_day()
    cleared = QuotaUsage.objects.filter(user=user, kind__in=kinds, day=day).update(used=0)
    transaction.on_commit(lambda: _counters_zero(user.pk, kinds, day))
    AuditEvent.objects.record(
        AuditAction.QUOTA_USAGE_RESET,
        actor=actor,
        target=user,
        details={"kinds": [k.value for k in kinds], "rows": cleared},
        ip=ip,
    )
    return cleared
