from django.urls import path

from predictions import views

app_name = "predictions"

urlpatterns = [
    path("history/", views.history_page, name="history"),
    path("history/export.csv", views.history_export, name="history_export"),
]
