import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_monitoring_migrations_roll_back_and_forward():
    call_command("migrate", "monitoring", "zero", verbosity=0)
    assert "monitoring_driftreport" not in connection.introspection.table_names()
    call_command("migrate", "accounts", "0005", verbosity=0)  # drift_alert choice removed
    call_command("migrate", verbosity=0)
    tables = connection.introspection.table_names()
    assert {
        "monitoring_driftreport",
        "monitoring_featuredrift",
        "monitoring_monitoringsettings",
    } <= set(tables)
