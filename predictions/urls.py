from django.urls import path

from predictions import batch_views, views

app_name = "predictions"

urlpatterns = [
    path("history/", views.history_page, name="history"),
    path("history/export.csv", views.history_export, name="history_export"),
    path("history/<str:request_id>/", views.history_detail, name="history_detail"),
    path("jobs/", batch_views.job_list, name="job_list"),
    path("jobs/new/", batch_views.job_create, name="job_create"),
    path("jobs/<uuid:pk>/", batch_views.job_detail, name="job_detail"),
    path("jobs/<uuid:pk>/result.csv", batch_views.job_result, name="job_result"),
]
