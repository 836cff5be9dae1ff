"""Django admin actions, login rate limits and guardian's object permissions."""

from http import HTTPStatus

from guardian.shortcuts import assign_perm, get_objects_for_user

from accounts.models import ApiToken, AuditAction, AuditEvent, QuotaKind, Role
from accounts.quotas import quota_reserve, quota_status
from accounts.roles import role_of
from accounts.tests.factories import make_token


def test_admin_action_revokes_tokens(client, admin_user, user):
    token, _ = make_token(user)
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert ApiToken.objects.get(pk=token.pk).is_revoked
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_REVOKED, actor_id=admin_user.pk
    ).exists()


def test_admin_action_resets_quota_usage(
    client, admin_user, user, django_capture_on_commit_callbacks
):
    quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=7)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/accounts/user/",
            {"action": "reset_quota_usage", "_selected_action": [user.pk]},
        )
    assert quota_status(user, QuotaKind.PREDICTION_ROWS).used == 0


def test_admin_action_sets_role(client, admin_user, user):
    client.force_login(admin_user)
    client.post("/admin/accounts/user/", {"action": "make_viewer", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert role_of(user) == Role.VIEWER
    assert not user.is_staff


def test_failed_logins_are_rate_limited(client, user):
    for _ in range(5):
        client.post("/accounts/login/", {"login": "user", "password": "wrong-one-123"})
    blocked = client.post("/accounts/login/", {"login": "user", "password": "wrong-one-123"})
    assert b"Too many failed login attempts" in blocked.content


def test_signup_is_closed(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "eve",
            "email": "eve@example.com",
            "password1": "x" * 20,
            "password2": "x" * 20,
        },
    )
    assert b"Sign Up Closed" in response.content or b"closed" in response.content.lower()
    from accounts.models import User

    assert not User.objects.filter(username="eve").exists()


def test_guardian_object_permissions_are_wired(user, viewer):
    token, _ = make_token(viewer)
    assert not user.has_perm("accounts.view_apitoken", token)
    assign_perm("accounts.view_apitoken", user, token)
    assert user.has_perm("accounts.view_apitoken", token)
    assert list(get_objects_for_user(user, "accounts.view_apitoken")) == [token]
