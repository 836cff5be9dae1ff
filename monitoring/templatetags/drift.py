"""Drift state for any page showing a model, without its view having to know about drift."""

from django import template

from monitoring.models import DriftReport, DriftStatus

register = template.Library()


@register.simple_tag
def drift_alert_for(model):
    """The production version's latest verdict if it is an alert (with its features), else None."""
    if model is None or getattr(model, "pk", None) is None:
        return None
    report = (
        DriftReport.objects.decisive()
        .filter(model=model, version__stage="production")
        .select_related("version")
        .defer("version__reference_stats", "version__input_schema")
        .first()
    )
    if report is None or report.status != DriftStatus.ALERT:
        return None
    features = report.features.filter(status=DriftStatus.ALERT).values_list("feature", flat=True)
    return {"report": report, "features": list(features)}
