"""Experiments on a model: A/B splits and canary rollouts between versions, plus shadow arms."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class ExperimentKind(models.TextChoices):
    AB = "ab", "A/B test"
    CANARY = "canary", "Canary rollout"


class ExperimentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    CONCLUDED = "concluded", "Concluded"


class ExperimentQuerySet(models.QuerySet):
    def running(self):
        return self.filter(status=ExperimentStatus.RUNNING)

    def visible_to(self, user):
        from models_registry.models import MLModel

        return self.filter(model__in=MLModel.objects.visible_to(user))


class Experiment(models.Model):
    model = models.ForeignKey(
        "models_registry.MLModel", on_delete=models.CASCADE, related_name="experiments"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(
        max_length=10, choices=ExperimentKind.choices, default=ExperimentKind.AB
    )
    status = models.CharField(
        max_length=10, choices=ExperimentStatus.choices, default=ExperimentStatus.DRAFT
    )
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Null with stopped_at set means the system stopped it (a canary gate, a failed promotion).
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stop_reason = models.TextField(blank=True)
    winner = models.CharField(max_length=50, blank=True, help_text="Arm declared the winner.")

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Routing needs one answer per model: the database refuses a second running one.
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(status="running"),
                name="one_running_experiment_per_model",
            ),
        ]

    def __str__(self):
        return f"{self.model.name}: {self.name}"

    @property
    def is_running(self):
        return self.status == ExperimentStatus.RUNNING

    @property
    def is_canary(self):
        return self.kind == ExperimentKind.CANARY

    def serving_arms(self):
        """Arms that answer requests, in routing order (a canary's canary arm first)."""
        arms = [arm for arm in self.arms.all() if not arm.is_shadow]
        return sorted(arms, key=lambda arm: (arm.is_control, arm.pk))

    def shadow_arms(self):
        return [arm for arm in self.arms.all() if arm.is_shadow]

    def control_arm(self):
        return next((arm for arm in self.arms.all() if arm.is_control), None)


class Arm(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.SlugField(max_length=50)
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.PROTECT, related_name="arms"
    )
    # Relative weights: an arm's share is its weight over the sum of the serving arms' weights.
    weight = models.PositiveIntegerField(default=0)
    # The baseline the others are compared with (a canary's current production version).
    is_control = models.BooleanField(default=False)
    # A shadow arm gets a copy of each request off the request path and never answers.
    is_shadow = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="arm_name_unique"),
        ]

    def __str__(self):
        return f"{self.name} (v{self.version.version})"


class CanaryPlan(models.Model):
    """The canary arm's traffic steps and the gates each step must pass before the next."""

    experiment = models.OneToOneField(Experiment, on_delete=models.CASCADE, related_name="plan")
    steps = models.JSONField(default=list, help_text="Canary percentages, e.g. [5, 25, 50, 100].")
    step_index = models.PositiveSmallIntegerField(default=0)
    step_started_at = models.DateTimeField(null=True, blank=True)
    # Gates: canary error rate may exceed control's by at most this (0.02 = 2 points) ...
    max_error_rate_delta = models.FloatField(default=0.02, validators=[MinValueValidator(0)])
    # ... and its p95 latency may be at most this multiple of control's.
    max_latency_ratio = models.FloatField(default=1.5, validators=[MinValueValidator(1)])
    # Requests each arm needs in the step's window before the gate decides anything.
    min_requests = models.PositiveIntegerField(default=100)
    # A step lasts at least this long even when the gate passes early.
    min_step_seconds = models.PositiveIntegerField(default=300)
    last_check = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"plan of {self.experiment}"

    @property
    def current_percent(self):
        return self.steps[self.step_index] if self.steps else 0


class ABAssignment(models.Model):
    """The arm a user got on first use, kept so later weight changes do not move them."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="assignments")
    # Set by an admin: the user stays on this arm whatever the weights say.
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "user"], name="one_assignment_per_user_and_experiment"
            ),
        ]

    def __str__(self):
        return f"{self.user_id} → {self.arm.name}"
