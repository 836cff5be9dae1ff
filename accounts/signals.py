"""Audit receivers for logins, failed logins and logouts."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.models import AuditAction, AuditEvent
from portal.http import client_ip

LOGIN_FIELDS = ("username", "login", "email")


def _ip(request):
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender, request, user, **kwargs):
    AuditEvent.objects.record(AuditAction.LOGIN, actor=user, target=user, ip=_ip(request))


@receiver(user_logged_out, dispatch_uid="accounts.audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        AuditEvent.objects.record(AuditAction.LOGOUT, actor=user, target=user, ip=_ip(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # Only the login name is kept; Django already masks the password, we drop it entirely.
    login = next((str(credentials[f]) for f in LOGIN_FIELDS if credentials.get(f)), "")
    AuditEvent.objects.record(
        AuditAction.LOGIN_FAILED, details={"login": login[:150]}, ip=_ip(request)
    )
