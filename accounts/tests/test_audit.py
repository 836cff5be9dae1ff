"""The audit log: written for logins and changes, append-only in the ORM and in PostgreSQL."""

from http import HTTPStatus

import pytest
from django.db import DatabaseError, connection, transaction

from accounts import services
from accounts.models import AppendOnlyError, AuditAction, AuditEvent
from accounts.tests.factories import DEFAULT_PASSWORD

LOGIN = "/accounts/login/"


def test_login_and_failed_login_are_recorded_without_the_password(client, user):
    client.post(LOGIN, {"login": "user", "password": "wrong-password-123"}, REMOTE_ADDR="10.1.2.3")
    client.post(LOGIN, {"login": "user", "password": DEFAULT_PASSWORD})
    failed = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.details == {"login": "user"}
    assert failed.ip == "10.1.2.3"
    assert "wrong-password" not in str(failed.details)
    login = AuditEvent.objects.get(action=AuditAction.LOGIN)
    assert login.actor_username == "user"


def test_logout_is_recorded(client, user):
    client.force_login(user)
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor_id=user.pk).exists()


def test_role_change_is_recorded_with_before_and_after(user, admin_user):
    services.role_set(user=user, role="viewer", actor=admin_user, ip="192.0.2.1")
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED, actor_id=admin_user.pk)
    assert event.details == {"from": "user", "to": "viewer"}
    assert (event.actor_username, event.ip) == ("admin", "192.0.2.1")


def test_orm_refuses_update_and_delete(user):
    event = AuditEvent.objects.record(AuditAction.LOGIN, actor=user)
    event.action = AuditAction.LOGOUT
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_auditevent SET action = 'logout'",
        "DELETE FROM accounts_auditevent",
    ],
)
def test_database_refuses_update_and_delete(user, sql):
    AuditEvent.objects.record(AuditAction.LOGIN, actor=user)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN).count() == 1


def test_deleting_a_user_keeps_their_history(user, admin_user):
    services.role_set(user=user, role="viewer", actor=admin_user)
    user.delete()
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED, actor_id=admin_user.pk)
    assert event.target_repr == "user"


def test_django_admin_cannot_change_or_delete(client, admin_user):
    event = AuditEvent.objects.record(AuditAction.LOGIN, actor=admin_user)
    client.force_login(admin_user)
    change = client.post(f"/admin/accounts/auditevent/{event.pk}/change/", {"action": "x"})
    assert change.status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.OK)
    delete = client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert delete.status_code == HTTPStatus.FORBIDDEN
    event.refresh_from_db()
    assert event.action == AuditAction.LOGIN


def test_audit_page_filters_and_pages(client, admin_user, user, settings):
    for _ in range(55):
        AuditEvent.objects.record(AuditAction.TOKEN_CREATED, actor=user)
    AuditEvent.objects.record(AuditAction.ROLE_CHANGED, actor=admin_user)
    client.force_login(admin_user)

    page = client.get("/audit/", {"action": "role_changed", "actor": "admin"})
    assert page.status_code == HTTPStatus.OK
    assert page.content.count(b"action-role_changed") == 1
    assert b"action-token_created" not in page.content

    first = client.get("/audit/", {"actor": "user", "action": "token_created"})
    assert first.content.count(b"action-token_created") == 50
    assert b"Load more" in first.content
    oldest_shown = AuditEvent.objects.filter(action="token_created").order_by("-id")[49].id
    more = client.get(
        "/audit/",
        {"actor": "user", "action": "token_created", "before": oldest_shown},
        HTTP_HX_REQUEST="true",
    )
    assert more.content.count(b"action-token_created") == 5
    assert b"<html" not in more.content
    assert b"Load more" not in more.content
