"""What a version expects as input, and the reference statistics drift checks compare against."""

import numpy as np
import pandas as pd

QUANTILE_BINS = 10
MAX_CATEGORIES = 50
# Declared ranges are the training range widened by this fraction of its span on each side,
# so honest inputs slightly beyond the training data are not refused.
RANGE_MARGIN = 0.5


def _number(value):
    return None if value is None or pd.isna(value) else float(value)


def infer_input_schema(X):
    schema = []
    for column in X.columns:
        values = X[column]
        required = not values.isna().any()
        if values.dtype.kind in "biuf":
            low, high = _number(values.min()), _number(values.max())
            margin = (high - low) * RANGE_MARGIN if low is not None else 0
            floor = None if low is None else low - margin
            if low is not None and low >= 0:
                floor = max(floor, 0.0)  # a feature never negative in training stays so
            schema.append(
                {
                    "name": str(column),
                    "type": "integer" if values.dtype.kind in "biu" else "number",
                    "min": floor,
                    "max": None if high is None else high + margin,
                    "required": bool(required),
                }
            )
        else:
            categories = sorted(values.dropna().astype(str).unique().tolist())
            schema.append(
                {
                    "name": str(column),
                    "type": "category",
                    "categories": categories[: MAX_CATEGORIES * 20],
                    "required": bool(required),
                }
            )
    return schema


def _numeric_reference(values):
    clean = values.dropna().astype(float)
    edges = np.unique(np.quantile(clean, np.linspace(0, 1, QUANTILE_BINS + 1)))
    counts, _ = np.histogram(clean, bins=edges) if len(edges) > 1 else ([len(clean)], None)
    return {
        "kind": "numeric",
        "count": len(clean),
        "missing": int(values.isna().sum()),
        "mean": float(clean.mean()),
        "std": float(clean.std(ddof=0)),
        "bin_edges": [float(e) for e in edges],
        "bin_counts": [int(c) for c in counts],
        # A small sample keeps KS-style tests possible without storing the training set.
        "sample": [float(v) for v in clean.sample(min(len(clean), 500), random_state=0)],
    }


def _categorical_reference(values):
    frequencies = values.astype(str).value_counts(normalize=True).head(MAX_CATEGORIES)
    return {
        "kind": "categorical",
        "count": int(values.notna().sum()),
        "missing": int(values.isna().sum()),
        "frequencies": {str(k): float(v) for k, v in frequencies.items()},
    }


def reference_statistics(X, predictions):
    features = {
        str(column): (
            _numeric_reference(X[column])
            if X[column].dtype.kind in "biuf"
            else _categorical_reference(X[column])
        )
        for column in X.columns
    }
    predictions = pd.Series(predictions)
    if predictions.dtype.kind in "biuf" and predictions.nunique() > MAX_CATEGORIES:
        prediction_reference = _numeric_reference(predictions)
    else:
        prediction_reference = _categorical_reference(predictions)
    return {"features": features, "predictions": prediction_reference}
