from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/", views.overview, name="overview"),
    path("monitoring/system/", views.system, name="system"),
    path("monitoring/models/<slug:name>/drift/", views.model_drift, name="drift"),
    path("monitoring/models/<slug:name>/performance/", views.model_performance, name="performance"),
]
