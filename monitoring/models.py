"""Drift reports: a window of logged traffic compared with a version's reference statistics."""

from django.db import models
from django.db.models import Q

DEFAULT_PSI_WARN = 0.1
DEFAULT_PSI_ALERT = 0.2
DEFAULT_P_VALUE = 0.05
DEFAULT_DISTANCE = 0.1
DEFAULT_PERFORMANCE_MARGIN = 0.05
DEFAULT_PERFORMANCE_MIN_LABELS = 50


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


class MonitoringSettings(models.Model):
    """A model's alert thresholds (drift and live performance); without a row, the defaults."""

    model = models.OneToOneField(
        "models_registry.MLModel", on_delete=models.CASCADE, related_name="monitoring_settings"
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
    performance_margin = models.FloatField(
        default=DEFAULT_PERFORMANCE_MARGIN,
        help_text="Alert when the live primary metric is worse than in training by more than this.",
    )
    performance_min_labels = models.PositiveIntegerField(
        default=DEFAULT_PERFORMANCE_MIN_LABELS,
        help_text="Labelled rows needed before live performance can raise an alert.",
    )

    class Meta:
        verbose_name = "monitoring settings"
        verbose_name_plural = "monitoring settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(psi_warn__gt=0) & Q(psi_alert__gte=models.F("psi_warn")),
                name="drift_psi_thresholds_ordered",
            )
        ]

    def __str__(self):
        return f"monitoring settings of {self.model}"

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
    # Rows in the window served with this feature outside the schema's range (from the log).
    out_of_range = models.PositiveBigIntegerField(default=0, db_default=0)
    # {"labels", "reference": proportions, "current": counts} per bucket, for the drift page.
    histogram = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=DriftStatus.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["report", "id"]
        indexes = [
            models.Index(fields=["model", "feature", "created_at"], name="featuredrift_series_idx"),
        ]

    def __str__(self):
        return f"{self.feature}: {self.status}"


# ---------------------------------------------------------------- traffic rollups
# Latency buckets in milliseconds, as Prometheus' `le` bounds: bucket i holds latencies in
# (bound i-1, bound i], the last one everything slower than the last bound.
LATENCY_BOUNDS_MS = (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
LATENCY_FIELDS = tuple(f"latency_b{i}" for i in range(len(LATENCY_BOUNDS_MS) + 1))


class TrafficRollup(models.Model):
    """Counters of one version's (and arm's) logged predictions over one period.

    The prediction log's writer adds every inserted batch to the minute and hour rollups in
    the same statement, so they count exactly what the log holds, and pages never scan it.
    """

    model_name = models.CharField(max_length=100)
    version_number = models.PositiveIntegerField()
    arm = models.CharField(max_length=50, blank=True)
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)
    latency_ms_sum = models.FloatField(default=0)
    # Rows served with a value outside the training range (models that do not enforce it).
    out_of_range_rows = models.PositiveBigIntegerField(default=0, db_default=0)
    for _name in LATENCY_FIELDS:  # fifteen counters, one per latency bucket
        locals()[_name] = models.PositiveBigIntegerField(default=0)
    del _name

    class Meta:
        abstract = True

    def latency_counts(self):
        return [getattr(self, name) for name in LATENCY_FIELDS]


class TrafficMinute(TrafficRollup):
    """A minute of traffic: the last hour's and day's charts."""

    minute = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "model_name", "version_number", "arm"],
                name="trafficminute_unique",
            )
        ]
        indexes = [
            models.Index(fields=["model_name", "minute"], name="trafficminute_model_idx"),
        ]

    def __str__(self):
        return f"{self.model_name} v{self.version_number} {self.arm or '-'} {self.minute:%H:%M}"


class TrafficHour(TrafficRollup):
    """An hour of traffic: the week's charts, at a sixtieth of the rows to read."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "model_name", "version_number", "arm"],
                name="traffichour_unique",
            )
        ]
        indexes = [models.Index(fields=["model_name", "hour"], name="traffichour_model_idx")]

    def __str__(self):
        return (
            f"{self.model_name} v{self.version_number} {self.arm or '-'} {self.hour:%Y-%m-%d %H}h"
        )


# ---------------------------------------------------------------- live performance
SCORE_BINS = 50  # binary classifiers: P(second class) counted in this many equal-width bins


class PerformanceDay(models.Model):
    """How one version (and arm) did on the predictions of one day, by the feedback so far.

    Recomputed from Feedback whenever feedback on that day's predictions changes
    (monitoring.performance); live metrics over any window merge these rows.
    """

    day = models.DateField()
    model_name = models.CharField(max_length=100)
    version_number = models.PositiveIntegerField()
    arm = models.CharField(max_length=50, blank=True)
    labelled = models.PositiveBigIntegerField(default=0)
    # Classification: {true label: {predicted label: rows}}.
    confusion = models.JSONField(default=dict, blank=True)
    # Binary classification: {"positive": [...], "negative": [...]} P(second class) histograms.
    scores = models.JSONField(default=dict, blank=True)
    # Regression.
    squared_error = models.FloatField(default=0)
    absolute_error = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "model_name", "version_number", "arm"],
                name="performanceday_unique",
            )
        ]
        indexes = [models.Index(fields=["model_name", "day"], name="performanceday_model_idx")]

    def __str__(self):
        return f"{self.model_name} v{self.version_number} {self.arm or '-'} {self.day}"


class PerformanceCheck(models.Model):
    """The latest comparison of a version's live primary metric with its training value."""

    version = models.OneToOneField(
        "models_registry.ModelVersion", on_delete=models.CASCADE, related_name="performance_check"
    )
    metric = models.CharField(max_length=30)
    live = models.FloatField(null=True, blank=True)
    training = models.FloatField(null=True, blank=True)
    labelled = models.PositiveBigIntegerField(default=0)
    alerting = models.BooleanField(default=False)
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.version}: {self.metric} live {self.live} vs {self.training}"
