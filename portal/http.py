"""Small request helpers shared by views, the API and the audit log."""

import ipaddress

from django.conf import settings
from django.shortcuts import render


def client_ip(request):
    """The caller's address, trusting only as many X-Forwarded-For hops as we run proxies.

    Always a valid address or None: the audit log stores it in an `inet` column, and a request
    that bypassed the proxy could put anything in X-Forwarded-For.
    """
    remote = _address(request.META.get("REMOTE_ADDR"))
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            return _address(chain[-hops]) or remote
    return remote


def _address(text):
    try:
        return str(ipaddress.ip_address(text or ""))
    except ValueError:
        return None


def render_page(request, template_name, context, *, partial=None, status=200):
    """Render the page, or only its named partial when htmx asked for a fragment."""
    if partial and getattr(request, "htmx", False) and not request.htmx.boosted:
        template_name = f"{template_name}#{partial}"
    return render(request, template_name, context, status=status)
