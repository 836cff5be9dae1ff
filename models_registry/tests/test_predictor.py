"""Compiled predictors give the pipeline's own answers, or are not used."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models_registry.models import TaskType
from models_registry.predictor import CompiledPredictor, Predictor, predictor_build
from models_registry.training.estimators import get_estimator
from models_registry.training.schema import infer_input_schema

SMALL = {
    "logistic_regression": {},
    "linear_regression": {},
    "random_forest": {"n_estimators": 7, "max_depth": 4},
    "gradient_boosting": {"n_estimators": 5},
}


def shop(rows=240, seed=3):
    """Numbers (one with gaps) and a category: every kind of column our pipelines prepare."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "basket": rng.gamma(2.0, 30.0, rows),
            "visits": rng.integers(0, 40, rows),
            "discount": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
            "channel": rng.choice(["web", "app", "store"], rows),
        }
    )
    spend = frame["basket"] + 3 * frame["visits"] + 20 * (frame["channel"] == "app")
    return frame, spend, (spend > spend.median()).map({True: "high", False: "low"})


def fit(estimator, X, y, task):
    spec = get_estimator(estimator)
    pipeline = spec.build(task, spec.validate(task, SMALL[estimator]), X)
    return pipeline.fit(X, y)


def rows_of(frame):
    return [
        {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


@pytest.mark.parametrize(
    ("estimator", "task"),
    [
        ("logistic_regression", TaskType.CLASSIFICATION),
        ("random_forest", TaskType.CLASSIFICATION),
        ("gradient_boosting", TaskType.CLASSIFICATION),
        ("linear_regression", TaskType.REGRESSION),
        ("random_forest", TaskType.REGRESSION),
        ("gradient_boosting", TaskType.REGRESSION),
    ],
)
def test_every_trainable_pipeline_compiles_to_the_same_answers(estimator, task):
    X, spend, label = shop()
    y = label if task == TaskType.CLASSIFICATION else spend
    pipeline = fit(estimator, X, y, task)
    schema = infer_input_schema(X)
    classes = sorted(label.unique()) if task == TaskType.CLASSIFICATION else []
    predictor = predictor_build(pipeline, schema=schema, output_classes=classes)
    assert isinstance(predictor, CompiledPredictor)

    unseen, _, _ = shop(rows=60, seed=99)  # rows it was neither trained nor checked on
    plain = Predictor(pipeline, schema, classes)
    assert predictor.predict_rows(rows_of(unseen)) == plain.predict_rows(rows_of(unseen))
    predictions, proba = predictor.predict_frame(unseen)
    if task == TaskType.CLASSIFICATION:
        assert list(predictions) == list(pipeline.predict(unseen))
        np.testing.assert_allclose(proba, pipeline.predict_proba(unseen), rtol=1e-9)
    else:
        assert proba is None
        np.testing.assert_allclose(predictions, pipeline.predict(unseen), rtol=1e-9)


def test_a_missing_optional_value_is_imputed_as_the_pipeline_does():
    X, _, label = shop()
    pipeline = fit("logistic_regression", X, label, TaskType.CLASSIFICATION)
    schema = infer_input_schema(X)
    predictor = predictor_build(pipeline, schema=schema, output_classes=["high", "low"])
    row = {"basket": 80.0, "visits": 3, "discount": None, "channel": "app"}
    expected = pipeline.predict_proba(pd.DataFrame([row]).astype({"discount": float}))
    assert predictor.predict_rows([row])[1] == np.round(expected, 6).tolist()


def test_an_unknown_shape_is_served_through_the_pipeline():
    iris = load_iris(as_frame=True)
    X = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    bare = LogisticRegression(max_iter=500).fit(X, iris.target)  # no ColumnTransformer
    predictor = predictor_build(bare, schema=infer_input_schema(X), output_classes=[0, 1, 2])
    assert not predictor.compiled
    predictions, proba = predictor.predict_rows(rows_of(X.head(3)))
    assert predictions == [0, 0, 0]
    assert len(proba[0]) == 3


def test_a_pipeline_whose_answers_would_differ_is_not_compiled():
    # A step that treats a DataFrame and an array differently: the probe check must notice.
    X, spend = load_diabetes(return_X_y=True, as_frame=True)
    shifty = FunctionTransformer(lambda v: v * 2 if isinstance(v, pd.DataFrame) else v)
    prepare = ColumnTransformer([("numeric", shifty, list(X.columns))])
    pipeline = Pipeline([("prepare", prepare), ("estimator", LinearRegression())]).fit(X, spend)
    predictor = predictor_build(pipeline, schema=infer_input_schema(X), output_classes=[])
    assert type(predictor) is Predictor
    rows = rows_of(X.head(4))
    assert predictor.predict_rows(rows)[0] == pytest.approx(list(pipeline.predict(X.head(4))))


def test_multiclass_logistic_regression_compiles_exactly_and_leaves_the_frame_alone():
    iris = load_iris(as_frame=True)
    X = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    y = iris.target.map(dict(enumerate(iris.target_names)))
    pipeline = fit("logistic_regression", X, y, TaskType.CLASSIFICATION)
    predictor = predictor_build(
        pipeline, schema=infer_input_schema(X), output_classes=list(iris.target_names)
    )
    assert predictor.compiled
    before = X.copy()
    predictions, proba = predictor.predict_frame(X)
    pd.testing.assert_frame_equal(X, before)  # the scaler worked on a copy
    np.testing.assert_array_equal(predictions, pipeline.predict(X))
    np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=1e-12, atol=0)
