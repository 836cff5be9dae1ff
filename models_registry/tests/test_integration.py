"""The registry across real processes: a Celery worker trains, another process serves."""

import subprocess
import sys
import uuid

import pytest

from models_registry import services
from models_registry.models import JobStatus, MLModel, Stage, TrainingJob
from portal.celery import app as celery_app
from portal.tests.processes import BASE_DIR, celery_worker_args, child_env, running

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"),
    pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning"),
]

# Answers each line on stdin with the version this process would serve now.
SERVING_LOOP = """
import sys
from models_registry import serving
for name in sys.stdin:
    version = serving.production_version(name.strip())
    estimator = serving.load_estimator(version)
    print(version.version, type(estimator[-1]).__name__, flush=True)
"""


def test_pipeline_end_to_end_on_a_real_worker(tmp_path, admin_user):
    queue = f"train-{uuid.uuid4().hex[:8]}"
    job = TrainingJob.objects.create(
        model_name="worker-model",
        dataset="iris",
        estimator="random_forest",
        params={"n_estimators": 5},
        promote_on_success=True,
        created_by=admin_user,
    )
    env = child_env(CELERY_TASK_DEFAULT_QUEUE=queue, MEDIA_ROOT=tmp_path / "media")
    with running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log"):
        result = celery_app.send_task(
            "models_registry.tasks.train_model_task", args=[job.pk], queue=queue
        )
        version_id = result.get(timeout=120)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.progress == 100
    assert job.version.pk == version_id
    assert job.version.stage == Stage.PRODUCTION


def test_promotion_reaches_another_process_on_its_next_request(train, settings):
    first = train(name="shared")
    second = train(name="shared", estimator="random_forest", params={"n_estimators": 3})
    services.version_promote(version=first)
    env = child_env(MEDIA_ROOT=settings.MEDIA_ROOT)
    server = subprocess.Popen(
        [sys.executable, "-c", f"import django; django.setup()\n{SERVING_LOOP}"],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def ask():
        server.stdin.write("shared\n")
        server.stdin.flush()
        return server.stdout.readline().split()

    try:
        assert ask() == ["1", "LogisticRegression"]
        assert ask() == ["1", "LogisticRegression"]  # now cached in that process
        services.version_promote(version=second)
        assert ask() == ["2", "RandomForestClassifier"]
        services.version_rollback(model=MLModel.objects.get(name="shared"))
        assert ask() == ["1", "LogisticRegression"]
    finally:
        server.stdin.close()
        server.wait(timeout=30)
