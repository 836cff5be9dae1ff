"""The prediction log: one row per predict request that reached a model, keyed by request id."""

from django.conf import settings
from django.db import models


class PredictionStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"


class PredictionQuerySet(models.QuerySet):
    def for_user(self, user):
        """Everyone's for those allowed to see all history, else the user's own."""
        if user.has_perm("accounts.view_all_history"):
            return self
        return self.filter(user=user)


class Prediction(models.Model):
    # Unique: a log write delivered twice (retry, redelivery, fallback) lands once.
    request_id = models.CharField(max_length=128, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model = models.ForeignKey(
        "models_registry.MLModel", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.ForeignKey(
        "models_registry.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_name = models.CharField(max_length=100)
    version_number = models.PositiveIntegerField()
    arm = models.CharField(max_length=50, blank=True)
    inputs = models.JSONField()
    outputs = models.JSONField()
    probabilities = models.JSONField(null=True, blank=True)
    rows = models.PositiveIntegerField()
    latency_ms = models.FloatField()
    # Failures are logged too (without outputs): canary gates and history need error rates.
    status = models.CharField(
        max_length=10, choices=PredictionStatus.choices, default=PredictionStatus.OK
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # History pages: newest first per user, keyset on (created_at, id).
            models.Index(fields=["user", "-created_at", "-id"], name="prediction_user_time_idx"),
            models.Index(fields=["model", "-created_at", "-id"], name="prediction_model_time_idx"),
        ]

    def __str__(self):
        return f"{self.model_name} v{self.version_number} {self.request_id}"


class Feedback(models.Model):
    """Ground truth for a logged prediction, one label per row; the latest word wins."""

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="feedback")
    labels = models.JSONField()
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"feedback on {self.prediction.request_id}"
