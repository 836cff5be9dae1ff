import pytest

from models_registry.models import TrainingJob
from models_registry.serving import clear_loaded
from models_registry.training.pipeline import run_training


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_loaded()


@pytest.fixture
def train(admin_user):
    """Train a version through the real pipeline (small data, fast estimator)."""

    def run(name="iris-model", dataset="iris", estimator="logistic_regression", params=None):
        job = TrainingJob.objects.create(
            model_name=name,
            dataset=dataset,
            estimator=estimator,
            params=params or {},
            created_by=admin_user,
        )
        version = run_training(job.pk)
        job.refresh_from_db()
        assert version is not None, job.error
        return version

    return run
