from celery import shared_task

from models_registry.training.pipeline import run_training
from models_registry.training.sweep import training_jobs_sweep

TRAINING_TIME_LIMIT_SECONDS = 3600
SWEEP_TIME_LIMIT_SECONDS = 60
CANARY_TICK_TIME_LIMIT_SECONDS = 120
SHADOW_TIME_LIMIT_SECONDS = 60


@shared_task(
    name="models_registry.tasks.train_model_task",
    time_limit=TRAINING_TIME_LIMIT_SECONDS,
    soft_time_limit=TRAINING_TIME_LIMIT_SECONDS - 60,
)
def train_model_task(job_id):
    """Run a training job (a second message for the same job does nothing)."""
    version = run_training(job_id)
    return version.pk if version else None


@shared_task(
    name="models_registry.tasks.sweep_training_jobs_task",
    time_limit=SWEEP_TIME_LIMIT_SECONDS,
    soft_time_limit=SWEEP_TIME_LIMIT_SECONDS - 10,
)
def sweep_training_jobs_task():
    """Beat's sweep: send stalled or lost training jobs to a worker again, or fail them."""
    resend = training_jobs_sweep()
    for job_id in resend:
        train_model_task.delay(job_id)
    return len(resend)


@shared_task(
    name="models_registry.tasks.canary_tick_task",
    time_limit=CANARY_TICK_TIME_LIMIT_SECONDS,
    soft_time_limit=CANARY_TICK_TIME_LIMIT_SECONDS - 20,
    # Beat sends one every few seconds: a late one is replaced by the next, never queued up.
    expires=CANARY_TICK_TIME_LIMIT_SECONDS,
)
def canary_tick_task():
    """Beat's canary step: advance, promote, roll back or wait, for each running canary."""
    from models_registry.experiments.services import canary_tick

    return canary_tick()


@shared_task(
    name="models_registry.tasks.shadow_predict_task",
    time_limit=SHADOW_TIME_LIMIT_SECONDS,
    soft_time_limit=SHADOW_TIME_LIMIT_SECONDS - 10,
    ignore_result=True,
)
def shadow_predict_task(*, version_id, rows, request_id, user_id, arm):
    """A shadow arm's copy of a served request: predicted and logged, never answered."""
    from predictions.services import prediction_shadow

    return prediction_shadow(
        version_id=version_id, rows=rows, request_id=request_id, user_id=user_id, arm=arm
    )
