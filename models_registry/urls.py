from django.urls import path

from models_registry import views
from models_registry.experiments import views as experiments

app_name = "registry"

urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("models/train/", views.train, name="train"),
    path("models/jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("models/<slug:name>/", views.model_detail, name="model_detail"),
    path(
        "models/<slug:name>/versions/<int:version>/promote/",
        views.version_promote,
        name="version_promote",
    ),
    path("models/<slug:name>/rollback/", views.model_rollback, name="model_rollback"),
    path("models/<slug:name>/predict/", views.model_predict, name="model_predict"),
    path("models/<slug:name>/access/", views.model_access, name="model_access"),
    path("models/<slug:name>/settings/", views.model_settings, name="model_settings"),
    path("experiments/", experiments.experiment_list, name="experiment_list"),
    path("models/<slug:name>/experiments/", experiments.experiment_list, name="model_experiments"),
    path(
        "models/<slug:name>/experiments/new/",
        experiments.experiment_create,
        name="experiment_create",
    ),
    path(
        "models/<slug:name>/experiments/<int:pk>/",
        experiments.experiment_detail,
        name="experiment_detail",
    ),
    path(
        "models/<slug:name>/experiments/<int:pk>/start/",
        experiments.experiment_start,
        name="experiment_start",
    ),
    path(
        "models/<slug:name>/experiments/<int:pk>/stop/",
        experiments.experiment_stop,
        name="experiment_stop",
    ),
    path(
        "models/<slug:name>/experiments/<int:pk>/conclude/",
        experiments.experiment_conclude,
        name="experiment_conclude",
    ),
    path(
        "models/<slug:name>/experiments/<int:pk>/weights/",
        experiments.experiment_weights,
        name="experiment_weights",
    ),
    path(
        "models/<slug:name>/experiments/<int:pk>/pin/",
        experiments.experiment_pin,
        name="experiment_pin",
    ),
]
