"""Receivers: audit of logins, failed logins and logouts; cached quota limits kept fresh."""

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts import backends
from accounts.models import ApiToken, AuditAction, AuditEvent, User, UserQuota
from accounts.quotas import quota_limits_forget
from portal import memo
from portal.http import client_ip

LOGIN_FIELDS = ("username", "login", "email")


def _ip(request):
    return client_ip(request) if request is not None else None


def attempted_login(credentials):
    """The login name tried; Django already masks the password, we drop it entirely."""
    login = next((str(credentials[f]) for f in LOGIN_FIELDS if credentials.get(f)), "")
    return login[:150]


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender, request, user, **kwargs):
    AuditEvent.objects.record(AuditAction.LOGIN, actor=user, target=user, ip=_ip(request))


@receiver(user_logged_out, dispatch_uid="accounts.audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        AuditEvent.objects.record(AuditAction.LOGOUT, actor=user, target=user, ip=_ip(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    AuditEvent.objects.record(
        AuditAction.LOGIN_FAILED, details={"login": attempted_login(credentials)}, ip=_ip(request)
    )


def _limits_changed(user_ids):
    # Now, for this transaction's own reads; again after commit, in case another request
    # cached the old limits in between.
    for user_id in user_ids:
        quota_limits_forget(user_id)
        transaction.on_commit(lambda user_id=user_id: quota_limits_forget(user_id))


@receiver(
    [post_save, post_delete], sender=UserQuota, dispatch_uid="accounts.quota_override_changed"
)
def _quota_override_changed(sender, instance, **kwargs):
    _limits_changed([instance.user_id])


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts.role_changed")
def _role_changed(sender, instance, action, reverse, pk_set, **kwargs):
    # Limits follow the role; a role is group membership, changed from either side.
    if not reverse:
        if action in ("post_add", "post_remove", "post_clear"):
            _limits_changed([instance.pk])
    elif action in ("post_add", "post_remove"):
        _limits_changed(pk_set or ())
    elif action == "pre_clear":
        _limits_changed(instance.user_set.values_list("pk", flat=True))


@receiver([post_save, post_delete], sender=ApiToken, dispatch_uid="accounts.token_changed")
def _token_changed(sender, instance, **kwargs):
    memo.bump()  # workers remember token rows by prefix


# ---------------------------------------------------------------- cached permission sets
def _permissions_changed(user_id=None):
    # Now for this transaction's own checks, after commit for other processes.
    action = (lambda: backends.forget_user(user_id)) if user_id else backends.bump_epoch
    action()
    transaction.on_commit(action)


@receiver([post_save, post_delete], sender=User, dispatch_uid="accounts.perms_user_changed")
def _user_changed(sender, instance, **kwargs):
    _permissions_changed(instance.pk)  # active, superuser


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="accounts.perms_groups")
@receiver(m2m_changed, sender=User.user_permissions.through, dispatch_uid="accounts.perms_user")
@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="accounts.perms_group")
def _grants_changed(sender, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        _permissions_changed()


@receiver(post_delete, sender=Group, dispatch_uid="accounts.perms_group_deleted")
@receiver(post_delete, sender=Permission, dispatch_uid="accounts.perms_permission_deleted")
def _grant_deleted(sender, **kwargs):
    _permissions_changed()
