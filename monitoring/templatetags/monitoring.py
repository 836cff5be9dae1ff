"""Filters and tags for the monitoring pages and the alert banners on a model's pages."""

from django import template

from monitoring.models import PerformanceCheck

register = template.Library()

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "log_loss": "Log loss",
}


@register.filter
def metric_label(name):
    return METRIC_LABELS.get(name, name)


@register.filter
def get_metric(metrics, name):
    return (metrics or {}).get(name)


@register.filter
def percent(ratio):
    """0.0123 -> '1.2%'; small but non-zero shares keep a digit so they never read as 0%."""
    if ratio is None:
        return ""
    share = ratio * 100
    if 0 < share < 0.1:
        return "<0.1%"
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


@register.filter
def bytes_human(value):
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


@register.simple_tag
def performance_alert_for(model):
    """The production version's live-performance check if it is alerting, else None."""
    if model is None or getattr(model, "pk", None) is None:
        return None
    return (
        PerformanceCheck.objects.filter(
            version__model=model, version__stage="production", alerting=True
        )
        .select_related("version")
        .defer("version__reference_stats", "version__input_schema")
        .first()
    )
