"""`manage.py seed_predictions`: synthetic log rows for the history benchmarks."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from models_registry import services as registry
from monitoring.models import TrafficMinute
from predictions.models import Prediction


def test_seeds_up_to_the_target_and_no_further(user, train):
    registry.version_promote(version=train())
    call_command("seed_predictions", user.username, "iris-model", rows=250, days=2)
    seeded = Prediction.objects.filter(user=user)
    assert seeded.count() == 250
    assert set(seeded.values_list("status", flat=True)) == {"ok", "error"}
    assert set(seeded.values_list("arm", flat=True)) == {"", "canary"}
    # Seeded rows bypass the log writer; the command counts them into the rollups itself.
    rollups = TrafficMinute.objects.filter(model_name="iris-model")
    assert rollups.aggregate(total=Sum("requests"))["total"] == 250
    assert set(rollups.values_list("arm", flat=True)) == {"", "canary"}
    call_command("seed_predictions", user.username, "iris-model", rows=250)
    assert seeded.count() == 250


def test_needs_a_user_and_a_served_model(user, train):
    train()  # registered, never promoted
    with pytest.raises(CommandError, match="production version"):
        call_command("seed_predictions", user.username, "iris-model", rows=5)
