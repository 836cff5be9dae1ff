"""Traffic rollups per minute and per hour: kept by the log writer, read by the monitoring pages.

The writer (predictions.logbook) inserts a batch of log records and adds the rows it really
inserted to TrafficMinute and TrafficHour in the same statement (`rollup_sql` below), so a
record delivered twice is counted once and a rollup can never disagree with the log.
`rollups_rebuild` recomputes a time range from the log itself, for data loaded by other
means (benchmarks, imports).
"""

from collections import defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F

from monitoring.models import LATENCY_BOUNDS_MS, LATENCY_FIELDS, TrafficHour, TrafficMinute
from predictions.models import Prediction, PredictionStatus

# (model, its time field, which is also the date_trunc unit)
ROLLUPS = ((TrafficMinute, "minute"), (TrafficHour, "hour"))
_NAMES = ("model_name", "version_number", "arm")
_COUNTERS = (
    "requests",
    "errors",
    "rows",
    "latency_ms_sum",
    *LATENCY_FIELDS,
    "out_of_range_rows",
)


def _bucket_filters(column):
    lower = (None, *LATENCY_BOUNDS_MS)
    upper = (*LATENCY_BOUNDS_MS, None)
    filters = []
    for low, high in zip(lower, upper, strict=True):
        parts = [f"{column} > {low}" if low is not None else None]
        parts.append(f"{column} <= {high}" if high is not None else None)
        condition = " AND ".join(p for p in parts if p)
        filters.append(f"count(*) FILTER (WHERE {condition})")
    return filters


def rollup_sql(source, model, unit):
    """An INSERT adding the rows of `source` (a CTE or table of log rows) to one rollup.

    Rows are grouped and upserted in key order, so concurrent writers lock rollup rows in the
    same order and never deadlock.
    """
    values = [
        f"date_trunc('{unit}', s.created_at)",
        "s.model_name",
        "s.version_number",
        "coalesce(s.arm, '')",
        "count(*)",
        f"count(*) FILTER (WHERE s.status = '{PredictionStatus.ERROR}')",
        f"coalesce(sum(s.\"rows\") FILTER (WHERE s.status = '{PredictionStatus.OK}'), 0)",
        "coalesce(sum(s.latency_ms), 0)",
        *_bucket_filters("s.latency_ms"),
        f"coalesce(sum(s.out_of_range_rows) FILTER (WHERE s.status = '{PredictionStatus.OK}'), 0)",
    ]
    key = (unit, *_NAMES)
    updates = ", ".join(f'"{c}" = t."{c}" + EXCLUDED."{c}"' for c in _COUNTERS)
    columns = ", ".join(f'"{c}"' for c in (*key, *_COUNTERS))
    return (
        f"INSERT INTO {model._meta.db_table} AS t ({columns}) "  # noqa: S608 - our names only
        f"SELECT {', '.join(values)} FROM {source} s GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def rollup_ctes(source):
    """`name AS (INSERT ...)` clauses adding `source` to every rollup, for a WITH statement."""
    return ", ".join(
        f"rolled_{unit} AS ({rollup_sql(source, model, unit)})" for model, unit in ROLLUPS
    )


def _bucket(latency_ms):
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def rollups_add(predictions):
    """Add saved Prediction objects to the rollups through the ORM (databases but PostgreSQL)."""
    for model, unit in ROLLUPS:
        sums = defaultdict(lambda: defaultdict(float))
        for p in predictions:
            start = p.created_at.replace(second=0, microsecond=0)
            if unit == "hour":
                start = start.replace(minute=0)
            totals = sums[(start, p.model_name, p.version_number, p.arm or "")]
            totals["requests"] += 1
            totals["errors"] += p.status == PredictionStatus.ERROR
            totals["rows"] += p.rows if p.status == PredictionStatus.OK else 0
            totals["latency_ms_sum"] += p.latency_ms
            if p.status == PredictionStatus.OK:
                totals["out_of_range_rows"] += p.out_of_range_rows or 0
            totals[LATENCY_FIELDS[_bucket(p.latency_ms)]] += 1
        for key in sorted(sums):
            rollup, _ = model.objects.get_or_create(**dict(zip((unit, *_NAMES), key, strict=True)))
            model.objects.filter(pk=rollup.pk).update(
                **{name: F(name) + value for name, value in sums[key].items()}
            )


@transaction.atomic
def rollups_rebuild(*, since, until):
    """Recompute the rollups of [since, until), widened to whole hours, from the log.

    Returns the minute rollup rows written.
    """
    since = since.replace(minute=0, second=0, microsecond=0)
    until = until.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    log = Prediction._meta.db_table
    source = (
        "(SELECT created_at, model_name, version_number, arm, status, "  # noqa: S608
        '"rows", latency_ms, out_of_range_rows '
        f"FROM {log} WHERE created_at >= %s AND created_at < %s)"
    )
    written = 0
    with connection.cursor() as cursor:
        for model, unit in ROLLUPS:
            # Writers wait while the range is rebuilt: a batch counted twice or not at all is
            # worse.
            cursor.execute(f"LOCK TABLE {model._meta.db_table} IN EXCLUSIVE MODE")
            model.objects.filter(**{f"{unit}__gte": since, f"{unit}__lt": until}).delete()
            cursor.execute(rollup_sql(source, model, unit), [since, until])
            if unit == "minute":
                written = cursor.rowcount
    return written
