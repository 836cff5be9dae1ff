from django.urls import path

from models_registry import views

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
]
