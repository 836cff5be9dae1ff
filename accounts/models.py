"""Users, roles' capabilities, API tokens, quotas and the append-only audit log."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

TOKEN_PREFIX_LENGTH = 8
TOKEN_SCHEME = "mlp"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"
    VIEWER = "viewer", "Viewer"


ROLE_PRECEDENCE = (Role.ADMIN, Role.USER, Role.VIEWER)


class User(AbstractUser):
    """The portal's user; the role is the Group it belongs to (see accounts.roles)."""

    objects = UserManager()

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._role_cache = False  # groups may have changed too

    @property
    def role(self):
        from accounts.roles import role_of

        return role_of(self)


class Capability(models.Model):
    """Holds the role capabilities as permissions; it has no rows and no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("predict", "Can call models: predict and batch jobs"),
            ("use_llm_proxy", "Can call the LLM proxy"),
            ("view_all_history", "Can see everyone's prediction history"),
            ("view_audit_log", "Can browse the audit log"),
            ("manage_models", "Can train, promote, roll back models and run experiments"),
            ("manage_users", "Can assign roles and quotas"),
        ]

    def __str__(self):
        return "capability"


# ---------------------------------------------------------------- API tokens
class TokenScope(models.TextChoices):
    READ = "read", "Read"
    PREDICT = "predict", "Predict"
    PROXY = "proxy", "LLM proxy"
    ALL = "all", "All my role allows"


# What each scope lets a token do; reading is part of every scope.
SCOPE_GRANTS = {
    TokenScope.READ: frozenset({TokenScope.READ}),
    TokenScope.PREDICT: frozenset({TokenScope.READ, TokenScope.PREDICT}),
    TokenScope.PROXY: frozenset({TokenScope.READ, TokenScope.PROXY}),
    TokenScope.ALL: frozenset({TokenScope.READ, TokenScope.PREDICT, TokenScope.PROXY}),
}


def hash_token(plaintext):
    # Tokens carry 256 random bits, so a fast hash is safe; a slow KDF would only add latency.
    return hashlib.sha256(plaintext.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def display_prefix(self):
        return f"{TOKEN_SCHEME}_{self.prefix}"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    @property
    def is_expired(self):
        return self.expires_at <= timezone.now()

    @property
    def is_active(self):
        return not self.is_revoked and not self.is_expired

    @property
    def status(self):
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired else "active"

    def grants(self, scope):
        return scope in SCOPE_GRANTS[TokenScope(self.scope)]

    def touch(self, now=None):
        """Record use, writing at most once per TOKEN_LAST_USED_RESOLUTION_SECONDS."""
        now = now or timezone.now()
        resolution = timedelta(seconds=settings.TOKEN_LAST_USED_RESOLUTION_SECONDS)
        if self.last_used_at is None or now - self.last_used_at >= resolution:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


# ---------------------------------------------------------------- quotas
class QuotaKind(models.TextChoices):
    PREDICTION_ROWS = "prediction_rows", "Prediction rows per day"
    LLM_TOKENS = "llm_tokens", "LLM tokens per day"


class UserQuota(models.Model):
    """Per-user overrides of the role's default daily limits; empty means the default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota"
    )
    prediction_rows_per_day = models.PositiveIntegerField(null=True, blank=True)
    llm_tokens_per_day = models.PositiveIntegerField(null=True, blank=True)
    # The LLM proxy's finer limits; empty means none (only the daily token quota applies).
    llm_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    llm_tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    llm_monthly_budget_usd = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "quota override"

    def __str__(self):
        return f"quota of {self.user}"

    def override_for(self, kind):
        return getattr(self, f"{kind}_per_day")


class QuotaUsage(models.Model):
    """Units used by one user of one kind on one UTC day; one row per day keeps reset trivial."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_usage"
    )
    kind = models.CharField(max_length=32, choices=QuotaKind.choices)
    day = models.DateField()
    used = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "day"], name="quota_usage_unique_day")
        ]
        indexes = [models.Index(fields=["day"], name="quota_usage_day_idx")]

    def __str__(self):
        return f"{self.user_id} {self.kind} {self.day}: {self.used}"


# ---------------------------------------------------------------- audit log
class AuditAction(models.TextChoices):
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGIN_RATE_LIMITED = "login_rate_limited", "Login refused: too many attempts"
    LOGOUT = "logout", "Logged out"
    TOKEN_CREATED = "token_created", "Token created"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    ROLE_CHANGED = "role_changed", "Role changed"
    QUOTA_CHANGED = "quota_changed", "Quota changed"
    QUOTA_USAGE_RESET = "quota_usage_reset", "Quota usage reset"
    USER_CREATED = "user_created", "User created"
    TRAINING_STARTED = "training_started", "Training started"
    MODEL_PROMOTED = "model_promoted", "Model promoted"
    MODEL_ROLLED_BACK = "model_rolled_back", "Model rolled back"
    MODEL_ACCESS_GRANTED = "model_access_granted", "Model access granted"
    MODEL_SETTINGS_CHANGED = "model_settings_changed", "Model settings changed"
    EXPERIMENT_CREATED = "experiment_created", "Experiment created"
    EXPERIMENT_STARTED = "experiment_started", "Experiment started"
    EXPERIMENT_STOPPED = "experiment_stopped", "Experiment stopped"
    EXPERIMENT_CONCLUDED = "experiment_concluded", "Experiment concluded"
    EXPERIMENT_WEIGHTS_CHANGED = "experiment_weights_changed", "Experiment weights changed"
    EXPERIMENT_USER_PINNED = "experiment_user_pinned", "Experiment user pinned"
    CANARY_ADVANCED = "canary_advanced", "Canary advanced"
    CANARY_ROLLED_BACK = "canary_rolled_back", "Canary rolled back"
    DRIFT_ALERT = "drift_alert", "Drift alert"
    PERFORMANCE_ALERT = "performance_alert", "Live performance alert"


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The audit log is append-only")

    def delete(self):
        raise AppendOnlyError("The audit log is append-only")

    def record(self, action, *, actor=None, target=None, details=None, ip=None, request_id=None):
        from portal.request_context import current_request_id

        return self.create(
            action=action,
            actor_id=getattr(actor, "pk", None),
            actor_username=getattr(actor, "username", "") or "",
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            target_repr=str(target)[:200] if target is not None else "",
            details=details or {},
            ip=ip,
            request_id=request_id or current_request_id() or "",
        )


class AuditEvent(models.Model):
    """Who did what to which object, when and from where. Never updated, never deleted.

    The actor is kept by id and name, not a foreign key, so deleting a user keeps the history.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True, editable=False)
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    action = models.CharField(max_length=40, choices=AuditAction.choices, editable=False)
    target_type = models.CharField(max_length=100, blank=True, editable=False)
    target_id = models.CharField(max_length=64, blank=True, editable=False)
    target_repr = models.CharField(max_length=200, blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    request_id = models.CharField(max_length=128, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="audit_action_time_idx")]

    def __str__(self):
        who = self.actor_username or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The audit log is append-only")
