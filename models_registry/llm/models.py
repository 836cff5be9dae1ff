"""LLM providers and routes: where the proxy may send a call, and how it picks among them.

A route is the model name clients send (`chat-default`); its deployments are the upstream
models behind it, each on a provider, tried in the order the route's strategy gives.
"""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

# OpenAI-style model names: letters, digits and . _ : / - (no spaces, nothing to escape).
ROUTE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"


class ProviderKind(models.TextChoices):
    # OpenAI's API and every server that speaks it: Hugging Face's router, vLLM, TGI, Ollama's /v1.
    OPENAI = "openai", "OpenAI-compatible"
    ANTHROPIC = "anthropic", "Anthropic Messages API"
    OLLAMA = "ollama", "Ollama (native /api/chat)"
    # Answers in-process, needs no network: the embedded demo's provider.
    DEMO = "demo", "Demo (offline, in-process)"


class RouteStrategy(models.TextChoices):
    PRIORITY = "priority", "Priority (in order)"
    WEIGHTED = "weighted", "Weighted random"
    LOWEST_LATENCY = "lowest-latency", "Lowest latency"
    LOWEST_COST = "lowest-cost", "Lowest cost"
    AUTO = "auto", "Auto (healthy, then fastest, then cheapest)"


class LLMProviderQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def usable_by(self, user):
        """Enabled providers the user may call: open ones, and restricted ones granted them."""
        from guardian.shortcuts import get_objects_for_user

        granted = get_objects_for_user(
            user,
            "models_registry.use_llmprovider",
            klass=LLMProvider,
            accept_global_perms=False,
        ).values("pk")
        return self.enabled().filter(models.Q(restricted=False) | models.Q(pk__in=granted))


class LLMProvider(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    # openai: with /v1, as OpenAI's SDK takes it; anthropic: the API root without /v1;
    # ollama: the server root. Calls go only here: no request field can change it.
    base_url = models.URLField(max_length=500, blank=True)
    # The key is read from this environment variable, or stored encrypted below (never both).
    api_key_env = models.CharField(max_length=100, blank=True)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    connect_timeout_s = models.FloatField(default=5.0, validators=[MinValueValidator(0.1)])
    # Until the first byte of the answer (a stream's first chunk).
    first_byte_timeout_s = models.FloatField(default=30.0, validators=[MinValueValidator(0.1)])
    timeout_s = models.FloatField(
        default=60.0, validators=[MinValueValidator(0.1)], help_text="Whole call, retries included."
    )
    max_retries = models.PositiveSmallIntegerField(default=2)
    enabled = models.BooleanField(default=True)
    restricted = models.BooleanField(
        default=False, help_text="Only users or groups granted 'use' may call it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LLMProviderQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "LLM provider"
        permissions = [("use_llmprovider", "Can call a restricted LLM provider")]

    def __str__(self):
        return self.name

    @property
    def has_stored_key(self):
        return bool(self.api_key_encrypted)


class LLMRouteQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class LLMRoute(models.Model):
    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(ROUTE_NAME_PATTERN, "Letters, digits and . _ : / - only.")],
        help_text="The model name clients send.",
    )
    description = models.TextField(blank=True)
    strategy = models.CharField(
        max_length=20, choices=RouteStrategy.choices, default=RouteStrategy.PRIORITY
    )
    enabled = models.BooleanField(default=True)
    # Reserved before the call when the request names no max_tokens (settled to real usage).
    default_max_tokens = models.PositiveIntegerField(default=1024)
    # Prompt and completion text are kept (redacted) only when asked, and only this long.
    store_text = models.BooleanField(default=False)
    text_retention_days = models.PositiveIntegerField(default=30)
    # Exact-match cache of non-streaming, temperature-0 answers; 0 turns it off.
    cache_ttl_s = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LLMRouteQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "LLM route"

    def __str__(self):
        return self.name


class LLMDeployment(models.Model):
    """One upstream model behind a route, on one provider, with its price."""

    route = models.ForeignKey(LLMRoute, on_delete=models.CASCADE, related_name="deployments")
    provider = models.ForeignKey(LLMProvider, on_delete=models.PROTECT, related_name="deployments")
    model = models.CharField(max_length=200, help_text="The upstream model name.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order for 'priority'.")
    weight = models.PositiveIntegerField(default=1, help_text="Share for 'weighted'.")
    input_usd_per_1m = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    output_usd_per_1m = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["route", "position", "pk"]
        verbose_name = "LLM deployment"
        constraints = [
            models.UniqueConstraint(
                fields=["route", "position"], name="llmdeployment_unique_position"
            )
        ]

    def __str__(self):
        return f"{self.route.name} → {self.provider.name}/{self.model}"
