"""Evaluation metrics and validation gates."""

import operator

import numpy as np
from sklearn import metrics as sk

from models_registry.models import TaskType

PRIMARY_METRIC = {TaskType.CLASSIFICATION: "roc_auc", TaskType.REGRESSION: "rmse"}
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")


def evaluate(task_type, estimator, X_test, y_test):
    if task_type == TaskType.REGRESSION:
        predicted = estimator.predict(X_test)
        return {
            "rmse": float(np.sqrt(sk.mean_squared_error(y_test, predicted))),
            "mae": float(sk.mean_absolute_error(y_test, predicted)),
            "r2": float(sk.r2_score(y_test, predicted)),
        }
    predicted = estimator.predict(X_test)
    probabilities = estimator.predict_proba(X_test)
    classes = list(estimator.classes_)
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos_label = classes[1] if binary else None
    roc_auc = (
        sk.roc_auc_score(y_test, probabilities[:, 1])
        if binary
        else sk.roc_auc_score(y_test, probabilities, multi_class="ovr", labels=classes)
    )
    return {
        "accuracy": float(sk.accuracy_score(y_test, predicted)),
        "precision": float(
            sk.precision_score(
                y_test, predicted, average=average, pos_label=pos_label, zero_division=0
            )
        ),
        "recall": float(
            sk.recall_score(
                y_test, predicted, average=average, pos_label=pos_label, zero_division=0
            )
        ),
        "f1": float(
            sk.f1_score(y_test, predicted, average=average, pos_label=pos_label, zero_division=0)
        ),
        "roc_auc": float(roc_auc),
        "log_loss": float(sk.log_loss(y_test, probabilities, labels=classes)),
    }


def check_gates(*, task_type, metrics, gates, production_metrics=None, max_regression=None):
    """Return one result per gate: {"gate", "passed", "detail"}."""
    results = []
    for gate in gates:
        name, op, threshold = gate["metric"], gate["op"], float(gate["threshold"])
        value = metrics.get(name)
        passed = value is not None and OPERATORS[op](value, threshold)
        results.append(
            {
                "gate": f"{name} {op} {threshold:g}",
                "passed": bool(passed),
                "detail": "metric missing" if value is None else f"{name} = {value:.4f}",
            }
        )
    primary = PRIMARY_METRIC[TaskType(task_type)]
    if max_regression is not None and production_metrics and primary in production_metrics:
        current, baseline = metrics[primary], production_metrics[primary]
        worse_by = current - baseline if primary in LOWER_IS_BETTER else baseline - current
        results.append(
            {
                "gate": f"{primary} no worse than production by more than {max_regression:g}",
                "passed": bool(worse_by <= max_regression),
                "detail": f"{primary} = {current:.4f} vs production {baseline:.4f}",
            }
        )
    return results


def validate_gates(gates):
    """Check a model's gate list before saving it."""
    from django.core.exceptions import ValidationError

    known = set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)
    for gate in gates:
        if set(gate) != {"metric", "op", "threshold"}:
            raise ValidationError("Each gate needs metric, op and threshold.")
        if gate["metric"] not in known or gate["op"] not in OPERATORS:
            raise ValidationError(f"Unknown metric or operator in gate {gate}.")
        try:
            float(gate["threshold"])
        except (TypeError, ValueError):
            raise ValidationError(f"Gate threshold must be a number: {gate}.") from None
