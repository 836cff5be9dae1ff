"""Traffic numbers for the monitoring pages, read from the per-minute rollups only."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import DateTimeField, Func, Sum

from monitoring.models import LATENCY_BOUNDS_MS, LATENCY_FIELDS, TrafficMinute

# range name -> (span, chart step)
RANGES = {
    "hour": (timedelta(hours=1), timedelta(minutes=1)),
    "day": (timedelta(days=1), timedelta(minutes=15)),
    "week": (timedelta(days=7), timedelta(hours=2)),
}
DEFAULT_RANGE = "hour"
_SUMS = {name: Sum(name) for name in ("requests", "errors", "rows", *LATENCY_FIELDS)}


def quantile(q, counts):
    """The q-quantile (ms) of a latency histogram, interpolated within its bucket.

    As Prometheus' histogram_quantile: linear within a bucket, and the last finite bound for
    anything in the overflow bucket. None without data.
    """
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(LATENCY_BOUNDS_MS):
                return float(LATENCY_BOUNDS_MS[-1])
            low = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
            high = LATENCY_BOUNDS_MS[index]
            return low + (high - low) * (rank - seen) / count
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])


@dataclass
class Traffic:
    """Requests, errors and latency of some slice of traffic over `seconds`."""

    seconds: float
    requests: int = 0
    errors: int = 0
    rows: int = 0
    latency: list = field(default_factory=lambda: [0] * len(LATENCY_FIELDS))

    @classmethod
    def from_sums(cls, sums, seconds):
        return cls(
            seconds=seconds,
            requests=sums["requests"] or 0,
            errors=sums["errors"] or 0,
            rows=sums["rows"] or 0,
            latency=[sums[name] or 0 for name in LATENCY_FIELDS],
        )

    @property
    def per_second(self):
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self):
        return self.errors / self.requests if self.requests else None

    def p(self, percentile):
        return quantile(percentile / 100, self.latency)

    @property
    def p50(self):
        return self.p(50)

    @property
    def p95(self):
        return self.p(95)

    @property
    def p99(self):
        return self.p(99)


def _window(model_names, since, until):
    return TrafficMinute.objects.filter(
        model_name__in=model_names, minute__gte=since, minute__lt=until
    )


def traffic_table(*, model_names, since, until):
    """[(model, version, arm, Traffic)] for the window, busiest model first."""
    seconds = (until - since).total_seconds()
    rows = (
        _window(model_names, since, until)
        .values("model_name", "version_number", "arm")
        .annotate(**_SUMS)
        .order_by("model_name", "-version_number", "arm")
    )
    return [
        (r["model_name"], r["version_number"], r["arm"], Traffic.from_sums(r, seconds))
        for r in rows
    ]


class TimeBin(Func):
    """The start of the `step`-long bin a timestamp falls in (bins aligned on the epoch)."""

    output_field = DateTimeField()

    def __init__(self, expression, step):
        super().__init__(expression)
        self.step = int(step.total_seconds())

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"date_bin('{self.step} seconds'::interval, {sql}, TIMESTAMPTZ '1970-01-01 UTC')",
            params,
        )

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"datetime((CAST(strftime('%%s', {sql}) AS INTEGER) / {self.step}) * {self.step}, "
            "'unixepoch')",
            params,
        )


def traffic_series(*, model_names, since, until, step):
    """{model: [(bin start, Traffic)]} per `step`, every bin present (empty ones at zero)."""
    seconds = step.total_seconds()
    rows = (
        _window(model_names, since, until)
        .annotate(bin=TimeBin("minute", step))
        .values("model_name", "bin")
        .annotate(**_SUMS)
        .order_by("model_name", "bin")
    )
    found = {}
    for r in rows:
        found.setdefault(r["model_name"], {})[_aware(r["bin"], since)] = Traffic.from_sums(
            r, seconds
        )
    start = since - timedelta(seconds=since.timestamp() % seconds)
    bins = []
    while start < until:
        bins.append(start)
        start += step
    return {
        name: [(b, by_bin.get(b) or Traffic(seconds=seconds)) for b in bins]
        for name, by_bin in found.items()
    }


def _aware(value, like):
    # SQLite hands back naive datetimes; PostgreSQL aware ones.
    return value if value.tzinfo else value.replace(tzinfo=like.tzinfo)
