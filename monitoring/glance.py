"""A version's health at a glance for the overview: its latest drift verdict and live metric.

Two cheap reads per page whatever the log holds: the versions on the table with their newest
drift report's status (a subquery on the (version, -created_at) index), and their latest
performance check.
"""

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from models_registry.models import ModelVersion
from monitoring.models import DriftReport, DriftStatus, PerformanceCheck


@dataclass(frozen=True)
class Health:
    drift: str | None  # a DriftStatus value, None before the first check
    check: PerformanceCheck | None  # None before the first feedback

    @property
    def drift_label(self):
        return DriftStatus(self.drift).label if self.drift else None


def version_health(keys):
    """{(model name, version number): Health} for the (model, version) pairs given."""
    keys = set(keys)
    if not keys:
        return {}
    newest = DriftReport.objects.filter(version=OuterRef("pk")).order_by("-created_at", "-id")
    versions = (
        ModelVersion.objects.filter(
            model__name__in={name for name, _ in keys},
            version__in={number for _, number in keys},
        )
        .annotate(drift=Subquery(newest.values("status")[:1]))
        .values_list("id", "model__name", "version", "drift")
    )
    found = {
        pk: ((name, number), drift)
        for pk, name, number, drift in versions
        if (name, number) in keys
    }
    checks = {c.version_id: c for c in PerformanceCheck.objects.filter(version_id__in=found)}
    return {key: Health(drift=drift, check=checks.get(pk)) for pk, (key, drift) in found.items()}
