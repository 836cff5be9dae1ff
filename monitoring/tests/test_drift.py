"""Drift verdicts over real logged windows of a model trained through the real pipeline."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from models_registry.models import MLModel, ModelVersion, Stage
from models_registry.training.schema import reference_statistics
from monitoring.drift.check import DriftCheckError, drift_compute
from monitoring.models import DriftMethod, DriftStatus, MonitoringSettings
from monitoring.tests.conftest import log_window, predict, shifted, shop_frame

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _check(version, **kwargs):
    end = timezone.now()
    return drift_compute(version=version, start=end - DAY, end=end, **kwargs)


def _by_feature(result):
    return {c.feature: c for c in result.columns}


def test_a_window_of_training_data_gives_no_alert(shop_version):
    log_window(shop_version, shop_frame())
    result = _check(shop_version)
    columns = _by_feature(result)
    assert result.rows == 400
    assert {name: c.method for name, c in columns.items()} == {
        "size": DriftMethod.KS,
        "weight": DriftMethod.KS,
        "doors": DriftMethod.CHI_SQUARE,  # numeric, but only two values
        "colour": DriftMethod.CHI_SQUARE,
        "prediction": DriftMethod.CHI_SQUARE,
    }
    assert result.status != DriftStatus.ALERT
    assert all(c.status == DriftStatus.OK for c in result.columns), result.columns
    assert all(c.psi < 0.1 and c.p_value > 0.05 for c in result.columns)


def test_shifted_window_alerts_on_exactly_the_shifted_features(shop_version):
    frame = shop_frame(seed=11)
    # The model decides on `size` only, so its answers stay those of the unshifted rows.
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    result = _check(shop_version)
    assert result.status == DriftStatus.ALERT
    assert sorted(result.alerting) == ["colour", "weight"]
    columns = _by_feature(result)
    assert columns["weight"].p_value < 1e-6
    assert columns["weight"].psi > 1
    assert columns["colour"].psi > 0.2
    # Untouched columns may wobble (a fresh sample), never into an alert.
    assert all(columns[f].status != DriftStatus.ALERT for f in ("size", "doors", "prediction"))


def test_prediction_drift_is_a_feature_of_its_own(shop_version):
    frame = shop_frame(seed=12)
    log_window(shop_version, frame, outputs=["big"] * len(frame))
    result = _check(shop_version)
    assert result.alerting == ["prediction"]


@pytest.mark.parametrize("rows", [0, 1, 29])
def test_tiny_or_empty_windows_give_no_verdict(shop_version, rows):
    log_window(shop_version, shifted(shop_frame()).head(rows))
    # Rows outside the window, failed calls and other versions never count.
    log_window(shop_version, shifted(shop_frame()), ago=2 * DAY)
    log_window(shop_version, shifted(shop_frame()), status="error")
    result = _check(shop_version)
    assert result.rows == rows
    assert result.status == DriftStatus.NOT_ENOUGH_DATA
    assert {c.status for c in result.columns} == {DriftStatus.NOT_ENOUGH_DATA}
    assert all(c.score is None and c.psi is None for c in result.columns)


def test_a_feature_mostly_missing_gives_no_verdict_for_that_feature(shop_version):
    frame = shop_frame(seed=13).astype(object)
    frame.loc[frame.index >= 20, "weight"] = None
    log_window(shop_version, frame, outputs=predict(shop_version, shop_frame(seed=13)))
    columns = _by_feature(_check(shop_version))
    assert columns["weight"].status == DriftStatus.NOT_ENOUGH_DATA
    assert columns["weight"].values == 20
    assert columns["size"].status != DriftStatus.NOT_ENOUGH_DATA


def test_thresholds_are_per_model(shop_version):
    frame = shop_frame(seed=11)
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    MonitoringSettings.objects.create(model=shop_version.model, psi_warn=5, psi_alert=50)
    columns = _by_feature(_check(shop_version))
    # The tests still see the shift, PSI no longer calls it large: a warning, not an alert.
    assert columns["weight"].status == DriftStatus.WARN
    assert columns["colour"].status == DriftStatus.WARN


def _synthetic_version(rows=5000, seed=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, rows).round(3),
            "channel": rng.choice(["web", "app", "shop", "phone"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )
    model = MLModel.objects.create(name="payments", task_type="regression")
    version = ModelVersion.objects.create(
        model=model,
        version=1,
        stage=Stage.PRODUCTION,
        artifact="models/none.skops",
        artifact_sha256="0" * 64,
        artifact_size=1,
        estimator="none",
        dataset_name="synthetic",
        dataset_fingerprint="0" * 64,
        input_schema=[],
        reference_stats=reference_statistics(frame, rng.normal(100, 10, rows)),
    )
    return version


def _synthetic_window(version, *, rows=2000, seed=4, shift=False):
    rng = np.random.default_rng(seed)
    p = [0.1, 0.2, 0.3, 0.4] if shift else [0.4, 0.3, 0.2, 0.1]
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3.5 if shift else 3, 0.5, rows).round(3),
            "channel": rng.choice(["web", "app", "shop", "phone"], rows, p=p),
        }
    )
    log_window(version, frame, outputs=[float(v) for v in rng.normal(100, 10, rows)])


def test_large_references_use_wasserstein_and_jensen_shannon(db):
    version = _synthetic_version()
    _synthetic_window(version)
    result = _check(version)
    columns = _by_feature(result)
    assert {name: c.method for name, c in columns.items()} == {
        "amount": DriftMethod.WASSERSTEIN,
        "channel": DriftMethod.JENSEN_SHANNON,
        "prediction": DriftMethod.WASSERSTEIN,  # a regression's outputs are numbers
    }
    assert all(c.p_value is None for c in result.columns)
    assert result.status == DriftStatus.OK, result.columns


def test_large_references_alert_on_a_shift(db):
    version = _synthetic_version()
    _synthetic_window(version, shift=True)
    result = _check(version)
    assert sorted(result.alerting) == ["amount", "channel"]
    columns = _by_feature(result)
    assert columns["amount"].score >= 0.1
    assert columns["channel"].score >= 0.1


def test_a_version_without_reference_statistics_cannot_be_checked(db):
    version = _synthetic_version()
    version.reference_stats = {}
    version.save()
    with pytest.raises(DriftCheckError, match="no reference statistics"):
        _check(version)
