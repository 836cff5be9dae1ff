"""Per-minute traffic rollups: kept by the log writer, read by the monitoring pages.

The writer (predictions.logbook) inserts a batch of log records and adds the rows it really
inserted to TrafficMinute in one statement (`rollup_sql` below), so a record delivered twice
is counted once and a rollup can never disagree with the log. `rollups_rebuild` recomputes
a time range from the log itself, for data loaded by other means (benchmarks, imports).
"""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import F

from monitoring.models import LATENCY_BOUNDS_MS, LATENCY_FIELDS, TrafficMinute
from predictions.models import Prediction, PredictionStatus

_TABLE = TrafficMinute._meta.db_table
_KEY = ("minute", "model_name", "version_number", "arm")
_COUNTERS = ("requests", "errors", "rows", "latency_ms_sum", *LATENCY_FIELDS)


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


def rollup_sql(source):
    """An INSERT adding the rows of `source` (a CTE or table of log rows) to the rollups.

    Rows are grouped and upserted in key order, so concurrent writers lock rollup rows in the
    same order and never deadlock.
    """
    values = [
        "date_trunc('minute', s.created_at)",
        "s.model_name",
        "s.version_number",
        "coalesce(s.arm, '')",
        "count(*)",
        f"count(*) FILTER (WHERE s.status = '{PredictionStatus.ERROR}')",
        f"coalesce(sum(s.\"rows\") FILTER (WHERE s.status = '{PredictionStatus.OK}'), 0)",
        "coalesce(sum(s.latency_ms), 0)",
        *_bucket_filters("s.latency_ms"),
    ]
    updates = ", ".join(f'"{c}" = t."{c}" + EXCLUDED."{c}"' for c in _COUNTERS)
    columns = ", ".join(f'"{c}"' for c in (*_KEY, *_COUNTERS))
    return (
        f"INSERT INTO {_TABLE} AS t ({columns}) "  # noqa: S608 - our names only
        f"SELECT {', '.join(values)} FROM {source} s GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}"
    )


def _bucket(latency_ms):
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def rollups_add(predictions):
    """Add saved Prediction objects to the rollups through the ORM (databases but PostgreSQL)."""
    sums = defaultdict(lambda: defaultdict(float))
    for p in predictions:
        minute = p.created_at.replace(second=0, microsecond=0)
        totals = sums[(minute, p.model_name, p.version_number, p.arm or "")]
        totals["requests"] += 1
        totals["errors"] += p.status == PredictionStatus.ERROR
        totals["rows"] += p.rows if p.status == PredictionStatus.OK else 0
        totals["latency_ms_sum"] += p.latency_ms
        totals[LATENCY_FIELDS[_bucket(p.latency_ms)]] += 1
    for key in sorted(sums):
        rollup, _ = TrafficMinute.objects.get_or_create(**dict(zip(_KEY, key, strict=True)))
        TrafficMinute.objects.filter(pk=rollup.pk).update(
            **{name: F(name) + value for name, value in sums[key].items()}
        )


@transaction.atomic
def rollups_rebuild(*, since, until):
    """Recompute the rollups of [since, until) from the log; return rollup rows written."""
    # Writers wait while the range is rebuilt: a batch counted twice or not at all is worse.
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {_TABLE} IN EXCLUSIVE MODE")
    since, until = (t.replace(second=0, microsecond=0) for t in (since, until))
    TrafficMinute.objects.filter(minute__gte=since, minute__lt=until).delete()
    log = Prediction._meta.db_table
    source = (
        f'(SELECT created_at, model_name, version_number, arm, status, "rows", latency_ms '  # noqa: S608
        f"FROM {log} WHERE created_at >= %s AND created_at < %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(rollup_sql(source), [since, until])
        return cursor.rowcount
