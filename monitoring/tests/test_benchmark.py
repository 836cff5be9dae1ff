"""The scale benchmark's code path, at a size the suite can afford."""

import pytest

from monitoring.drift import benchmark
from monitoring.models import DriftReport

pytestmark = pytest.mark.django_db


def test_benchmark_seeds_and_checks_a_30_feature_model():
    outcome = benchmark.run(rows=20_000)
    assert outcome["rows"] == 20_000
    assert outcome["features"] == 31  # 30 inputs and the prediction
    report = DriftReport.objects.get(pk=outcome["report"])
    assert report.features.filter(values=20_000).count() == 31
    assert report.status != "alert"
