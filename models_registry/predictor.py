"""What serving calls to predict: a fitted pipeline, compiled to numpy when that is safe.

Our pipelines are `ColumnTransformer` ("prepare") then an estimator, fitted on DataFrames.
Through the pipeline, one row costs ~6 ms on this project's 2-core machines, almost all of it
the ColumnTransformer's pandas bookkeeping and scikit-learn's per-call input checks; the
arithmetic is a tiny part of it. A compiled predictor does that arithmetic on numpy blocks in
the schema's column order: the scaler, imputer and linear models as the numpy operations their
methods run, a forest's trees without joblib's dispatch, any other step through its own
method. Before it serves, it is checked against the pipeline itself on probe rows drawn
from the input schema; a pipeline of a shape it does not know, or one whose answers differ,
is served through the pipeline as it is. Either way the caller sees one interface.
"""

import copy
import logging

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble._forest import ForestClassifier, ForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import softmax

logger = logging.getLogger(__name__)

PROBE_ROWS = 16
PROBE_SEED = 20261130
# Float64 arithmetic in another order (hstack vs the transformer's own) may differ in the
# last bits; anything beyond that is a different model.
RTOL, ATOL = 1e-9, 1e-12
PROBABILITY_DIGITS = 6


def _answers(predictions, proba):
    """Arrays to JSON-ready lists: numpy scalars to Python ones, probabilities rounded."""
    predictions = [v.item() if hasattr(v, "item") else v for v in predictions]
    if proba is None:
        return predictions, None
    return predictions, np.round(proba, PROBABILITY_DIGITS).tolist()


class Predictor:
    """A version's fitted pipeline behind one interface: rows or frames in, answers out."""

    compiled = False

    def __init__(self, pipeline, schema, output_classes):
        self.pipeline = pipeline
        self.columns = [feature["name"] for feature in schema]
        self.categorical = {f["name"] for f in schema if f["type"] == "category"}
        self.classes = (
            list(pipeline.classes_)
            if hasattr(pipeline, "predict_proba") and output_classes
            else None
        )

    def predict_frame(self, frame):
        """(predictions, probabilities or None) as arrays, for a frame with schema columns."""
        if self.classes is None:
            return self.pipeline.predict(frame[self.columns]), None
        # One pass through the pipeline: the predicted class is the most probable one, which is
        # how scikit-learn's classifiers decide too.
        proba = self.pipeline.predict_proba(frame[self.columns])
        return self.pipeline.classes_[proba.argmax(axis=1)], proba

    def predict_rows(self, rows):
        """(predictions, probabilities or None) as plain lists, for validated row dicts."""
        return _answers(*self.predict_frame(self._frame(rows)))

    def _frame(self, rows):
        values = [[row.get(c) for c in self.columns] for row in rows]
        return pd.DataFrame(values, columns=self.columns)


