"""Live model performance from feedback: daily rollups, metrics over a window, alerts.

Feedback labels the rows of a logged prediction. `performance_refresh` recomputes one model's
PerformanceDay rows for one day of predictions from Feedback alone (it copies what it needs
from the prediction), so it is cheap and idempotent: a changed label is simply counted anew.
`live_metrics` merges days into the metrics training reported (accuracy, precision, recall,
F1, ROC AUC; RMSE, MAE), and `performance_check` compares the production version's primary
metric with its training value and alerts past the model's margin.
"""

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from models_registry.models import MLModel, ModelVersion, TaskType
from models_registry.training.metrics import LOWER_IS_BETTER, PRIMARY_METRIC
from monitoring import metrics as portal_metrics
from monitoring.models import SCORE_BINS, MonitoringSettings, PerformanceCheck, PerformanceDay
from predictions.models import Feedback

WINDOW_DAYS = 7


def _day_bounds(day):
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _score_bin(score):
    return min(max(int(float(score) * SCORE_BINS), 0), SCORE_BINS - 1)


class _Tally:
    def __init__(self):
        self.labelled = 0
        self.confusion = defaultdict(Counter)
        self.scores = {"positive": [0] * SCORE_BINS, "negative": [0] * SCORE_BINS}
        self.squared_error = self.absolute_error = 0.0

    def add(self, *, regression, label, predicted, probabilities, positive):
        self.labelled += 1
        if regression:
            error = float(predicted) - float(label)
            self.squared_error += error * error
            self.absolute_error += abs(error)
            return
        self.confusion[str(label)][str(predicted)] += 1
        if positive is not None and probabilities and len(probabilities) == 2:
            side = "positive" if str(label) == positive else "negative"
            self.scores[side][_score_bin(probabilities[1])] += 1


def positive_class(version):
    """The class whose probability a binary classifier reports second (training's pos_label)."""
    classes = version.output_classes if version else []
    return str(classes[1]) if len(classes) == 2 else None


@transaction.atomic
def performance_refresh(*, model_name, day):
    """Recompute the model's PerformanceDay rows for predictions made on `day`."""
    start, end = _day_bounds(day)
    model = MLModel.objects.filter(name=model_name).first()
    regression = model is not None and model.task_type == TaskType.REGRESSION
    versions = {v.version: v for v in ModelVersion.objects.light().filter(model__name=model_name)}
    tallies = defaultdict(_Tally)
    feedback = (
        Feedback.objects.filter(
            model_name=model_name, predicted_at__gte=start, predicted_at__lt=end
        )
        .select_related("prediction")
        .only("labels", "version_number", "arm", "prediction__outputs", "prediction__probabilities")
    )
    for item in feedback.iterator(chunk_size=2000):
        outputs = item.prediction.outputs or []
        probabilities = item.prediction.probabilities or [None] * len(outputs)
        positive = positive_class(versions.get(item.version_number))
        tally = tallies[(item.version_number, item.arm)]
        for label, predicted, proba in zip(item.labels, outputs, probabilities, strict=False):
            if label is None:
                continue
            tally.add(
                regression=regression,
                label=label,
                predicted=predicted,
                probabilities=proba,
                positive=positive,
            )
    PerformanceDay.objects.filter(model_name=model_name, day=day).delete()
    PerformanceDay.objects.bulk_create(
        PerformanceDay(
            day=day,
            model_name=model_name,
            version_number=version,
            arm=arm,
            labelled=t.labelled,
            confusion={true: dict(row) for true, row in t.confusion.items()},
            scores=t.scores if any(map(sum, t.scores.values())) else {},
            squared_error=t.squared_error,
            absolute_error=t.absolute_error,
        )
        for (version, arm), t in sorted(tallies.items())
        if t.labelled
    )
    return len(tallies)


