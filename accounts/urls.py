from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/<int:pk>/role/", views.user_role, name="user_role"),
    path("users/<int:pk>/quota/", views.user_quota, name="user_quota"),
    path("audit/", views.audit, name="audit"),
]
