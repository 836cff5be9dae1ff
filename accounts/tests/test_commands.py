"""set_role and bootstrap_demo, as a script would run them."""

import re

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, User
from accounts.roles import role_of


def test_set_role_changes_the_role_and_staff_flag(user, capsys):
    call_command("set_role", "user", "admin")
    user.refresh_from_db()
    assert role_of(user) == Role.ADMIN
    assert user.is_staff
    call_command("set_role", "user", "viewer")
    user = User.objects.get(pk=user.pk)
    assert role_of(user) == Role.VIEWER
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["viewer"]
    assert "user now has role viewer" in capsys.readouterr().out


def test_set_role_create(db):
    call_command("set_role", "newbie", "user", "--create", "--email", "n@example.com")
    user = User.objects.get(username="newbie")
    assert role_of(user) == Role.USER
    assert not user.has_usable_password()


def test_set_role_errors(db):
    with pytest.raises(CommandError, match="--create"):
        call_command("set_role", "ghost", "user")
    with pytest.raises(CommandError):
        call_command("set_role", "ghost", "superhero", "--create")


def test_bootstrap_demo_is_idempotent(db, capsys, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    call_command("bootstrap_demo")
    first = capsys.readouterr().out
    assert first.count("password=") == 3
    users = {u.username: u for u in User.objects.all()}
    assert {name: role_of(u) for name, u in users.items()} == {
        "admin": Role.ADMIN,
        "user": Role.USER,
        "viewer": Role.VIEWER,
    }
    password = re.search(r"admin\s+role=admin\s+password=(\S+)", first).group(1)
    assert users["admin"].check_password(password)

    call_command("bootstrap_demo")
    second = capsys.readouterr().out
    assert "password=" not in second
    assert User.objects.count() == 3
    assert User.objects.get(username="admin").check_password(password)


def test_bootstrap_demo_uses_demo_password(db, capsys, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-12345")
    call_command("bootstrap_demo", "--url", "http://127.0.0.1:8765")
    assert all(u.check_password("demo-pass-12345") for u in User.objects.all())
    out = capsys.readouterr().out
    assert "demo-pass-12345" in out
    assert "sign in at http://127.0.0.1:8765" in out