def _merge(days):
    labelled = sum(d.labelled for d in days)
    confusion = defaultdict(Counter)
    scores = {"positive": [0] * SCORE_BINS, "negative": [0] * SCORE_BINS}
    squared = absolute = 0.0
    for d in days:
        for true, row in d.confusion.items():
            confusion[true].update(row)
        for side in scores:
            for index, count in enumerate((d.scores or {}).get(side, [])):
                scores[side][index] += count
        squared += d.squared_error
        absolute += d.absolute_error
    return labelled, confusion, scores, squared, absolute


def _auc(scores):
    """ROC AUC from binned scores: P(a positive outscores a negative), ties counted half."""
    positives, negatives = scores["positive"], scores["negative"]
    total = sum(positives) * sum(negatives)
    if not total:
        return None
    below = 0  # negatives in lower bins than the current one
    wins = 0.0
    for pos, neg in zip(positives, negatives, strict=True):
        wins += pos * (below + neg / 2)
        below += neg
    return wins / total


def live_metrics(days, *, regression, positive=None):
    """The metrics training reports, from merged PerformanceDay rows; {} without labels."""
    labelled, confusion, scores, squared, absolute = _merge(days)
    if not labelled:
        return {}
    if regression:
        return {
            "labelled": labelled,
            "rmse": math.sqrt(squared / labelled),
            "mae": absolute / labelled,
        }
    classes = sorted(set(confusion) | {p for row in confusion.values() for p in row})
    correct = sum(confusion[c][c] for c in classes)

    def precision_recall(cls):
        predicted = sum(confusion[t][cls] for t in classes)
        actual = sum(confusion[cls].values())
        hit = confusion[cls][cls]
        precision = hit / predicted if predicted else 0.0
        recall = hit / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    if positive is not None:
        precision, recall, f1 = precision_recall(positive)
    else:  # macro averages, as training reports them for more than two classes
        parts = [precision_recall(c) for c in classes]
        precision, recall, f1 = (sum(p[i] for p in parts) / len(parts) for i in range(3))
    found = {
        "labelled": labelled,
        "accuracy": correct / labelled,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
    auc = _auc(scores) if positive is not None else None
    if auc is not None:
        found["roc_auc"] = auc
    return found


def version_days(version, *, since):
    return PerformanceDay.objects.filter(
        model_name=version.model.name, version_number=version.version, day__gte=since
    )


def primary_metric(version, live):
    """(name, live value, training value) of the metric the alert watches."""
    name = PRIMARY_METRIC.get(version.model.task_type)
    if name not in live:  # e.g. no probabilities for ROC AUC: fall back to accuracy
        name = "accuracy" if "accuracy" in live else name
    return name, live.get(name), (version.metrics or {}).get(name)


@transaction.atomic
def performance_check(version, *, now=None):
    """Compare the live primary metric of `version` (last WINDOW_DAYS) with training's."""
    now = now or timezone.now()
    since = now.date() - timedelta(days=WINDOW_DAYS - 1)  # today and the 6 days before
    regression = version.model.task_type == TaskType.REGRESSION
    live = live_metrics(
        version_days(version, since=since),
        regression=regression,
        positive=positive_class(version),
    )
    name, live_value, training = primary_metric(version, live)
    thresholds = MonitoringSettings.for_model(version.model)
    labelled = live.get("labelled", 0)
    alerting = False
    if (
        live_value is not None
        and training is not None
        and labelled >= (thresholds.performance_min_labels)
    ):
        worse_by = live_value - training if name in LOWER_IS_BETTER else training - live_value
        alerting = worse_by > thresholds.performance_margin
    check, _ = PerformanceCheck.objects.select_for_update().get_or_create(
        version=version, defaults={"metric": name or ""}
    )
    was_alerting = check.alerting
    check.metric, check.live, check.training = name or "", live_value, training
    check.labelled, check.alerting = labelled, alerting
    check.save()
    if alerting and not was_alerting:
        AuditEvent.objects.record(
            AuditAction.PERFORMANCE_ALERT,
            target=version,
            details={
                "metric": name,
                "live": live_value,
                "training": training,
                "labelled": labelled,
                "margin": thresholds.performance_margin,
            },
        )
    portal_metrics.performance_alert.labels(version.model.name, str(version.version)).set(
        int(alerting)
    )
    return check
