"""Drop a model's cached routing snapshot after any change to its experiments commits."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from models_registry.experiments import routing
from models_registry.experiments.models import ABAssignment, Arm, CanaryPlan, Experiment


def _model_name(experiment_id):
    from models_registry.models import MLModel

    return (
        MLModel.objects.filter(experiments__pk=experiment_id).values_list("name", flat=True).first()
    )


def _invalidate_later(model_name):
    if model_name:
        transaction.on_commit(lambda: routing.invalidate(model_name))


@receiver([post_save, post_delete], sender=Experiment)
def _experiment_changed(sender, instance, **kwargs):
    from models_registry.models import MLModel

    _invalidate_later(
        MLModel.objects.filter(pk=instance.model_id).values_list("name", flat=True).first()
    )


@receiver([post_save, post_delete], sender=Arm)
@receiver([post_save, post_delete], sender=CanaryPlan)
def _part_changed(sender, instance, **kwargs):
    _invalidate_later(_model_name(instance.experiment_id))


@receiver([post_save, post_delete], sender=ABAssignment)
def _assignment_changed(sender, instance, **kwargs):
    experiment_id, user_id = instance.experiment_id, instance.user_id
    transaction.on_commit(lambda: routing.forget_assignment(experiment_id, user_id))
