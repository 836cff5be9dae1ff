"""Drop cached facts about a model (restricted? who may use it? which version serves?)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from guardian.models import GroupObjectPermission, UserObjectPermission

from models_registry import serving
from models_registry.models import MLModel, ModelVersion
from portal import memo


@receiver([post_save, post_delete], sender=MLModel, dispatch_uid="registry.model_changed")
def _model_changed(sender, instance, **kwargs):
    # Now for this transaction's own reads, and after commit for everyone else's.
    serving.forget_model(instance.name)
    transaction.on_commit(lambda: serving.forget_model(instance.name))


@receiver(post_save, sender=ModelVersion, dispatch_uid="registry.version_saved")
def _version_saved(sender, instance, **kwargs):
    # Stages also change outside the promote service (admin, shell): never serve a stale one.
    name = instance.model.name
    serving.forget_model(name)
    transaction.on_commit(lambda: serving.forget_model(name))


@receiver([post_save, post_delete], sender=UserObjectPermission, dispatch_uid="registry.grant_u")
@receiver([post_save, post_delete], sender=GroupObjectPermission, dispatch_uid="registry.grant_g")
def _grant_changed(sender, instance, **kwargs):
    memo.bump()  # workers remember who may use a restricted model
