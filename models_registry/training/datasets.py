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
# The target and the features together. A wider file is refused before pandas reads it: the
# per-column work below took 18 s for 100,000 columns, inside the request that uploaded it.
MAX_CSV_COLUMNS = 1000
# Column names are words, not essays: a header line longer than this per column it may have
# is refused without reading further.
HEADER_BYTES_PER_COLUMN = 1024
HEADER_MAX_BYTES = MAX_CSV_COLUMNS * HEADER_BYTES_PER_COLUMN
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


def header_fields(data, *, max_bytes):
    """(fields, complete): how many columns the first line of CSV bytes `data` names.

    Counted on the bytes themselves, nothing decoded or split, and on at most `max_bytes` of
    them, so a header of a million names costs one bounded pass. A comma between quotes is part
    of a name (an escaped quote "" leaves an empty segment, so the parity holds). When the line
    runs past `max_bytes`, `complete` is False and `fields` counts only what was read. A quoted
    name holding a line break ends the line early here; the parsed header is checked again.
    """
    head = data[: max_bytes + 1]
    end = head.find(b"\n")
    line = head[:end] if end >= 0 else head[:max_bytes]
    commas = sum(part.count(b",") for part in line.split(b'"')[::2])
    return commas + 1, end >= 0 or len(head) <= max_bytes


def check_csv_head(head):
    """Refuse a CSV whose header names more than MAX_CSV_COLUMNS columns, from its first bytes."""
    fields, complete = header_fields(head, max_bytes=HEADER_MAX_BYTES)
    if fields > MAX_CSV_COLUMNS:
        at_least = "" if complete else "at least "
        raise ValidationError(
            f"The CSV has {at_least}{fields} columns; at most {MAX_CSV_COLUMNS} "
            "(the target and the features) can be trained on."
        )
    if not complete:
        raise ValidationError(
            f"The CSV's header row is longer than {HEADER_MAX_BYTES // 1024} KB: "
            "is the first line a header of column names?"
        )


def _too_large():
    return ValidationError(f"The CSV file is larger than {MAX_CSV_BYTES // 2**20} MB.")


def check_csv_file(upload):
    """Refuse an uploaded file too large or too wide from its size and first bytes alone."""
    if upload.size > MAX_CSV_BYTES:
        raise _too_large()
    upload.seek(0)
    head = upload.read(HEADER_MAX_BYTES + 1)
    upload.seek(0)
    check_csv_head(head)


def read_csv(raw, *, target, name="upload.csv"):
    """Parse and check an uploaded CSV; each problem is a ValidationError a person can act on."""
    if not raw:
        raise ValidationError("The CSV file is empty.")
    if len(raw) > MAX_CSV_BYTES:
        raise _too_large()
    check_csv_head(raw)
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
    if frame.shape[1] > MAX_CSV_COLUMNS:  # quoted names with line breaks fooled the first look
        raise ValidationError(f"The CSV has more than {MAX_CSV_COLUMNS} columns.")
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
