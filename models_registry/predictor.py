"""What serving calls to predict: a fitted pipeline, compiled to numpy when that is safe.

Our pipelines are `ColumnTransformer` ("prepare") then an estimator, fitted on DataFrames.
Through the pipeline, one row costs ~6 ms on this project's 2-core machines, almost all of it
the ColumnTransformer's pandas bookkeeping; the arithmetic is a tenth of that. A compiled
predictor calls each fitted step directly on numpy blocks in the schema's column order (and a
forest's trees without joblib's dispatch), which is the same computation without the
bookkeeping. Before it serves, it is checked against the pipeline itself on probe rows drawn
from the input schema; a pipeline of a shape it does not know, or one whose answers differ,
is served through the pipeline as it is. Either way the caller sees one interface.
"""

import copy
import logging

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble._forest import ForestClassifier, ForestRegressor
from sklearn.pipeline import Pipeline

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
        self.forest = isinstance(final, ForestClassifier | ForestRegressor) and (
            final.n_outputs_ == 1
        )

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
        for columns, dtype, steps in self.blocks:
            values = block_of(columns, dtype)
            for step in steps:
                values = step.transform(values)
            parts.append(values)
        features = parts[0] if len(parts) == 1 else np.hstack(parts)
        if self.classes is None:
            return self._regress(features), None
        proba = self._proba(features)
        return self.final.classes_[proba.argmax(axis=1)], proba

    def _proba(self, features):
        if not self.forest:
            return self.final.predict_proba(features)
        # What the forest itself does with n_jobs=1, in the same order, minus joblib's dispatch.
        features = np.ascontiguousarray(features, dtype=np.float32)
        total = np.zeros((features.shape[0], self.final.n_classes_), dtype=np.float64)
        for tree in self.final.estimators_:
            total += tree.predict_proba(features, check_input=False)
        return total / len(self.final.estimators_)

    def _regress(self, features):
        if not self.forest:
            return self.final.predict(features)
        features = np.ascontiguousarray(features, dtype=np.float32)
        total = np.zeros(features.shape[0], dtype=np.float64)
        for tree in self.final.estimators_:
            total += tree.predict(features, check_input=False)
        return total / len(self.final.estimators_)


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
    return list(columns), dtype, [_detached(s) for s in steps]


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
