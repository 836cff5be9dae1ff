"""The experiments migration rolls back to 0001 and forward again."""

import pytest
from django.core.management import call_command
from django.db import connection

TABLES = {
    "models_registry_experiment",
    "models_registry_arm",
    "models_registry_canaryplan",
    "models_registry_abassignment",
}


@pytest.mark.django_db(transaction=True)
def test_experiments_migration_is_reversible():
    assert set(connection.introspection.table_names()) >= TABLES
    call_command("migrate", "models_registry", "0001", verbosity=0)
    call_command("migrate", "accounts", "0004", verbosity=0)
    assert not set(connection.introspection.table_names()) & TABLES
    call_command("migrate", verbosity=0)
    assert set(connection.introspection.table_names()) >= TABLES
