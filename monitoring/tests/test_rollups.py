"""Traffic rollups: kept by the log writer in the same statement, exactly what the log holds."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.models import LATENCY_FIELDS, TrafficHour, TrafficMinute
from monitoring.rollups import rollups_rebuild
from predictions import logbook
from predictions.models import Prediction

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 8, 0, 12, tzinfo=UTC)


def _record(request_id, *, at=T0, arm=None, status="ok", latency_ms=3.0, rows=2):
    return {
        "request_id": request_id,
        "user_id": None,
        "model_id": None,
        "version_id": None,
        "model_name": "churn",
        "version_number": 2,
        "arm": arm,
        "inputs": [{"x": 1}] * rows,
        "outputs": [] if status == "error" else ["yes"] * rows,
        "probabilities": None,
        "rows": rows,
        "latency_ms": latency_ms,
        "created_at": at.isoformat(),
        "status": status,
        "error": "boom" if status == "error" else "",
    }


BATCH = [
    _record("a", latency_ms=0.4),
    _record("b", latency_ms=3.0, at=T0 + timedelta(seconds=30)),
    _record("c", status="error", latency_ms=12.0),
    _record("d", arm="canary", latency_ms=20_000.0),
    _record("e", at=T0 + timedelta(minutes=1), latency_ms=1.0),
]


def _rollups():
    return {
        (r.minute, r.arm): (
            r.requests,
            r.errors,
            r.rows,
            round(r.latency_ms_sum, 3),
            r.latency_counts(),
        )
        for r in TrafficMinute.objects.all()
    }


def _counts(**buckets):
    counts = [0] * len(LATENCY_FIELDS)
    for index, count in buckets.items():
        counts[int(index.removeprefix("b"))] = count
    return counts


EXPECTED = {
    (T0.replace(second=0), ""): (3, 1, 4, 15.4, _counts(b0=1, b3=1, b5=1)),
    (T0.replace(second=0), "canary"): (1, 0, 2, 20_000.0, _counts(b14=1)),
    (T0.replace(second=0) + timedelta(minutes=1), ""): (1, 0, 2, 1.0, _counts(b1=1)),
}


def _hours():
    return {
        (r.hour, r.arm): (r.requests, r.errors, r.rows, r.latency_counts())
        for r in TrafficHour.objects.all()
    }


HOURS = {
    (T0.replace(minute=0, second=0), ""): (4, 1, 6, _counts(b0=1, b1=1, b3=1, b5=1)),
    (T0.replace(minute=0, second=0), "canary"): (1, 0, 2, _counts(b14=1)),
}


def test_the_log_writer_keeps_the_rollups(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert logbook.write_records(BATCH) == 5
    assert _rollups() == EXPECTED
    assert _hours() == HOURS
    # Delivered again (a redelivered batch): nothing inserted, nothing counted twice.
    assert logbook.write_records(BATCH[:2]) == 0
    assert _rollups() == EXPECTED


def test_the_orm_writer_keeps_the_same_rollups():
    assert logbook._write_orm(BATCH) == 5
    assert logbook._write_orm(BATCH) == 0
    assert _rollups() == EXPECTED
    assert _hours() == HOURS


def test_a_rebuild_from_the_log_gives_the_same_rollups():
    logbook.write_records(BATCH)
    TrafficMinute.objects.update(requests=999)  # whatever happened to them
    TrafficHour.objects.all().delete()
    written = rollups_rebuild(since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1))
    assert written == 3
    assert _rollups() == EXPECTED
    assert _hours() == HOURS
    assert Prediction.objects.count() == 5


def test_rebuild_command(capsys):
    from django.core.management import call_command

    now = datetime.now(UTC)
    logbook.write_records([_record("r1", at=now - timedelta(minutes=5))])
    TrafficMinute.objects.all().delete()
    call_command("rebuild_rollups", window="1h")
    assert "Rebuilt 1 minute rollups" in capsys.readouterr().out
    assert TrafficMinute.objects.get().requests == 1
