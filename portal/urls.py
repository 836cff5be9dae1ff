from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from monitoring import exposition
from portal import health, views
from portal.api import api

# Django admin signs in through allauth's login: one login, with two-factor and rate limits.
admin.site.login = secure_admin_login(admin.site.login)

portal_patterns = ([path("", views.dashboard, name="dashboard")], "portal")

urlpatterns = [
    path("", include(portal_patterns)),
    path("", include("accounts.urls")),
    path("", include("models_registry.urls")),
    path("", include("predictions.urls")),
    path("", include("monitoring.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("health", health.health, name="health"),
    path("readiness", health.readiness, name="readiness"),
    path("metrics", exposition.metrics, name="metrics"),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
