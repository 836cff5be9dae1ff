"""The estimators one can train, their hyperparameters and how they are validated."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models_registry.models import TaskType


@dataclass(frozen=True)
class Param:
    kind: type
    default: object
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()

    def parse(self, name, raw):
        if self.kind is bool and isinstance(raw, str):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValidationError({name: f"{name} must be true or false (got {raw!r})."})
            return raw.lower() in ("true", "1")
        try:
            value = self.kind(raw) if not isinstance(raw, self.kind) else raw
        except (TypeError, ValueError):
            raise ValidationError(
                {name: f"{name} must be a {self.kind.__name__} (got {raw!r})."}
            ) from None
        if self.choices and value not in self.choices:
            raise ValidationError({name: f"{name} must be one of {', '.join(self.choices)}."})
        if self.minimum is not None and value < self.minimum:
            raise ValidationError({name: f"{name} must be at least {self.minimum}."})
        if self.maximum is not None and value > self.maximum:
            raise ValidationError({name: f"{name} must be at most {self.maximum}."})
        return value


@dataclass(frozen=True)
class EstimatorSpec:
    name: str
    label: str
    classes: dict  # task type -> estimator class
    params: dict  # name -> Param
    scale: bool = False

    def validate(self, task_type, raw_params):
        if task_type not in self.classes:
            raise ValidationError(f"{self.label} cannot do {task_type}.")
        unknown = set(raw_params) - set(self.params)
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            raise ValidationError(
                f"Unknown parameter(s) {', '.join(sorted(unknown))} for {self.name} "
                f"(allowed: {allowed})."
            )
        values = {name: spec.default for name, spec in self.params.items()}
        values.update({k: self.params[k].parse(k, v) for k, v in raw_params.items()})
        return values

    def build(self, task_type, params, X):
        numeric = [c for c in X.columns if X[c].dtype.kind in "biuf"]
        categorical = [c for c in X.columns if c not in numeric]
        numeric_steps = [("impute", SimpleImputer(strategy="median"))]
        if self.scale:
            numeric_steps.append(("scale", StandardScaler()))
        transformers = [("numeric", Pipeline(numeric_steps), numeric)]
        if categorical:
            transformers.append(
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    categorical,
                )
            )
        estimator_params = dict(params)
        if "random_state" in self.classes[task_type]().get_params():
            estimator_params.setdefault("random_state", 0)
        return Pipeline(
            [
                ("prepare", ColumnTransformer(transformers)),
                ("estimator", self.classes[task_type](**estimator_params)),
            ]
        )


TREES = {
    "n_estimators": Param(int, 100, 1, 2000),
    "max_depth": Param(int, 8, 1, 100),
    "min_samples_leaf": Param(int, 1, 1, 1000),
}
ESTIMATORS = {
    spec.name: spec
    for spec in (
        EstimatorSpec(
            "logistic_regression",
            "Logistic regression",
            {TaskType.CLASSIFICATION: LogisticRegression},
            {"C": Param(float, 1.0, 1e-6, 1e6), "max_iter": Param(int, 1000, 10, 100_000)},
            scale=True,
        ),
        EstimatorSpec(
            "linear_regression",
            "Linear regression",
            {TaskType.REGRESSION: LinearRegression},
            {"fit_intercept": Param(bool, True)},
            scale=True,
        ),
        EstimatorSpec(
            "random_forest",
            "Random forest",
            {
                TaskType.CLASSIFICATION: RandomForestClassifier,
                TaskType.REGRESSION: RandomForestRegressor,
            },
            TREES,
        ),
        EstimatorSpec(
            "gradient_boosting",
            "Gradient boosting",
            {
                TaskType.CLASSIFICATION: GradientBoostingClassifier,
                TaskType.REGRESSION: GradientBoostingRegressor,
            },
            {
                "n_estimators": Param(int, 100, 1, 2000),
                "learning_rate": Param(float, 0.1, 1e-4, 1.0),
                "max_depth": Param(int, 3, 1, 20),
            },
        ),
    )
}


def get_estimator(name):
    if name not in ESTIMATORS:
        known = ", ".join(sorted(ESTIMATORS))
        raise ValidationError(f"Unknown estimator {name!r}: choose one of {known}.")
    return ESTIMATORS[name]


def parse_param_strings(pairs):
    """Turn ['n_estimators=200', ...] into a dict of raw strings (validated later)."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"Parameters look like name=value (got {pair!r}).")
        params[key.strip()] = value.strip()
    return params
