"""A small CSV model with numeric, few-valued and categorical columns, and logged windows."""

import io
import uuid
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from models_registry.models import TrainingJob
from models_registry.serving import clear_loaded, load_estimator
from models_registry.training.pipeline import run_training
from predictions.models import Prediction, PredictionStatus

ROWS = 400
ROWS_PER_RECORD = 4


def shop_frame(rows=ROWS, seed=7):
    """`size` decides the label; `weight`, `colour` and `doors` are along for the ride."""
    rng = np.random.default_rng(seed)
    size = rng.normal(50, 10, rows).round(2)
    return pd.DataFrame(
        {
            "size": size,
            "weight": rng.normal(70, 8, rows).round(2),
            "doors": rng.choice([2, 4], rows),
            "colour": rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2]),
            "label": np.where(size + rng.normal(0, 3, rows) > 50, "big", "small"),
        }
    )


@pytest.fixture
def shop_version(admin_user):
    """A production version trained through the real pipeline on shop_frame's CSV."""
    clear_loaded()
    buffer = io.StringIO()
    shop_frame().to_csv(buffer, index=False)
    job = TrainingJob(
        model_name="shop",
        dataset="csv",
        target_column="label",
        estimator="logistic_regression",
        promote_on_success=True,
        created_by=admin_user,
    )
    job.csv_file.save("shop.csv", ContentFile(buffer.getvalue().encode()), save=False)
    job.save()
    version = run_training(job.pk)
    job.refresh_from_db()
    assert version is not None, job.error
    version.refresh_from_db()
    assert version.stage == "production"
    return version


def predict(version, frame):
    columns = [f["name"] for f in version.input_schema]
    return [str(p) for p in load_estimator(version).predict(frame[columns])]


def log_window(version, frame, outputs=None, *, ago=timedelta(minutes=5), status="ok"):
    """Log `frame`'s rows as predictions of `version`, a few rows per record, `ago` back."""
    features = frame.drop(columns=["label"], errors="ignore")
    rows = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in features.to_dict("records")
    ]
    if outputs is None:
        outputs = predict(version, features) if len(features) else []
    when = timezone.now() - ago
    Prediction.objects.bulk_create(
        Prediction(
            request_id=uuid.uuid4().hex,
            model_id=version.model_id,
            version=version,
            model_name=version.model.name,
            version_number=version.version,
            inputs=rows[i : i + ROWS_PER_RECORD],
            outputs=outputs[i : i + ROWS_PER_RECORD] if status == PredictionStatus.OK else [],
            rows=len(rows[i : i + ROWS_PER_RECORD]),
            latency_ms=1.0,
            status=status,
            created_at=when,
        )
        for i in range(0, len(rows), ROWS_PER_RECORD)
    )


def shifted(frame):
    """`weight` moved by three standard deviations, and `colour` partly a never-seen colour."""
    frame = frame.copy()
    frame["weight"] = frame["weight"] + 24
    frame.loc[frame.index % 5 < 2, "colour"] = "purple"
    return frame
