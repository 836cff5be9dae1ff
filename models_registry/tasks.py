from celery import shared_task

from models_registry.training.pipeline import run_training

TRAINING_TIME_LIMIT_SECONDS = 3600


@shared_task(
    name="models_registry.tasks.train_model_task",
    time_limit=TRAINING_TIME_LIMIT_SECONDS,
    soft_time_limit=TRAINING_TIME_LIMIT_SECONDS - 60,
)
def train_model_task(job_id):
    version = run_training(job_id)
    return version.pk if version else None
