"""Traffic numbers for the monitoring pages, read from the per-minute rollups only."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import DateTimeField, Func, Sum

from monitoring.models import LATENCY_BOUNDS_MS, LATENCY_FIELDS, TrafficHour, TrafficMinute


@dataclass(frozen=True)
class Range:
    span: timedelta
    step: timedelta  # one chart point per step
    rollup: type  # the rollup read: minutes for the hour, hours beyond
    field: str

    def window(self, now):
        """[since, until): whole rollup periods back from `now`'s own (partial) period."""
        since = now - self.span
        if self.field == "hour":
            since = since.replace(minute=0, second=0, microsecond=0)
        else:
            since = since.replace(second=0, microsecond=0)
        return since, now


RANGES = {
    "hour": Range(timedelta(hours=1), timedelta(minutes=1), TrafficMinute, "minute"),
    "day": Range(timedelta(days=1), timedelta(hours=1), TrafficHour, "hour"),
    "week": Range(timedelta(days=7), timedelta(hours=2), TrafficHour, "hour"),
}
DEFAULT_RANGE = "hour"
MIN_BIN_COVERAGE = 0.1  # a chart bin's rate is over at least this share of its step
_SUMS = {
    name: Sum(name) for name in ("requests", "errors", "rows", "out_of_range_rows", *LATENCY_FIELDS)
}


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
    out_of_range_rows: int = 0  # rows served with a value outside the training range
    latency: list = field(default_factory=lambda: [0] * len(LATENCY_FIELDS))

    @classmethod
    def from_sums(cls, sums, seconds):
        return cls(
            seconds=seconds,
            requests=sums["requests"] or 0,
            errors=sums["errors"] or 0,
            rows=sums["rows"] or 0,
            out_of_range_rows=sums["out_of_range_rows"] or 0,
            latency=[sums[name] or 0 for name in LATENCY_FIELDS],
        )

    @property
    def per_second(self):
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def out_of_range_rate(self):
        return self.out_of_range_rows / self.rows if self.rows else None

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


def _window(span, model_names, since, until):
    return span.rollup.objects.filter(
        model_name__in=model_names,
        **{f"{span.field}__gte": since, f"{span.field}__lt": until},
    )


def traffic_table(*, span, model_names, since, until):
    """[(model, version, arm, Traffic)] for the window, by model, newest version first."""
    seconds = (until - since).total_seconds()
    rows = (
        _window(span, model_names, since, until)
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


def traffic_series(*, span, model_names, since, until):
    """{(model, version, arm): [(bin start, Traffic)]} per step, empty bins at zero."""
    step = span.step
    seconds = step.total_seconds()
    rows = (
        _window(span, model_names, since, until)
        .annotate(bin=TimeBin(span.field, step))
        .values("model_name", "version_number", "arm", "bin")
        .annotate(**_SUMS)
        .order_by("model_name", "version_number", "arm", "bin")
    )
    found = {}
    for r in rows:
        key = (r["model_name"], r["version_number"], r["arm"])
        found.setdefault(key, {})[_aware(r["bin"], since)] = r
    start = since - timedelta(seconds=since.timestamp() % seconds)
    # Rates are over the part of each bin inside the window: the first bin may start before
    # `since` and the last one is still filling. A floor keeps a bin's first seconds calm.
    bins = []
    while start < until:
        covered = (min(start + step, until) - max(start, since)).total_seconds()
        bins.append((start, max(covered, seconds * MIN_BIN_COVERAGE)))
        start += step
    return {
        name: [
            (b, Traffic.from_sums(by_bin[b], covered) if b in by_bin else Traffic(covered))
            for b, covered in bins
        ]
        for name, by_bin in found.items()
    }


def _aware(value, like):
    # SQLite hands back naive datetimes; PostgreSQL aware ones.
    return value if value.tzinfo else value.replace(tzinfo=like.tzinfo)
