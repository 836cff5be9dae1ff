"""The drift window's Python twin (for the demo's SQLite) answers exactly as PostgreSQL does."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.drift import window, window_orm
from monitoring.drift.columns import reference_columns
from monitoring.services import drift_check
from monitoring.tests.conftest import log_window, predict, shifted, shop_frame
from predictions.models import Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(shop_version):
    frame = shop_frame(seed=11)
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    odd = {"model_id": shop_version.model_id, "version": shop_version, "latency_ms": 1.0}
    odd["model_name"], odd["version_number"] = "shop", shop_version.version
    for inputs, outputs in (
        # a missing value, a number where text is expected, one output for two rows
        ([{"size": None, "weight": 70, "doors": 4, "colour": 7}, {"size": 49.5}], ["big"]),
        ([{"size": 51.0, "weight": 1e9, "doors": 3, "colour": "teal"}], "not a list"),
        ({"not": "a list of rows"}, ["big"]),
    ):
        Prediction.objects.create(
            request_id=uuid.uuid4().hex,
            inputs=inputs,
            outputs=outputs,
            rows=len(inputs),
            created_at=timezone.now() - timedelta(minutes=5),
            **odd,
        )
    now = timezone.now()
    return shop_version, now - timedelta(days=1), now


def test_rows_buckets_and_samples_match_postgresql(logged):
    version, start, end = logged
    columns = reference_columns(version)
    assert window_orm.window_rows(version, start, end) == window.window_rows(version, start, end)
    python = window_orm.bucket_counts(version, columns, start, end)
    assert python == window.bucket_counts(version, columns, start, end)
    assert python.rows == 403  # 400 rows, the odd records' 3 (the non-list one is skipped)
    numeric = [c for c in columns if c.numeric]
    python_sample = window_orm.numeric_sample(version, numeric, start, end)
    postgres_sample = window.numeric_sample(version, numeric, start, end)
    assert {k: sorted(v) for k, v in python_sample.items()} == {
        k: sorted(v) for k, v in postgres_sample.items()
    }


def test_a_drift_check_on_the_twin_reaches_the_same_verdicts(logged, monkeypatch):
    version, _, _ = logged
    now = timezone.now()
    postgres, _ = drift_check(version=version, window=timedelta(days=1), now=now, save=False)
    monkeypatch.setattr(window, "_elsewhere", lambda: window_orm)
    python, _ = drift_check(version=version, window=timedelta(days=1), now=now, save=False)
    assert python.rows == postgres.rows
    assert [(c.feature, c.status, c.psi) for c in python.columns] == [
        (c.feature, c.status, c.psi) for c in postgres.columns
    ]
    assert {c.feature for c in python.columns if c.status == "alert"} >= {"weight", "colour"}
