"""Registered models, their versions (artifacts, metrics, schema, stage) and training jobs."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"


class Stage(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"
    FAILED = "failed", "Failed gates"


class MLModelQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Unrestricted models for every role; restricted ones only where guardian grants use."""
        from guardian.shortcuts import get_objects_for_user

        if user is None or not user.is_authenticated:
            return self.none()
        if user.has_perm("accounts.manage_models"):
            return self
        granted = get_objects_for_user(
            user, "models_registry.use_mlmodel", klass=MLModel, accept_global_perms=False
        ).values("pk")
        return self.filter(Q(restricted=False) | Q(pk__in=granted))

    def hidden_from(self, user):
        """Restricted models `user` may not use: they, and their traces, look missing."""
        return self.filter(restricted=True).exclude(pk__in=self.visible_to(user).values("pk"))


class MLModel(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    task_type = models.CharField(max_length=20, choices=TaskType.choices)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_models",
    )
    restricted = models.BooleanField(
        default=False, help_text="Only users or groups granted 'use' may see and call it."
    )
    # [{"metric": "roc_auc", "op": ">=", "threshold": 0.9}, ...]
    gates = models.JSONField(default=list, blank=True)
    # A candidate may trail production by at most this much on the primary metric.
    max_regression = models.FloatField(null=True, blank=True)
    # Off by default: a value outside the training range is the drift monitoring exists to
    # see, so it is served, flagged in the log and counted, unless the model asks to refuse it.
    enforce_input_ranges = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Refuse (422) input values outside the range the schema learned in training.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MLModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "model"
        permissions = [("use_mlmodel", "Can see and call a restricted model")]

    def __str__(self):
        return self.name

    @property
    def production_version(self):
        return self.versions.filter(stage=Stage.PRODUCTION).first()


class ModelVersionQuerySet(models.QuerySet):
    def production(self):
        return self.filter(stage=Stage.PRODUCTION)

    def light(self):
        """Without the large JSON columns (reference statistics, input schema), for listings."""
        return self.defer("reference_stats", "input_schema")


class ModelVersion(models.Model):
    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.STAGING)
    artifact = models.FileField(upload_to="models/%Y/%m/", max_length=300)
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.PositiveBigIntegerField()
    framework_versions = models.JSONField(default=dict)
    estimator = models.CharField(max_length=50)
    params = models.JSONField(default=dict, blank=True)
    dataset_name = models.CharField(max_length=200)
    dataset_fingerprint = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    gate_results = models.JSONField(default=list, blank=True)
    # [{"name", "type": "number"|"category", "min", "max", "categories", "required"}]
    input_schema = models.JSONField(default=list)
    output_classes = models.JSONField(default=list, blank=True)
    reference_stats = models.JSONField(default=dict, blank=True)
    training_job = models.OneToOneField(
        "TrainingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="version"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="model_version_unique"),
            # The database, not only the code, guarantees one production version per model.
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(stage="production"),
                name="one_production_version_per_model",
            ),
        ]

    def __str__(self):
        return f"{self.model.name} v{self.version}"

    @property
    def gates_passed(self):
        return all(result["passed"] for result in self.gate_results)

    @property
    def can_be_promoted(self):
        return self.stage in (Stage.STAGING, Stage.ARCHIVED) and self.gates_passed


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


PIPELINE_STAGES = ("load data", "split", "train", "validate", "package", "register")


def _initial_stages():
    return [{"name": name, "status": "pending"} for name in PIPELINE_STAGES]


class TrainingJob(models.Model):
    model_name = models.SlugField(max_length=100)
    task_type = models.CharField(max_length=20, choices=TaskType.choices, blank=True)
    dataset = models.CharField(max_length=50, help_text="a built-in dataset name, or 'csv'")
    csv_file = models.FileField(upload_to="datasets/%Y/%m/", blank=True, max_length=300)
    target_column = models.CharField(max_length=200, blank=True)
    estimator = models.CharField(max_length=50)
    params = models.JSONField(default=dict, blank=True)
    promote_on_success = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stages = models.JSONField(default=_initial_stages)
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Each run claims the job by moving it from queued to running and counting an attempt;
    # a run whose worker dies stops beating, and the stalled-job sweep requeues or fails it.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"training job {self.pk} for {self.model_name} ({self.status})"

    @property
    def is_finished(self):
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


# Experiments and LLM routes live in their own modules; imported so Django registers them.
from models_registry.experiments.models import (  # noqa: E402
    ABAssignment,
    Arm,
    CanaryPlan,
    Experiment,
    ExperimentKind,
    ExperimentStatus,
)
from models_registry.llm.models import (  # noqa: E402
    LLMDeployment,
    LLMProvider,
    LLMRoute,
    ProviderKind,
    RouteStrategy,
)

__all__ = [
    "ABAssignment",
    "Arm",
    "CanaryPlan",
    "Experiment",
    "ExperimentKind",
    "ExperimentStatus",
    "JobStatus",
    "LLMDeployment",
    "LLMProvider",
    "LLMRoute",
    "MLModel",
    "ModelVersion",
    "ProviderKind",
    "RouteStrategy",
    "Stage",
    "TaskType",
    "TrainingJob",
]
