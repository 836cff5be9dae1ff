"""A drain's claim on the log buffer is safe to run twice: a retry never loses a batch."""

import json

import pytest

from predictions import logbook
from predictions.models import Prediction

RECORDS = 5
BATCH = 3


def _record(i):
    return {
        "request_id": f"claim-{i}",
        "model_name": "iris-model",
        "version_number": 1,
        "inputs": [{"x": i}],
        "outputs": ["setosa"],
        "rows": 1,
        "latency_ms": 1.0,
        "created_at": "2026-11-23T08:00:00+00:00",
    }


@pytest.fixture
def buffered():
    """RECORDS records waiting in the real Redis buffer, as JSON strings."""
    records = [json.dumps(_record(i)).encode() for i in range(RECORDS)]
    logbook.buffer().rpush(logbook.PENDING_KEY, *records)
    return records


def test_a_claim_run_again_returns_its_batch_and_moves_nothing(buffered):
    client = logbook.buffer()
    processing = f"{logbook.PROCESSING_PREFIX}retried"
    first = logbook.claim(client, processing, batch_size=BATCH, lease_seconds=60)
    again = logbook.claim(client, processing, batch_size=BATCH, lease_seconds=60)
    assert first == again == buffered[:BATCH]
    assert client.lrange(processing, 0, -1) == buffered[:BATCH]
    assert client.lrange(logbook.PENDING_KEY, 0, -1) == buffered[BATCH:]
    assert logbook.backlog() == RECORDS


def test_a_drain_whose_claims_are_retried_writes_every_record(db, buffered, monkeypatch):
    claim = logbook.claim

    def claimed_twice(client, processing, **options):
        # As a client retry does when the first reply was lost: the script runs again.
        claim(client, processing, **options)
        return claim(client, processing, **options)

    monkeypatch.setattr(logbook, "claim", claimed_twice)
    assert logbook.drain(batch_size=BATCH) == RECORDS
    assert Prediction.objects.filter(request_id__startswith="claim-").count() == RECORDS
    assert logbook.backlog() == 0
