"""allauth adapter: closed signup, client address and lockout keys, rate-limited logins audited."""

import ipaddress

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import get_ip
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AuditAction, AuditEvent
from accounts.signals import attempted_login
from portal.http import client_ip


class ClosedSignupAdapter(DefaultAccountAdapter):
    """Nobody signs up: admins create or invite users (portal Users page, admin, set_role)."""

    def is_open_for_signup(self, request):
        return False

    def get_client_ip(self, request):
        # The portal's one trusted-proxy rule (TRUSTED_PROXY_COUNT), so rate-limit counters
        # and audit rows see the same address. allauth's own (ALLAUTH_TRUSTED_PROXY_COUNT)
        # would be a second setting to keep equal, and answers 500 to a short X-Forwarded-For.
        try:
            return str(ipaddress.ip_address(client_ip(request) or ""))
        except ValueError:
            raise PermissionDenied("Unable to determine client IP address") from None

    def _get_login_attempts_cache_key(self, request, **credentials):
        # allauth counts failed logins per account ("5/5m/key"), so five guesses from anywhere
        # lock the owner out. Counted per account and address, a stranger's guesses lock out
        # only the stranger; the per-address limit still caps guessing across accounts. The
        # address is taken as allauth's per-address limit takes it (IPv6 by its /64).
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}@{get_ip(request)}"

    def pre_authenticate(self, request, **credentials):
        # A rate-limited attempt never reaches authenticate(), so Django's user_login_failed
        # (which audits wrong passwords) is not sent for it: audit it here.
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            AuditEvent.objects.record(
                AuditAction.LOGIN_RATE_LIMITED,
                details={"login": attempted_login(credentials)},
                ip=self.get_client_ip(request),
            )
            raise
