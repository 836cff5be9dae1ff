"""Training data: the datasets scikit-learn ships, or an uploaded CSV with a target column."""

import hashlib
import io
from dataclasses import dataclass

import pandas as pd
from django.core.exceptions import ValidationError
from sklearn import datasets as sk_datasets

from models_registry.models import TaskType

BUILTIN = {
    "breast_cancer": (sk_datasets.load_breast_cancer, TaskType.CLASSIFICATION),
    "iris": (sk_datasets.load_iris, TaskType.CLASSIFICATION),
    "wine": (sk_datasets.load_wine, TaskType.CLASSIFICATION),
    "diabetes": (sk_datasets.load_diabetes, TaskType.REGRESSION),
}
CSV = "csv"
MAX_CSV_BYTES = 20 * 1024 * 1024
MIN_ROWS = 20
# A numeric target with at most this many distinct values is treated as class labels.
MAX_CLASSES = 20


@dataclass
class Dataset:
    name: str
    X: pd.DataFrame
    y: pd.Series
    task_type: str

    @property
    def fingerprint(self):
        """sha256 of the data itself, so the same rows give the same fingerprint anywhere."""
        digest = hashlib.sha256()
        digest.update(pd.util.hash_pandas_object(self.X, index=False).to_numpy().tobytes())
        digest.update(pd.util.hash_pandas_object(self.y, index=False).to_numpy().tobytes())
        return digest.hexdigest()


def load_builtin(name):
    if name not in BUILTIN:
        known = ", ".join(sorted(BUILTIN))
        raise ValidationError(f"Unknown dataset {name!r}: choose one of {known} or upload a CSV.")
    loader, task_type = BUILTIN[name]
    bunch = loader(as_frame=True)
    X = bunch.data.rename(columns=lambda c: str(c).replace(" ", "_"))
    y = bunch.target
    if task_type == TaskType.CLASSIFICATION:
        y = y.map(dict(enumerate(bunch.target_names))).astype(str)
    return Dataset(name=name, X=X, y=y, task_type=task_type)


def read_csv(raw, *, target, name="upload.csv"):
    """Parse and check an uploaded CSV; each problem is a ValidationError a person can act on."""
    if not raw:
        raise ValidationError("The CSV file is empty.")
    if len(raw) > MAX_CSV_BYTES:
        raise ValidationError(f"The CSV file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text; upload a CSV file.") from None
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"The file is not a readable CSV ({exc}).") from None
    if frame.shape[1] < 2:
        raise ValidationError("The CSV needs a header row and at least two columns.")
    if not target:
        raise ValidationError("Choose the target column.")
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise ValidationError(f"Target column {target!r} is not in the CSV (columns: {columns}).")
    frame = frame.dropna(subset=[target])
    if len(frame) < MIN_ROWS:
        raise ValidationError(f"The CSV needs at least {MIN_ROWS} rows with a target value.")
    y = frame.pop(target)
    X = frame.rename(columns=lambda c: str(c).strip())
    for column in X.columns:
        if X[column].dtype == object:
            converted = pd.to_numeric(X[column], errors="coerce")
            # A column that is numbers apart from a few blanks is numeric; else categorical.
            if converted.notna().sum() >= 0.95 * X[column].notna().sum() > 0:
                X[column] = converted
            else:
                X[column] = X[column].astype("string").fillna("")
    if all(X[c].dtype == "string" for c in X.columns) and X.map(len).eq(0).all().all():
        raise ValidationError("The CSV has no usable feature values.")
    numeric_target = pd.to_numeric(y, errors="coerce")
    if numeric_target.notna().all() and numeric_target.nunique() > MAX_CLASSES:
        return Dataset(
            name=name, X=X, y=numeric_target.astype(float), task_type=TaskType.REGRESSION
        )
    if y.nunique() < 2:
        raise ValidationError("The target column needs at least two different values.")
    return Dataset(name=name, X=X, y=y.astype(str), task_type=TaskType.CLASSIFICATION)
