"""Which statistical test a column gets, and the tests themselves, as Evidently picks by default.

- numeric with more than 5 distinct reference values: two-sample Kolmogorov-Smirnov when the
  reference has at most 1000 values, else the Wasserstein distance normed by the reference
  standard deviation;
- categorical, or numeric with few values: chi-square on small references, Jensen-Shannon
  distance on large ones;
- PSI for every column, over the reference's own bins (numeric) or categories.
"""

import numpy as np
from scipy import stats
from scipy.spatial import distance

from monitoring.models import DriftMethod

SMALL_REFERENCE = 1000
MIN_NUMERIC_UNIQUE = 6
# Evidently's floor for empty bins: a category never seen in training still gets a finite PSI.
PSI_FLOOR = 1e-4


def choose_method(*, numeric, reference_count):
    small = reference_count <= SMALL_REFERENCE
    if numeric:
        return DriftMethod.KS if small else DriftMethod.WASSERSTEIN
    return DriftMethod.CHI_SQUARE if small else DriftMethod.JENSEN_SHANNON


def _proportions(counts):
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total else counts


def psi(reference_props, current_counts):
    ref = np.clip(_proportions(reference_props), PSI_FLOOR, None)
    cur = np.clip(_proportions(current_counts), PSI_FLOOR, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def ks(reference_sample, current_sample):
    """(statistic, p-value) of the two-sample Kolmogorov-Smirnov test."""
    result = stats.ks_2samp(reference_sample, current_sample)
    return float(result.statistic), float(result.pvalue)


def wasserstein_normed(reference_sample, current_sample, reference_std):
    # A constant reference has no scale: any movement at all is then total drift.
    scale = reference_std or np.std(reference_sample) or 1.0
    return float(stats.wasserstein_distance(reference_sample, current_sample) / scale)


def chi_square(reference_props, current_counts):
    """(statistic, p-value): observed current counts against the reference proportions."""
    observed = np.asarray(current_counts, dtype=float)
    expected_props = np.clip(_proportions(reference_props), PSI_FLOOR, None)
    keep = (observed > 0) | (np.asarray(reference_props, dtype=float) > 0)
    observed, expected_props = observed[keep], expected_props[keep]
    if len(observed) < 2:
        return 0.0, 1.0
    expected = expected_props / expected_props.sum() * observed.sum()
    result = stats.chisquare(observed, expected)
    return float(result.statistic), float(result.pvalue)


def jensen_shannon(reference_props, current_counts):
    return float(
        distance.jensenshannon(_proportions(reference_props), _proportions(current_counts))
    )
