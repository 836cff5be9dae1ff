"""Drift reports: a window of logged traffic compared with a version's reference statistics."""

from django.db import models
from django.db.models import Q

DEFAULT_PSI_WARN = 0.1
DEFAULT_PSI_ALERT = 0.2
DEFAULT_P_VALUE = 0.05
DEFAULT_DISTANCE = 0.1


class DriftStatus(models.TextChoices):
    OK = "ok", "OK"
    WARN = "warn", "Warning"
    ALERT = "alert", "Alert"
    NOT_ENOUGH_DATA = "not_enough_data", "Not enough data"


# Worst first: a report's overall status is its worst feature's.
SEVERITY = {
    DriftStatus.NOT_ENOUGH_DATA: 0,
    DriftStatus.OK: 1,
    DriftStatus.WARN: 2,
    DriftStatus.ALERT: 3,
}
VERDICTS = (DriftStatus.OK, DriftStatus.WARN, DriftStatus.ALERT)


class DriftMethod(models.TextChoices):
    KS = "ks", "Kolmogorov-Smirnov"
    WASSERSTEIN = "wasserstein", "Wasserstein distance (normed)"
    CHI_SQUARE = "chi_square", "Chi-square"
    JENSEN_SHANNON = "jensen_shannon", "Jensen-Shannon distance"


class DriftSettings(models.Model):
    """Per-model thresholds; a model without a row uses the defaults."""

    model = models.OneToOneField(
        "models_registry.MLModel", on_delete=models.CASCADE, related_name="drift_settings"
    )
    psi_warn = models.FloatField(default=DEFAULT_PSI_WARN)
    psi_alert = models.FloatField(default=DEFAULT_PSI_ALERT)
    p_value = models.FloatField(
        default=DEFAULT_P_VALUE, help_text="KS and chi-square: drift below this p-value."
    )
    distance = models.FloatField(
        default=DEFAULT_DISTANCE,
        help_text="Wasserstein and Jensen-Shannon: drift at or above this distance.",
    )

    class Meta:
        verbose_name = "drift settings"
        verbose_name_plural = "drift settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(psi_warn__gt=0) & Q(psi_alert__gte=models.F("psi_warn")),
                name="drift_psi_thresholds_ordered",
            )
        ]

    def __str__(self):
        return f"drift settings of {self.model}"

    @classmethod
    def for_model(cls, model):
        """The saved row, or an unsaved one holding the defaults."""
        return cls.objects.filter(model=model).first() or cls(model=model)


class DriftReportQuerySet(models.QuerySet):
    def decisive(self):
        """Reports that reached a verdict; 'not enough data' neither raises nor clears alerts."""
        return self.filter(status__in=VERDICTS)


class DriftReport(models.Model):
    model = models.ForeignKey(
        "models_registry.MLModel", on_delete=models.CASCADE, related_name="drift_reports"
    )
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.CASCADE, related_name="drift_reports"
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    rows = models.PositiveBigIntegerField()
    # Histograms are built on a random sample of records past a size; this says on how many.
    counted_rows = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=DriftStatus.choices)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = DriftReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["version", "-created_at"], name="driftreport_version_time_idx"),
            models.Index(fields=["model", "-created_at"], name="driftreport_model_time_idx"),
        ]

    def __str__(self):
        return f"drift of {self.model} v{self.version.version} at {self.created_at:%Y-%m-%d %H:%M}"


class FeatureDrift(models.Model):
    """One feature's result in one report.

    Model, version and time are copied from the report so "drift of feature F over time" is
    one index range scan, no join.
    """

    report = models.ForeignKey(DriftReport, on_delete=models.CASCADE, related_name="features")
    model = models.ForeignKey("models_registry.MLModel", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.CASCADE, related_name="+"
    )
    feature = models.CharField(max_length=200)
    method = models.CharField(max_length=20, choices=DriftMethod.choices)
    score = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    psi = models.FloatField(null=True, blank=True)
    # Values of this feature in the window (missing ones not counted).
    values = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=DriftStatus.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["report", "id"]
        indexes = [
            models.Index(fields=["model", "feature", "created_at"], name="featuredrift_series_idx"),
        ]

    def __str__(self):
        return f"{self.feature}: {self.status}"
