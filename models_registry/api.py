from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from ninja import Router

from models_registry.models import MLModel, ModelVersion
from models_registry.schemas import ExperimentOut, ModelDetailOut, ModelOut

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


@router.get("/models/{name}/experiments", response=list[ExperimentOut], url_name="list_experiments")
def list_experiments(request, name: str):
    """The model's experiments, newest first, with their arms (read-only)."""
    model = get_object_or_404(MLModel.objects.visible_to(request.auth), name=name)
    experiments = model.experiments.prefetch_related("arms__version")
    return [
        {
            **experiment.__dict__,
            "arms": [
                {
                    "name": arm.name,
                    "version": arm.version.version,
                    "weight": arm.weight,
                    "is_control": arm.is_control,
                    "is_shadow": arm.is_shadow,
                }
                for arm in experiment.arms.all()
            ],
        }
        for experiment in experiments
    ]
