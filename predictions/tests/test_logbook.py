"""The log writer: one statement per batch, idempotent, and never stuck on one bad record."""

import json

import pytest

from predictions import logbook
from predictions.models import Prediction

pytestmark = pytest.mark.django_db


def _record(version, user, request_id, **fields):
    return {
        "request_id": request_id,
        "user_id": user.pk,
        "model_id": version.model_id,
        "version_id": version.pk,
        "model_name": version.model.name,
        "version_number": version.version,
        "arm": None,
        "inputs": [{"x": 1.5}],
        "outputs": ["setosa"],
        "probabilities": None,
        "rows": 1,
        "latency_ms": 0.25,
        "created_at": "2026-11-30T08:00:00+00:00",
        **fields,
    }


@pytest.fixture
def version(train):
    return train()


def test_a_batch_lands_in_one_statement_with_every_field(version, user, django_assert_num_queries):
    records = [
        _record(version, user, "a", probabilities=[[0.9, 0.1]], arm="b"),
        _record(version, user, "b", status="error", error="ValueError: no", outputs=[]),
    ]
    with django_assert_num_queries(1):
        assert logbook.write_records(records) == 2
    a, b = Prediction.objects.get(request_id="a"), Prediction.objects.get(request_id="b")
    assert (a.arm, a.probabilities, a.status, a.inputs) == ("b", [[0.9, 0.1]], "ok", [{"x": 1.5}])
    assert a.created_at.isoformat() == "2026-11-30T08:00:00+00:00"
    assert (b.status, b.error, b.outputs, b.probabilities) == ("error", "ValueError: no", [], None)
    assert a.user == user
    assert a.version == version


def test_duplicates_within_and_across_batches_land_once(version, user):
    record = _record(version, user, "twice")
    assert logbook.write_records([record, record]) == 1
    assert logbook.write_records([record]) == 0
    assert Prediction.objects.filter(request_id="twice").count() == 1


def test_references_deleted_since_the_request_are_nulled(version, user, admin_user):
    orphan = _record(version, admin_user, "orphan", model_id=10**9, version_id=10**9)
    admin_user.delete()
    assert logbook.write_records([orphan]) == 1
    row = Prediction.objects.get(request_id="orphan")
    assert (row.user, row.model, row.version) == (None, None, None)
    assert row.model_name == version.model.name  # the names stay


def test_one_record_postgresql_refuses_does_not_hold_back_the_batch(version, user, caplog):
    good = [json.dumps(_record(version, user, f"good-{i}")).encode() for i in range(3)]
    bad = json.dumps(_record(version, user, "bad", created_at="not a date")).encode()
    assert logbook._write_claimed([good[0], bad, *good[1:]]) == 3
    assert Prediction.objects.filter(request_id__startswith="good-").count() == 3
    assert not Prediction.objects.filter(request_id="bad").exists()
    assert "refused" in caplog.text


def test_the_orm_writer_for_other_databases_agrees(version, user, admin_user):
    # The embedded demo (SQLite) writes through the ORM; it must store what PostgreSQL does.
    orphan = _record(version, admin_user, "orm-orphan")
    admin_user.delete()
    records = [_record(version, user, "orm-a", arm="b"), orphan, _record(version, user, "orm-a")]
    assert logbook._write_orm(records) == 2
    assert Prediction.objects.get(request_id="orm-a").arm == "b"
    assert Prediction.objects.get(request_id="orm-orphan").user is None
