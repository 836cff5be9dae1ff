from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from ninja import Router

from models_registry.models import MLModel, ModelVersion
from models_registry.schemas import ModelDetailOut, ModelOut

router = Router(tags=["models"])


def _models(user):
    return MLModel.objects.visible_to(user).prefetch_related(
        Prefetch("versions", queryset=ModelVersion.objects.order_by("-version"))
    )


def _out(model):
    versions = list(model.versions.all())
    production = next((v.version for v in versions if v.stage == "production"), None)
    return {**model.__dict__, "production_version": production, "versions": versions}


@router.get("/models", response=list[ModelOut], url_name="list_models")
def list_models(request):
    """Models the caller may see, with their versions, stages and metrics."""
    return [_out(model) for model in _models(request.auth)]


@router.get("/models/{name}", response=ModelDetailOut, url_name="get_model")
def get_model(request, name: str):
    """One model with each version's input schema; a model you may not see is a 404."""
    return _out(get_object_or_404(_models(request.auth), name=name))
