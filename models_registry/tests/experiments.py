"""Helpers for the experiment tests: versions to split between, and prediction log rows."""

import itertools
from datetime import timedelta

from django.utils import timezone

from models_registry import services as registry
from models_registry.experiments import services
from predictions.logbook import write_records

_ids = itertools.count()


def two_versions(train, name="iris-model"):
    """v1 in production, v2 a promotable candidate (both trained for real)."""
    first = train(name=name)
    registry.version_promote(version=first)
    second = train(name=name, params={"C": 0.5})
    return first, second


def ab_experiment(control, candidate, *, weights=(50, 50), shadow=None, start=True, actor=None):
    arms = [
        {"name": "control", "version": control, "weight": weights[0]},
        {"name": "candidate", "version": candidate, "weight": weights[1]},
    ]
    experiment = services.experiment_create(
        model=control.model,
        name="ab",
        kind="ab",
        arms=arms,
        shadow={"name": "shadow", "version": shadow} if shadow else None,
        actor=actor,
    )
    if start:
        services.experiment_start(experiment=experiment, actor=actor)
        experiment.refresh_from_db()
    return experiment


def log_rows(version, arm, *, count, outputs=("setosa",), status="ok", latency_ms=2.0, at=None):
    """Write `count` logged predictions of `arm` through the real log writer; return ids."""
    at = at or timezone.now()
    records = []
    for i in range(count):
        request_id = f"{arm}-{status}-{next(_ids)}"
        records.append(
            {
                "request_id": request_id,
                "user_id": None,
                "model_id": version.model_id,
                "version_id": version.pk,
                "model_name": version.model.name,
                "version_number": version.version,
                "arm": arm,
                "inputs": [{}] * len(outputs),
                "outputs": list(outputs) if status == "ok" else [],
                "probabilities": None,
                "rows": len(outputs),
                "latency_ms": latency_ms,
                "created_at": (at + timedelta(microseconds=i)).isoformat(),
                "status": status,
                "error": "" if status == "ok" else "ValueError: boom",
            }
        )
    write_records(records)
    return [record["request_id"] for record in records]
