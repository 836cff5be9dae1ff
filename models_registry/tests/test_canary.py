"""Canary rollouts: gate decisions step by step, and real Celery beat driving them."""

import sys
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from models_registry.experiments import gates, services
from models_registry.experiments.models import Experiment, ExperimentStatus
from models_registry.models import Stage
from models_registry.tests.experiments import log_rows, two_versions
from portal.tests.processes import celery_worker_args, child_env, running, wait_until

ENOUGH = 6


def canary(control, candidate, **plan):
    experiment = services.experiment_create(
        model=control.model,
        name="canary",
        kind="canary",
        arms=[
            {"name": "control", "version": control, "weight": 0},
            {"name": "canary", "version": candidate, "weight": 0},
        ],
        plan={
            "steps": [10, 50, 100],
            "min_requests": ENOUGH,
            "min_step_seconds": 0,
            "max_error_rate_delta": 0.05,
            "max_latency_ratio": 2.0,
            **plan,
        },
    )
    services.experiment_start(experiment=experiment)
    return Experiment.objects.get(pk=experiment.pk)


def weights(experiment):
    return {arm.name: arm.weight for arm in experiment.arms.all()}


def test_start_puts_the_canary_on_the_first_step(train):
    experiment = canary(*two_versions(train))
    assert weights(experiment) == {"control": 90, "canary": 10}
    assert experiment.plan.current_percent == 10


def test_waits_until_both_arms_have_enough_requests(train):
    control, candidate = two_versions(train)
    experiment = canary(control, candidate)
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH - 1)
    check = services.canary_advance(experiment_id=experiment.pk)
    assert check["decision"] == gates.WAIT
    assert "5 canary and 6 control" in check["reason"]
    assert weights(experiment) == {"control": 90, "canary": 10}


def test_waits_out_the_minimum_step_time_even_when_the_gate_passes(train):
    control, candidate = two_versions(train)
    experiment = canary(control, candidate, min_step_seconds=600)
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH)
    assert services.canary_advance(experiment_id=experiment.pk)["decision"] == gates.WAIT
    later = timezone.now() + timedelta(seconds=601)
    assert services.canary_advance(experiment_id=experiment.pk, now=later)["decision"] == (
        gates.ADVANCE
    )


def test_a_passing_gate_advances_then_promotes_at_100(train):
    control, candidate = two_versions(train)
    experiment = canary(control, candidate)
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH)
    assert services.canary_advance(experiment_id=experiment.pk)["decision"] == gates.ADVANCE
    assert weights(experiment) == {"control": 50, "canary": 50}
    # The old step's rows do not count for the new step.
    assert services.canary_advance(experiment_id=experiment.pk)["decision"] == gates.WAIT
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH)
    assert services.canary_advance(experiment_id=experiment.pk)["decision"] == gates.ADVANCE
    experiment.refresh_from_db()
    candidate.refresh_from_db()
    assert experiment.status == ExperimentStatus.CONCLUDED
    assert experiment.winner == "canary"
    assert candidate.stage == Stage.PRODUCTION
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions.count(AuditAction.CANARY_ADVANCED) == 2
    assert AuditAction.MODEL_PROMOTED in actions


@pytest.mark.parametrize(
    ("canary_rows", "why"),
    [
        ({"status": "error"}, "error rate"),
        ({"latency_ms": 9.0}, "p95 latency"),
    ],
)
def test_a_failing_gate_rolls_back_to_zero_and_says_why(train, canary_rows, why):
    control, candidate = two_versions(train)
    experiment = canary(control, candidate)
    log_rows(control, "control", count=ENOUGH, latency_ms=2.0)
    log_rows(candidate, "canary", count=ENOUGH, **{"latency_ms": 2.0, **canary_rows})
    check = services.canary_advance(experiment_id=experiment.pk)
    assert check["decision"] == gates.ROLL_BACK
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.STOPPED
    assert weights(experiment) == {"control": 100, "canary": 0}
    assert experiment.stop_reason.startswith("Canary gate failed at 10%")
    assert why in experiment.stop_reason
    event = AuditEvent.objects.get(action=AuditAction.CANARY_ROLLED_BACK)
    assert event.actor_username == ""  # the system did it
    assert why in event.details["reason"]
    control.refresh_from_db()
    assert control.stage == Stage.PRODUCTION


# ---------------------------------------------------------------- through real beat
def beat_args(schedule_path):
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "beat",
        "--loglevel=INFO",
        "--schedule",
        str(schedule_path),
        "--max-interval",
        "1",
    ]


@pytest.fixture
def beat_and_worker(tmp_path, settings):
    """Real `celery beat` ticking the canary every second, and a worker on its own queue."""
    queue = f"canary-{uuid.uuid4().hex[:8]}"
    env = child_env(
        CELERY_TASK_DEFAULT_QUEUE=queue, CANARY_TICK_SECONDS=1, MEDIA_ROOT=settings.MEDIA_ROOT
    )
    with (
        running(celery_worker_args(queue), env=env, log_path=tmp_path / "worker.log") as worker,
        running(beat_args(tmp_path / "beat-schedule"), env=env, log_path=tmp_path / "beat.log"),
    ):
        yield worker


def _state(experiment):
    experiment.refresh_from_db()
    experiment.plan.refresh_from_db()
    return experiment


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_beat_advances_the_canary_and_promotes_it(train, beat_and_worker):
    control, candidate = two_versions(train)
    experiment = canary(control, candidate)
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH)
    wait_until(
        lambda: _state(experiment).plan.step_index == 1,
        timeout=60,
        what="beat's tick to advance the canary to 50%",
        process=beat_and_worker,
    )
    assert weights(experiment) == {"control": 50, "canary": 50}
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH)
    wait_until(
        lambda: _state(experiment).status == ExperimentStatus.CONCLUDED,
        timeout=60,
        what="beat's tick to promote the canary",
        process=beat_and_worker,
    )
    candidate.refresh_from_db()
    assert candidate.stage == Stage.PRODUCTION
    assert AuditEvent.objects.filter(action=AuditAction.CANARY_ADVANCED).count() == 2


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_beat_rolls_a_failing_canary_back(train, beat_and_worker):
    control, candidate = two_versions(train)
    experiment = canary(control, candidate)
    log_rows(control, "control", count=ENOUGH)
    log_rows(candidate, "canary", count=ENOUGH // 2)
    log_rows(candidate, "canary", count=ENOUGH // 2, status="error")
    wait_until(
        lambda: _state(experiment).status == ExperimentStatus.STOPPED,
        timeout=60,
        what="beat's tick to roll the canary back",
        process=beat_and_worker,
    )
    assert weights(experiment) == {"control": 100, "canary": 0}
    assert "error rate 50.0% vs control 0.0%" in experiment.stop_reason
    assert AuditEvent.objects.filter(action=AuditAction.CANARY_ROLLED_BACK).count() == 1