class CompiledPredictor(Predictor):
    """The same pipeline, its fitted steps called on numpy blocks (see the module docstring)."""

    compiled = True

    def __init__(self, pipeline, schema, output_classes):
        super().__init__(pipeline, schema, output_classes)
        prepare, final = pipeline.steps[0][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 2 or not isinstance(prepare, ColumnTransformer):
            raise NotCompilable("not a ColumnTransformer followed by an estimator")
        blocks = [
            _block(name, step, cols, self.categorical) for name, step, cols in prepare.transformers_
        ]
        self.blocks = [block for block in blocks if block is not None]
        self.final = _detached(final)
        self.proba, self.regress = _final_kernels(self.final)

    def predict_frame(self, frame):
        return self._predict(lambda cols, dtype: frame[cols].to_numpy(dtype=dtype))

    def predict_arrays(self, rows):
        """predict_rows' answers before they become lists (for the check against the pipeline)."""
        return self._predict(
            lambda cols, dtype: np.array([[row.get(c) for c in cols] for row in rows], dtype=dtype)
        )

    def predict_rows(self, rows):
        return _answers(*self.predict_arrays(rows))

    def _predict(self, block_of):
        parts = []
        for columns, dtype, transforms in self.blocks:
            values = block_of(columns, dtype)
            for transform in transforms:
                values = transform(values)
            parts.append(values)
        features = parts[0] if len(parts) == 1 else np.hstack(parts)
        if self.classes is None:
            return self.regress(features), None
        proba = self.proba(features)
        return self.final.classes_[proba.argmax(axis=1)], proba


# ---------------------------------------------------------------- kernels
# The steps our training pipeline builds, as the arithmetic their transform or predict does
# (same operations, same order, so the same float64 results) without scikit-learn's per-call
# input checks, which cost more than the arithmetic on a few rows. Any other step keeps its
# own method; the probe check in predictor_build vouches for the whole either way.


def _transform_kernel(step):
    if type(step) is StandardScaler:
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None

        def scaled(values):
            values = np.array(values, dtype=np.float64)  # a copy: never the caller's frame
            if mean is not None:
                values -= mean
            if scale is not None:
                values /= scale
            return values

        return scaled
    stats = getattr(step, "statistics_", None)
    if (
        type(step) is SimpleImputer
        and not step.add_indicator
        and _is_nan(step.missing_values)
        and stats is not None
        and stats.dtype.kind == "f"
        and np.isfinite(stats).all()  # else the imputer drops columns: leave it to itself
    ):

        def imputed(values):
            missing = np.isnan(values)
            return np.where(missing, stats, values) if missing.any() else values

        return imputed
    return step.transform


def _is_nan(value):
    return isinstance(value, float) and value != value


def _final_kernels(final):
    """(proba, regress) functions for the final estimator."""
    if type(final) is LogisticRegression:
        coef, intercept = final.coef_.T, final.intercept_
        if final.classes_.size <= 2:

            def binary(features):
                positive = expit((features @ coef + intercept).reshape(-1))
                return np.stack([1 - positive, positive], axis=1)

            return binary, None
        return (lambda features: softmax(features @ coef + intercept, copy=False)), None
    if type(final) is LinearRegression:
        coef, intercept = final.coef_.T, final.intercept_
        return None, lambda features: features @ coef + intercept
    if isinstance(final, ForestClassifier | ForestRegressor) and final.n_outputs_ == 1:
        return (lambda f: _forest(final, f, proba=True)), (lambda f: _forest(final, f, proba=False))
    return getattr(final, "predict_proba", None), final.predict


def _forest(forest, features, *, proba):
    """What the forest itself does with n_jobs=1, in the same order, minus joblib's dispatch."""
    features = np.ascontiguousarray(features, dtype=np.float32)
    shape = (features.shape[0], forest.n_classes_) if proba else features.shape[0]
    total = np.zeros(shape, dtype=np.float64)
    for tree in forest.estimators_:
        total += (tree.predict_proba if proba else tree.predict)(features, check_input=False)
    return total / len(forest.estimators_)


class NotCompilable(Exception):
    """The pipeline has a shape the compiler does not know; it is served as it is."""


def _detached(step):
    """A copy of a fitted step that takes numpy: the column names it was fitted with dropped.

    Feature names only serve to check a DataFrame's columns (and to name outputs); the
    compiled path passes columns in the fitted order itself, so the check has nothing to do.
    """
    step = copy.deepcopy(step)
    if "feature_names_in_" in vars(step):
        del step.feature_names_in_
    return step


def _block(name, step, columns, categorical):
    """(columns, dtype, [steps]) of one ColumnTransformer entry; None when it is dropped."""
    if isinstance(step, str) and step == "drop":
        return None
    if isinstance(step, str) or not all(isinstance(c, str) for c in columns):
        raise NotCompilable(f"transformer {name!r} is {step!r} on {columns!r}")
    if not columns:
        return None
    steps = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
    if any(s is None or isinstance(s, str) for s in steps):
        raise NotCompilable(f"transformer {name!r} has a passthrough step")
    dtype = object if categorical.intersection(columns) else float
    return list(columns), dtype, [_transform_kernel(_detached(s)) for s in steps]


def probe_rows(schema, count=PROBE_ROWS, seed=PROBE_SEED):
    """Rows that fit the schema, spread over its ranges and categories."""
    rng = np.random.default_rng(seed)
    rows = [{} for _ in range(count)]
    for feature in schema:
        name = feature["name"]
        if feature["type"] == "category":
            categories = feature.get("categories") or ["a", "b"]
            for index, row in enumerate(rows):
                row[name] = categories[index % len(categories)]
            continue
        low = feature.get("min")
        high = feature.get("max")
        low = 0.0 if low is None else float(low)
        high = low + 1.0 if high is None else float(high)
        values = rng.uniform(low, high, count)
        values[:2] = (low, high)
        for row, value in zip(rows, values, strict=True):
            row[name] = round(value) if feature["type"] == "integer" else float(value)
    return rows


def predictor_build(pipeline, *, schema, output_classes, label=""):
    """The compiled predictor when it gives the pipeline's own answers, else the plain one."""
    plain = Predictor(pipeline, schema, output_classes)
    try:
        compiled = CompiledPredictor(pipeline, schema, output_classes)
        rows = probe_rows(schema)
        expected = plain.predict_frame(plain._frame(rows))
        same = _same(expected, compiled.predict_arrays(rows)) and _same(
            expected, compiled.predict_frame(plain._frame(rows))
        )
    except NotCompilable as exc:
        logger.info("%s served through its pipeline: %s", label, exc)
        return plain
    except Exception:  # whatever fails here, the pipeline itself still serves
        logger.warning("%s: compiling for serving failed", label, exc_info=True)
        return plain
    if not same:
        logger.warning("%s: compiled answers differ from the pipeline's; not used", label)
        return plain
    return compiled


def _same(expected, got):
    (want_predictions, want_proba), (got_predictions, got_proba) = expected, got
    if want_proba is None:
        return got_proba is None and np.allclose(
            np.asarray(want_predictions, dtype=float),
            np.asarray(got_predictions, dtype=float),
            rtol=RTOL,
            atol=ATOL,
        )
    return (
        got_proba is not None
        and list(want_predictions) == list(got_predictions)
        and np.allclose(want_proba, got_proba, rtol=RTOL, atol=ATOL)
    )
