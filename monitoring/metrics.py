"""The portal's own Prometheus metrics, named portal_<thing>_<unit>."""

from prometheus_client import Counter

quota_rejections = Counter(
    "portal_quota_rejections_total", "Requests refused because a daily quota was used up", ["kind"]
)
api_auth_failures = Counter(
    "portal_api_auth_failures_total", "API requests refused at authentication", ["reason"]
)
