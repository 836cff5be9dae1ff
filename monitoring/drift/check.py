"""Compare a window of a version's logged traffic with its reference: one verdict per column.

A column's status weighs two signals, because each alone misleads:
- the statistical test (KS / chi-square p-value, Wasserstein / Jensen-Shannon distance) says
  whether the difference is real, but on large windows it flags differences too small to matter;
- PSI says how large the difference is, but on small windows sampling noise alone reaches 0.2.
So: alert when both agree (test drifts and PSI reaches the alert threshold), warn when either
one fires (test drifts, or PSI reaches the warn threshold), else ok.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings

from monitoring.drift import methods, window
from monitoring.drift.columns import reference_columns
from monitoring.models import SEVERITY, DriftMethod, DriftStatus, MonitoringSettings


class DriftCheckError(Exception):
    """The check cannot run at all (e.g. the version has no reference statistics)."""


@dataclass
class ColumnResult:
    feature: str
    method: str
    status: str
    values: int = 0
    score: float | None = None
    p_value: float | None = None
    psi: float | None = None
    out_of_range: int = 0  # rows served with this feature outside the schema's range
    # {"labels", "reference" (proportions), "current" (counts)}, for the drift page's chart.
    histogram: dict = field(default_factory=dict)


@dataclass
class DriftResult:
    version: object
    window_start: object
    window_end: object
    rows: int
    status: str
    columns: list = field(default_factory=list)
    counted_rows: int = 0  # rows the histograms were built on (a sample past a size)
    duration_ms: float = 0.0

    @property
    def alerting(self):
        return [c.feature for c in self.columns if c.status == DriftStatus.ALERT]


def _status(*, drifted, psi, thresholds):
    if drifted and psi >= thresholds.psi_alert:
        return DriftStatus.ALERT
    if drifted or psi >= thresholds.psi_warn:
        return DriftStatus.WARN
    return DriftStatus.OK


def _test(column, counts, sample, thresholds):
    """(score, p-value or None, drifted) of the column's own statistical test."""
    if column.method == DriftMethod.KS:
        score, p_value = methods.ks(column.sample, sample)
        return score, p_value, p_value < thresholds.p_value
    if column.method == DriftMethod.WASSERSTEIN:
        score = methods.wasserstein_normed(column.sample, sample, column.std)
        return score, None, score >= thresholds.distance
    if column.method == DriftMethod.CHI_SQUARE:
        score, p_value = methods.chi_square(column.reference_props, counts)
        return score, p_value, p_value < thresholds.p_value
    score = methods.jensen_shannon(column.reference_props, counts)
    return score, None, score >= thresholds.distance


def _column_result(column, missing_and_counts, sample, thresholds, min_rows):
    _missing, counts = missing_and_counts
    values = sum(counts)
    result = ColumnResult(
        feature=column.name, method=column.method, status=DriftStatus.NOT_ENOUGH_DATA
    )
    result.values = values
    result.histogram = {
        "labels": column.bucket_labels,
        "reference": [round(p, 6) for p in column.reference_props],
        "current": [int(c) for c in counts],
    }
    if values < min_rows or (column.numeric and len(sample) < min_rows):
        return result
    result.score, result.p_value, drifted = _test(column, counts, sample, thresholds)
    result.psi = methods.psi(column.reference_props, counts)
    result.status = _status(drifted=drifted, psi=result.psi, thresholds=thresholds)
    return result


def drift_compute(*, version, start, end, thresholds=None):
    """Run the check over [start, end) of the version's ok-status log rows; stores nothing."""
    started = time.monotonic()
    columns = reference_columns(version)
    if not columns:
        raise DriftCheckError(f"{version} has no reference statistics to compare with.")
    thresholds = thresholds or MonitoringSettings.for_model(version.model)
    min_rows = settings.DRIFT_MIN_ROWS
    rows = window.window_rows(version, start, end)
    result = DriftResult(
        version=version,
        window_start=start,
        window_end=end,
        rows=rows,
        status=DriftStatus.NOT_ENOUGH_DATA,
    )
    if rows < min_rows:
        # Too few rows for any verdict: every column says so, none is guessed.
        result.columns = [
            ColumnResult(feature=c.name, method=c.method, status=DriftStatus.NOT_ENOUGH_DATA)
            for c in columns
        ]
    else:
        counts = window.bucket_counts(
            version, columns, start, end, fraction=min(1.0, window.HISTOGRAM_MAX_ROWS / rows)
        )
        result.counted_rows = counts.rows
        numeric = [c for c in columns if c.numeric]
        samples = window.numeric_sample(
            version, numeric, start, end, fraction=min(1.0, window.SAMPLE_ROWS / rows)
        )
        result.columns = [
            _column_result(c, col_counts, samples.get(c.name, []), thresholds, min_rows)
            for c, col_counts in zip(columns, counts.columns, strict=True)
        ]
        result.status = max((c.status for c in result.columns), key=SEVERITY.__getitem__)
    outside = window.out_of_range_rows(version, start, end)
    for column in result.columns:
        column.out_of_range = outside.get(column.feature, 0)
    result.duration_ms = (time.monotonic() - started) * 1000
    return result
