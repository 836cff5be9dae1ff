"""The prediction log: one row per predict request that reached a model, keyed by request id."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


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
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Copied from the prediction, so live performance per model and day reads feedback alone.
    model_name = models.CharField(max_length=100, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    arm = models.CharField(max_length=50, blank=True)
    predicted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["model_name", "predicted_at"], name="feedback_model_day_idx"),
        ]

    def __str__(self):
        return f"feedback on {self.prediction.request_id}"

    def copy_from_prediction(self):
        p = self.prediction
        self.model_name, self.version_number = p.model_name, p.version_number
        self.arm, self.predicted_at = p.arm, p.created_at


class BatchJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BatchJobQuerySet(models.QuerySet):
    def for_user(self, user):
        """Everyone's jobs for those allowed to see all history, else the user's own."""
        if user.has_perm("accounts.view_all_history"):
            return self
        return self.filter(owner=user)


class BatchJob(models.Model):
    """A batch prediction job: an uploaded CSV scored by one version, chunk by chunk."""

    # Random ids: a job's URL reveals nothing about how many jobs exist.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batch_jobs"
    )
    model = models.ForeignKey(
        "models_registry.MLModel", on_delete=models.CASCADE, related_name="batch_jobs"
    )
    # The production version at submission: a promotion mid-job does not mix two versions.
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.CASCADE, related_name="batch_jobs"
    )
    status = models.CharField(
        max_length=20, choices=BatchJobStatus.choices, default=BatchJobStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField()
    rows_done = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    # The first few per-row errors: [{"row": 1-based data row, "field", "message"}].
    errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, help_text="Why the whole job failed, if it did.")
    input_file = models.FileField(upload_to="batch/inputs/%Y/%m/", max_length=300)
    input_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file's name.")
    result_file = models.FileField(upload_to="batch/results/", blank=True, max_length=300)
    # The quota day the rows were reserved on, so bad rows are refunded to that same day.
    quota_day = models.DateField()
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BatchJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="batchjob_owner_time_idx")]

    def __str__(self):
        return f"batch job {self.pk} ({self.status})"

    @property
    def is_finished(self):
        return self.status in (BatchJobStatus.SUCCEEDED, BatchJobStatus.FAILED)

    @property
    def progress(self):
        """Percent of rows processed (0-100)."""
        if self.status == BatchJobStatus.SUCCEEDED or not self.rows_total:
            return 100 if self.status == BatchJobStatus.SUCCEEDED else 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def duration(self):
        """Seconds from start to finish (or until now while running); None before it starts."""
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return round((end - self.started_at).total_seconds(), 3)
