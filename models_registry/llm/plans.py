"""What the proxy needs to call a route: plain, frozen snapshots of its configuration.

The proxy's async code never touches the ORM on its warm path: it reads these, built from
the database once per worker and remembered until the configuration changes.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    kind: str  # a ProviderKind value
    base_url: str
    api_key: str | None  # resolved (environment or decrypted); never logged, never shown
    connect_timeout_s: float
    first_byte_timeout_s: float
    timeout_s: float
    max_retries: int

    def __repr__(self):  # the key stays out of tracebacks and logs
        return f"ProviderSpec(name={self.name!r}, kind={self.kind!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class DeploymentSpec:
    id: int
    provider: ProviderSpec
    model: str  # the upstream model name
    position: int
    weight: int
    input_usd_per_1m: float
    output_usd_per_1m: float

    @property
    def key(self):
        """Stable name for per-deployment state (breaker, latency): provider/model#id."""
        return f"{self.provider.name}/{self.model}#{self.id}"

    def cost_usd(self, tokens_in, tokens_out):
        return (tokens_in * self.input_usd_per_1m + tokens_out * self.output_usd_per_1m) / 1e6


@dataclass(frozen=True)
class RoutePlan:
    name: str
    strategy: str  # a RouteStrategy value
    default_max_tokens: int
    store_text: bool
    text_retention_days: int
    cache_ttl_s: int
    # Enabled deployments on enabled providers, in position order. Which of them a given user
    # may call is decided per user (restricted providers), see the builder functions.
    deployments: tuple[DeploymentSpec, ...]
