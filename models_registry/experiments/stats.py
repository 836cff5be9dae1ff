"""Per-arm results of an experiment from the prediction log, and whether the lead is real.

Rows are the model's logged predictions with the arm's name inside the experiment's window
[started_at, stopped_at or now]. Latency percentiles are computed by PostgreSQL
(percentile_cont); other databases (the SQLite demo) get them in Python.
"""

import math
from collections import Counter
from itertools import pairwise

import numpy as np
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, Sum
from django.utils import timezone
from scipy import stats as scipy_stats

from predictions.models import Prediction, PredictionStatus

SIGNIFICANCE_LEVEL = 0.05
MIN_LATENCY_MS = 0.001  # floor for a ratio's denominator
REGRESSION_BINS = 8
MAX_LABELS_SHOWN = 12


class Percentile(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _window(model_id, arms, since, until):
    queryset = Prediction.objects.filter(model_id=model_id, arm__in=arms, created_at__gte=since)
    return queryset.filter(created_at__lte=until) if until else queryset


def arm_numbers(*, model_id, arms, since, until=None):
    """{arm: {requests, rows, errors, error_rate, p50_ms, p95_ms}} over the window."""
    empty = {"requests": 0, "rows": 0, "errors": 0, "error_rate": 0.0, "p50_ms": 0.0, "p95_ms": 0.0}
    result = {arm: dict(empty) for arm in arms}
    if since is None:
        return result
    queryset = _window(model_id, arms, since, until).values("arm")
    ok = Q(status=PredictionStatus.OK)
    aggregates = {
        "requests": Count("id"),
        "rows_sum": Sum("rows"),
        "errors": Count("id", filter=Q(status=PredictionStatus.ERROR)),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates["p50"] = Percentile("latency_ms", fraction=0.5, filter=ok)
        aggregates["p95"] = Percentile("latency_ms", fraction=0.95, filter=ok)
    for row in queryset.order_by().annotate(**aggregates):
        numbers = result[row["arm"]]
        numbers.update(requests=row["requests"], rows=row["rows_sum"] or 0, errors=row["errors"])
        numbers["error_rate"] = row["errors"] / row["requests"] if row["requests"] else 0.0
        if postgres:
            numbers["p50_ms"], numbers["p95_ms"] = row["p50"] or 0.0, row["p95"] or 0.0
        else:
            latencies = list(
                _window(model_id, [row["arm"]], since, until)
                .filter(ok)
                .values_list("latency_ms", flat=True)
            )
            if latencies:
                numbers["p50_ms"], numbers["p95_ms"] = np.percentile(latencies, [50, 95]).tolist()
    return result


def arm_summary(*, model_id, arm, since, until=None):
    return arm_numbers(model_id=model_id, arms=[arm], since=since, until=until)[arm]


def two_proportion_test(successes_a, n_a, successes_b, n_b):
    """Two-sided p-value of a two-proportion z-test (pooled); None without data."""
    if not n_a or not n_b:
        return None
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0
    z = (successes_a / n_a - successes_b / n_b) / se
    return float(2 * scipy_stats.norm.sf(abs(z)))


def _outputs_and_feedback(queryset):
    """(Counter of predicted values, labelled rows, correct rows) for a classification arm."""
    predicted, labelled, correct = Counter(), 0, 0
    rows = queryset.filter(status=PredictionStatus.OK).values_list("outputs", "feedback__labels")
    for outputs, labels in rows.iterator(chunk_size=2000):
        predicted.update(str(value) for value in outputs)
        if labels:
            pairs = list(zip(outputs, labels, strict=False))
            labelled += len(pairs)
            correct += sum(str(p) == str(t) for p, t in pairs)
    return predicted, labelled, correct


def _regression_bins(values_by_arm):
    everything = [v for values in values_by_arm.values() for v in values]
    if not everything:
        return [], {arm: [] for arm in values_by_arm}
    edges = np.histogram_bin_edges(everything, bins=REGRESSION_BINS)
    labels = [f"{low:.3g}…{high:.3g}" for low, high in pairwise(edges)]
    counts = {
        arm: np.histogram(values, bins=edges)[0].tolist() for arm, values in values_by_arm.items()
    }
    return labels, counts


def experiment_results(experiment, now=None):
    """Everything the results page shows: per-arm numbers, distribution, test and sentence."""
    now = now or timezone.now()
    arms = list(experiment.arms.select_related("version").all())
    serving = [arm for arm in arms if not arm.is_shadow]
    total_weight = sum(arm.weight for arm in serving) or 1
    since, until = experiment.started_at, experiment.stopped_at or now
    numbers = arm_numbers(
        model_id=experiment.model_id, arms=[a.name for a in arms], since=since, until=until
    )
    classification = experiment.model.task_type == "classification"
    rows, distributions, regression_values = [], {}, {}
    for arm in arms:
        entry = {
            "name": arm.name,
            "version": arm.version.version,
            "weight": arm.weight,
            "share": None if arm.is_shadow else arm.weight / total_weight,
            "is_control": arm.is_control,
            "is_shadow": arm.is_shadow,
            **numbers[arm.name],
            "labelled": 0,
            "correct": 0,
            "accuracy": None,
        }
        if since is not None:
            queryset = _window(experiment.model_id, [arm.name], since, until)
            if classification:
                predicted, entry["labelled"], entry["correct"] = _outputs_and_feedback(queryset)
                distributions[arm.name] = predicted
            else:
                regression_values[arm.name] = [
                    float(v)
                    for outputs in queryset.filter(status=PredictionStatus.OK)
                    .values_list("outputs", flat=True)
                    .iterator(chunk_size=2000)
                    for v in outputs
                ]
        if entry["labelled"]:
            entry["accuracy"] = entry["correct"] / entry["labelled"]
        for key in ("share", "error_rate", "accuracy"):  # for display: 12.5, not 0.125
            entry[f"{key}_pct"] = None if entry[key] is None else round(entry[key] * 100, 1)
        rows.append(entry)
    if classification:
        labels = sorted({label for counter in distributions.values() for label in counter})
        counts = {arm: [distributions.get(arm, Counter())[x] for x in labels] for arm in numbers}
    else:
        labels, counts = _regression_bins(regression_values)
        counts = {arm.name: counts.get(arm.name, [0] * len(labels)) for arm in arms}
    for entry in rows:
        entry["distribution"] = counts.get(entry["name"], [])
    comparison = compare([row for row in rows if not row["is_shadow"]])
    comparison["distribution_p"] = _distribution_test(
        [counts[row["name"]] for row in rows if not row["is_shadow"] and row["requests"]]
    )
    return {
        "arms": rows,
        "labels": labels,
        "comparison": comparison,
        "since": since,
        "until": until,
    }


def _distribution_test(tables):
    """Chi-square p-value that the arms predict alike; None when there is nothing to test."""
    if len(tables) < 2:
        return None
    matrix = np.array(tables)
    matrix = matrix[:, matrix.sum(axis=0) > 0]
    if matrix.shape[1] < 2 or (matrix.sum(axis=1) == 0).any():
        return None
    return float(scipy_stats.chi2_contingency(matrix)[1])


def compare(arms):
    """Which serving arm leads (accuracy when feedback exists, else error rate) and how surely."""
    active = [arm for arm in arms if arm["requests"]]
    if not active:
        return {"sentence": "No requests yet in this experiment's window.", "significant": False}
    if len(active) < 2:
        only = active[0]["name"]
        return {
            "sentence": f"Only arm {only} has served requests so far: nothing to compare yet.",
            "significant": False,
        }
    labelled = [arm for arm in active if arm["labelled"]]
    if len(labelled) >= 2:
        ranked = sorted(labelled, key=lambda arm: -arm["accuracy"])
        leader, runner = ranked[0], ranked[1]
        p = two_proportion_test(
            leader["correct"], leader["labelled"], runner["correct"], runner["labelled"]
        )
        metric, a, b = "accuracy", leader["accuracy"], runner["accuracy"]
        basis = f"{leader['labelled']} and {runner['labelled']} labelled rows"
        wait_for = "feedback"
    else:
        ranked = sorted(active, key=lambda arm: arm["error_rate"])
        leader, runner = ranked[0], ranked[1]
        p = two_proportion_test(
            leader["errors"], leader["requests"], runner["errors"], runner["requests"]
        )
        metric, a, b = "error rate", leader["error_rate"], runner["error_rate"]
        basis = f"{leader['requests']} and {runner['requests']} requests; no feedback yet"
        wait_for = "requests (or feedback, to compare accuracy)"
    result = {"metric": metric, "leader": leader["name"], "runner_up": runner["name"], "p_value": p}
    if a == b:
        result["significant"] = False
        result["sentence"] = (
            f"Arms {leader['name']} and {runner['name']} are level on {metric} "
            f"({a:.1%}, {basis}): no arm leads yet."
        )
        return result
    result["significant"] = p is not None and p < SIGNIFICANCE_LEVEL
    verdict = (
        f"the difference is significant (p = {p:.3g} < {SIGNIFICANCE_LEVEL})"
        if result["significant"]
        else f"the difference is not significant yet (p = {p:.3g}); keep collecting {wait_for}"
    )
    result["sentence"] = (
        f"Arm {leader['name']} leads on {metric} ({a:.1%} vs {b:.1%} for {runner['name']}, "
        f"{basis}); {verdict}."
    )
    return result
