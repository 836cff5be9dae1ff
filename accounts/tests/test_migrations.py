"""Migrations roll back to zero and forward again (the append-only trigger included)."""

import pytest
from django.core.management import call_command
from django.db import connection


def _trigger_exists():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = 'accounts_auditevent_no_update_delete'"
        )
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_accounts_migrations_roll_back_and_forward():
    assert _trigger_exists()
    call_command("migrate", "accounts", "0001", verbosity=0)
    assert not _trigger_exists()
    call_command("migrate", "accounts", "zero", verbosity=0)
    assert "accounts_user" not in connection.introspection.table_names()
    call_command("migrate", verbosity=0)
    assert "accounts_user" in connection.introspection.table_names()
    assert _trigger_exists()


def test_no_missing_migrations(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_registry_migrations_roll_back_and_forward():
    call_command("migrate", "models_registry", "zero", verbosity=0)
    assert "models_registry_mlmodel" not in connection.introspection.table_names()
    call_command("migrate", verbosity=0)
    assert "models_registry_modelversion" in connection.introspection.table_names()
