"""Chart series from the rollups: a bin's rate is over the part of it inside the window."""

from datetime import UTC, datetime

import pytest

from monitoring.models import TrafficHour, TrafficMinute
from monitoring.traffic import RANGES, traffic_series

pytestmark = pytest.mark.django_db


def _minute(when, requests):
    TrafficMinute.objects.create(minute=when, model_name="m", version_number=1, requests=requests)


def test_the_bin_still_filling_is_rated_over_its_elapsed_seconds():
    now = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)
    span = RANGES["hour"]
    since, until = span.window(now)
    _minute(datetime(2026, 11, 30, 11, 30, tzinfo=UTC), 60)  # a full minute: 1/s
    _minute(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), 15)  # 15 in the 30 s so far: 0.5/s
    points = dict(
        traffic_series(span=span, model_names=["m"], since=since, until=until)[("m", 1, "")]
    )
    assert points[datetime(2026, 11, 30, 11, 30, tzinfo=UTC)].per_second == pytest.approx(1.0)
    assert points[datetime(2026, 11, 30, 12, 0, tzinfo=UTC)].per_second == pytest.approx(0.5)
    assert points[datetime(2026, 11, 30, 11, 45, tzinfo=UTC)].per_second == 0


def test_a_bin_starting_before_the_window_counts_only_its_part_inside():
    # The week is drawn in 2-hour bins aligned on the epoch; the window starts on an odd hour.
    now = datetime(2026, 11, 30, 13, 20, tzinfo=UTC)
    span = RANGES["week"]
    since, until = span.window(now)
    assert since == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    TrafficHour.objects.create(hour=since, model_name="m", version_number=1, requests=3600)
    series = traffic_series(span=span, model_names=["m"], since=since, until=until)[("m", 1, "")]
    first_bin, first = series[0]
    assert first_bin == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert first.per_second == pytest.approx(1.0)  # 3,600 requests in its one hour inside
