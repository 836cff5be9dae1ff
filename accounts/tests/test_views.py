"""Portal pages: tokens (HTMX), users and roles, quotas; CSRF on every post; no IDOR."""

from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import (
    ApiToken,
    AuditAction,
    AuditEvent,
    QuotaKind,
    QuotaUsage,
    Role,
    UserQuota,
)
from accounts.quotas import quota_day, quota_reserve, quota_statuses, quota_statuses_many
from accounts.roles import role_of, roles_load
from accounts.tests.factories import UserFactory, make_token

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def test_token_created_in_the_portal_is_shown_once(client, user):
    client.force_login(user)
    response = client.post(
        "/tokens/", {"name": "laptop", "scope": "predict", "expires_days": "30"}, **HTMX
    )
    assert response.status_code == HTTPStatus.OK
    assert b"<html" not in response.content  # the panel only, for the htmx swap
    token = ApiToken.objects.get(user=user, name="laptop")
    content = response.content.decode()
    shown = content.split('data-testid="token-value"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert shown.startswith(token.display_prefix)
    assert token.token_hash not in content
    again = client.get("/tokens/").content.decode()
    assert shown not in again
    assert token.display_prefix in again


def test_token_form_errors(client, viewer):
    client.force_login(viewer)
    response = client.post("/tokens/", {"name": "x", "scope": "predict", "expires_days": "30"})
    assert response.status_code == HTTPStatus.OK
    assert b"Select a valid choice" in response.content
    assert not ApiToken.objects.exists()
    too_long = client.post("/tokens/", {"name": "x", "scope": "read", "expires_days": "9999"})
    assert b"less than or equal to" in too_long.content
    assert not ApiToken.objects.exists()


def test_revoke_own_token_by_htmx(client, user):
    token, _ = make_token(user)
    client.force_login(user)
    response = client.post(f"/tokens/{token.pk}/revoke/", **HTMX)
    assert response.status_code == HTTPStatus.OK
    assert b"revoked" in response.content
    assert f'id="token-{token.pk}"'.encode() in response.content
    token.refresh_from_db()
    assert token.is_revoked


def test_cannot_revoke_someone_elses_token(client, user, viewer):
    token, _ = make_token(viewer)
    client.force_login(user)
    assert client.post(f"/tokens/{token.pk}/revoke/", **HTMX).status_code == HTTPStatus.NOT_FOUND
    token.refresh_from_db()
    assert not token.is_revoked


def test_every_post_needs_csrf(csrf_client, admin_user, viewer):
    token, _ = make_token(admin_user)
    csrf_client.force_login(admin_user)
    posts = [
        ("/tokens/", {"name": "x", "scope": "read", "expires_days": "1"}),
        (f"/tokens/{token.pk}/revoke/", {}),
        ("/users/", {"username": "new", "email": "n@example.com", "role": "user"}),
        (f"/users/{viewer.pk}/role/", {f"u{viewer.pk}-role": "admin"}),
        (f"/users/{viewer.pk}/quota/", {f"q{viewer.pk}-prediction_rows_per_day": "5"}),
    ]
    for path, data in posts:
        response = csrf_client.post(path, data, **HTMX)
        assert response.status_code == HTTPStatus.FORBIDDEN, path
    assert ApiToken.objects.count() == 1
    assert role_of(viewer) == Role.VIEWER


def test_csrf_token_reaches_htmx_requests(client, user):
    client.force_login(user)
    page = client.get("/tokens/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


def test_admin_changes_a_role(client, admin_user, viewer):
    client.force_login(admin_user)
    response = client.post(f"/users/{viewer.pk}/role/", {f"u{viewer.pk}-role": "user"}, **HTMX)
    assert response.status_code == HTTPStatus.OK
    assert b"Saved" in response.content
    viewer.refresh_from_db()
    assert role_of(viewer) == Role.USER
    assert AuditEvent.objects.filter(
        action=AuditAction.ROLE_CHANGED, actor_id=admin_user.pk, target_id=str(viewer.pk)
    ).exists()


def test_admin_cannot_demote_themselves(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        f"/users/{admin_user.pk}/role/", {f"u{admin_user.pk}-role": "viewer"}, **HTMX
    )
    assert b"cannot remove your own admin role" in response.content
    admin_user.refresh_from_db()
    assert role_of(admin_user) == Role.ADMIN


def test_admin_sets_and_clears_quota(client, admin_user, user):
    client.force_login(admin_user)
    field = f"q{user.pk}-prediction_rows_per_day"
    client.post(f"/users/{user.pk}/quota/", {field: "42"}, **HTMX)
    assert UserQuota.objects.get(user=user).prediction_rows_per_day == 42
    client.post(f"/users/{user.pk}/quota/", {field: ""}, **HTMX)
    assert UserQuota.objects.get(user=user).prediction_rows_per_day is None
    bad = client.post(f"/users/{user.pk}/quota/", {field: "-1"}, **HTMX)
    assert b"whole numbers" in bad.content


def test_admin_invites_a_user(client, admin_user, mailoutbox):
    client.force_login(admin_user)
    response = client.post(
        "/users/", {"username": "carol", "email": "carol@example.com", "role": "viewer"}, **HTMX
    )
    assert b"Invited carol" in response.content
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["carol@example.com"]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body
    duplicate = client.post(
        "/users/", {"username": "Carol", "email": "c2@example.com", "role": "viewer"}, **HTMX
    )
    assert b"already exists" in duplicate.content


def test_dashboard_shows_quota_bars_and_role(client, user):
    client.force_login(user)
    page = client.get("/").content.decode()
    assert page.count("<meter") == 2
    assert 'data-testid="role">User<' in page
    assert "Users</a>" not in page  # admins only


def test_admin_navigation(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    for label in ("Users", "Audit log", "Django admin", "API tokens"):
        assert f">{label}</a>" in page


def test_users_page_reads_a_constant_number_of_queries_and_matches_each_users_status(
    client, admin_user, user, viewer, django_assert_max_num_queries
):
    UserQuota.objects.create(user=user, prediction_rows_per_day=70)
    quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=30)  # a Redis counter
    QuotaUsage.objects.create(  # only the database's copy: no counter for it
        user=admin_user, kind=QuotaKind.LLM_TOKENS, day=quota_day(), used=1234
    )
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as three:
        assert client.get("/users/").status_code == HTTPStatus.OK
    for i in range(12):
        UserFactory(username=f"more{i}", role=Role.VIEWER)
    with django_assert_max_num_queries(len(three)):
        page = client.get("/users/").content.decode()
    assert page.count('<tr id="user-') == 15

    people = [admin_user, user, viewer]
    for person in people:
        person._role_cache = False  # as fresh from the database
    roles_load(people)
    bulk = quota_statuses_many(people, {q.user_id: q for q in UserQuota.objects.all()})
    for person in people:
        assert bulk[person.pk] == quota_statuses(type(person).objects.get(pk=person.pk))
    rows = {s.kind: s for s in bulk[user.pk]}
    assert (rows[QuotaKind.PREDICTION_ROWS].limit, rows[QuotaKind.PREDICTION_ROWS].used) == (70, 30)
    assert {s.kind: s.used for s in bulk[admin_user.pk]}[QuotaKind.LLM_TOKENS] == 1234
