"""Small request helpers shared by views, the API and the audit log."""

from django.conf import settings
from django.shortcuts import render


def client_ip(request):
    """The caller's address, trusting only as many X-Forwarded-For hops as we run proxies."""
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return remote


def render_page(request, template_name, context, *, partial=None, status=200):
    """Render the page, or only its named partial when htmx asked for a fragment."""
    if partial and getattr(request, "htmx", False) and not request.htmx.boosted:
        template_name = f"{template_name}#{partial}"
    return render(request, template_name, context, status=status)
