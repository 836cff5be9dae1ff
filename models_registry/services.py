"""Registry workflows: start training, promote, roll back. Each writes an AuditEvent."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from models_registry import serving
from models_registry.models import MLModel, ModelVersion, Stage, TrainingJob
from models_registry.training import datasets
from models_registry.training.estimators import get_estimator


class RegistryError(Exception):
    """A refused registry operation; the message says why, for people and for shells."""


def training_start(
    *,
    model_name,
    dataset,
    estimator,
    params=None,
    target_column="",
    csv_file=None,
    promote=False,
    actor=None,
    ip=None,
    enqueue=True,
):
    """Validate everything that can be checked up front, create the job and queue it.

    enqueue=False leaves the job queued without a message, for a caller that runs it itself
    (`train_model --in-process`).
    """
    from django.utils.text import slugify

    from models_registry.tasks import train_model_task

    name = slugify(model_name or "")
    if not name:
        raise ValidationError({"model_name": "Give the model a name (letters, digits, dashes)."})
    spec = get_estimator(estimator)
    existing = MLModel.objects.filter(name=name).first()
    if dataset == datasets.CSV:
        if csv_file is None:
            raise ValidationError({"csv_file": "Upload a CSV file."})
        raw = csv_file.read()
        csv_file.seek(0)
        task_type = datasets.read_csv(raw, target=target_column).task_type
    else:
        task_type = datasets.load_builtin(dataset).task_type
    if existing and existing.task_type != task_type:
        raise ValidationError(
            f"Model {name} does {existing.task_type}; dataset {dataset} is {task_type}."
        )
    spec.validate(task_type, params or {})
    with transaction.atomic():
        job = TrainingJob.objects.create(
            model_name=name,
            task_type=task_type,
            dataset=dataset,
            target_column=target_column,
            estimator=spec.name,
            params=params or {},
            promote_on_success=promote,
            created_by=actor,
            csv_file=csv_file or "",
        )
        AuditEvent.objects.record(
            AuditAction.TRAINING_STARTED,
            actor=actor,
            target=job,
            details={
                "model": name,
                "dataset": dataset,
                "estimator": spec.name,
                "params": params or {},
            },
            ip=ip,
        )
        if enqueue:
            transaction.on_commit(lambda: train_model_task.delay(job.pk))
    return job


@transaction.atomic
def version_promote(*, version, actor=None, ip=None, action=AuditAction.MODEL_PROMOTED):
    """Make `version` the production version; the previous one is archived. Returns it."""
    # The model row lock orders concurrent promotions; the partial unique index backs it up.
    model = MLModel.objects.select_for_update().get(pk=version.model_id)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.stage == Stage.PRODUCTION:
        raise RegistryError(f"{version} is already in production.")
    if not version.can_be_promoted:
        failed = [r["gate"] for r in version.gate_results if not r["passed"]]
        raise RegistryError(f"{version} failed its gates ({', '.join(failed)}): not promotable.")
    previous = model.versions.select_for_update().filter(stage=Stage.PRODUCTION).first()
    if previous is not None:
        previous.stage = Stage.ARCHIVED
        previous.save(update_fields=["stage"])
    version.stage = Stage.PRODUCTION
    version.promoted_at = timezone.now()
    version.save(update_fields=["stage", "promoted_at"])
    AuditEvent.objects.record(
        action,
        actor=actor,
        target=version,
        details={
            "model": model.name,
            "version": version.version,
            "previous": previous.version if previous else None,
        },
        ip=ip,
    )
    # Now for this transaction's own reads, after commit for everyone else's.
    serving.invalidate(model.name)
    transaction.on_commit(lambda: serving.invalidate(model.name))
    return previous


def version_rollback(*, model, to_version=None, actor=None, ip=None):
    """Re-promote the version that served before the current one (or `to_version`)."""
    current = model.versions.filter(stage=Stage.PRODUCTION).first()
    if to_version is not None:
        target = model.versions.filter(version=to_version).first()
        if target is None:
            raise RegistryError(f"{model.name} has no version {to_version}.")
    else:
        earlier = model.versions.filter(stage=Stage.ARCHIVED, promoted_at__isnull=False)
        if current is not None:
            earlier = earlier.exclude(pk=current.pk)
        target = earlier.order_by("-promoted_at").first()
        if target is None:
            raise RegistryError(
                f"{model.name}: nothing to roll back to (no earlier production version)."
            )
    version_promote(version=target, actor=actor, ip=ip, action=AuditAction.MODEL_ROLLED_BACK)
    return target
