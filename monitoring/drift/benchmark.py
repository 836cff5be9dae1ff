"""How long a drift check takes over a large window: seed a synthetic 30-feature model, time it.

    uv run python manage.py shell -c \
        "from monitoring.drift.benchmark import run; print(run(rows=1_000_000))"

Not part of the beat schedule or the suite's default size; the suite runs it small.
"""

import time
import uuid
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from models_registry.models import MLModel, ModelVersion, Stage, TaskType
from models_registry.training.schema import reference_statistics
from predictions.models import Prediction

MODEL_NAME = "drift-benchmark"
NUMERIC_FEATURES = 25
CATEGORICAL_FEATURES = 5
CATEGORIES = ("a", "b", "c", "d")
REFERENCE_ROWS = 5000
CHUNK = 100_000
# Sum of four uniforms, centred and scaled: close enough to a standard normal for a benchmark,
# and the same recipe in numpy (reference) and SQL (logged rows).
NORMALISH = "((random() + random() + random() + random() - 2) * 1.7320508)"


def _names():
    numeric = [f"n{i:02d}" for i in range(NUMERIC_FEATURES)]
    categorical = [f"c{i:02d}" for i in range(CATEGORICAL_FEATURES)]
    return numeric, categorical


def _reference(rng):
    numeric, categorical = _names()
    data = {n: (rng.random((REFERENCE_ROWS, 4)).sum(axis=1) - 2) * 1.7320508 for n in numeric}
    data |= {c: rng.choice(CATEGORIES, REFERENCE_ROWS) for c in categorical}
    return reference_statistics(pd.DataFrame(data), rng.choice(["yes", "no"], REFERENCE_ROWS))


@transaction.atomic
def benchmark_version():
    """The benchmark's model and production version (created once, reused)."""
    model, _ = MLModel.objects.get_or_create(
        name=MODEL_NAME,
        defaults={"task_type": TaskType.CLASSIFICATION, "description": "drift benchmark"},
    )
    version = model.versions.first()
    if version is None:
        version = ModelVersion.objects.create(
            model=model,
            version=1,
            stage=Stage.PRODUCTION,
            artifact="models/drift-benchmark.skops",
            artifact_sha256="0" * 64,
            artifact_size=1,
            estimator="none",
            dataset_name="synthetic",
            dataset_fingerprint="0" * 64,
            reference_stats=_reference(np.random.default_rng(0)),
        )
    return version


def seed(version, rows, *, spread=timedelta(hours=12)):
    """Log `rows` one-row predictions of `version` within the last `spread`, inside PostgreSQL."""
    numeric, categorical = _names()
    pairs = [f"'{n}', round({NORMALISH}::numeric, 4)" for n in numeric]
    pairs += [
        f"'{c}', (ARRAY{list(CATEGORIES)})[1 + floor(random() * {len(CATEGORIES)})::int]"
        for c in categorical
    ]
    sql = (
        f"INSERT INTO {Prediction._meta.db_table} (request_id, model_id, version_id, model_name,"  # noqa: S608 - fixed names above
        " version_number, arm, inputs, outputs, rows, latency_ms, status, error, created_at)"
        " SELECT %(prefix)s || g, %(model)s, %(version)s, %(name)s, %(number)s, '',"
        f" jsonb_build_array(jsonb_build_object({', '.join(pairs)})),"
        " jsonb_build_array(CASE WHEN random() < 0.5 THEN 'yes' ELSE 'no' END), 1, 1.0, 'ok', '',"
        " now() - make_interval(secs => random() * %(spread)s)"
        " FROM generate_series(%(start)s, %(stop)s) AS g"
    )
    prefix = f"drift-bench-{uuid.uuid4().hex[:8]}-"
    for start in range(1, rows + 1, CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "prefix": prefix,
                    "model": version.model_id,
                    "version": version.pk,
                    "name": version.model.name,
                    "number": version.version,
                    "spread": spread.total_seconds(),
                    "start": start,
                    "stop": min(start + CHUNK - 1, rows),
                },
            )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Prediction._meta.db_table}")


def run(rows=1_000_000, *, reseed=True):
    """Seed `rows` logged rows (replacing earlier benchmark rows) and time one drift check."""
    from monitoring.services import drift_check

    version = benchmark_version()
    if reseed:
        # Straight SQL: the ORM's delete would fetch every row first to cascade.
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {Prediction._meta.db_table} WHERE version_id = %s",  # noqa: S608
                [version.pk],
            )
        started = time.monotonic()
        seed(version, rows)
        seeded_s = time.monotonic() - started
    else:
        seeded_s = 0.0
    started = time.monotonic()
    result, report = drift_check(version=version, window=timedelta(days=1))
    return {
        "rows": result.rows,
        "features": len(result.columns),
        "status": result.status,
        "seed_seconds": round(seeded_s, 1),
        "check_seconds": round(time.monotonic() - started, 2),
        "report": report.pk,
        "now": timezone.now().isoformat(),
    }
