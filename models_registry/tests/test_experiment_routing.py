"""Arm choice: deterministic buckets that follow the weights, sticky users, pins, cheap no-op."""

from collections import Counter

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from scipy.stats import chisquare

from accounts.models import AuditAction, AuditEvent, Role
from accounts.tests.factories import UserFactory
from models_registry.experiments import routing, services
from models_registry.experiments.models import ABAssignment, Experiment, ExperimentStatus
from models_registry.tests.experiments import ab_experiment, two_versions

USER_IDS = range(1, 20_001)  # a fixed population: the test is deterministic


def test_buckets_follow_the_weights():
    arms = [
        {"name": "a", "weight": 70, "version_id": 1},
        {"name": "b", "weight": 20, "version_id": 2},
        {"name": "c", "weight": 10, "version_id": 3},
    ]
    counts = Counter(routing.choose_arm(42, user_id, arms) for user_id in USER_IDS)
    observed = [counts[name] for name in ("a", "b", "c")]
    expected = [len(USER_IDS) * share for share in (0.7, 0.2, 0.1)]
    # Goodness of fit: a biased hash or an off-by-one in the cumulative weights fails this.
    assert chisquare(observed, expected).pvalue > 0.01, observed
    # Deterministic: the same experiment and user always land in the same arm ...
    assert [routing.choose_arm(42, u, arms) for u in range(1, 200)] == [
        routing.choose_arm(42, u, arms) for u in range(1, 200)
    ]
    # ... and another experiment shuffles users independently.
    moved = sum(
        routing.choose_arm(42, u, arms) != routing.choose_arm(43, u, arms) for u in USER_IDS
    )
    assert moved > len(USER_IDS) * 0.3


def test_an_arm_with_weight_zero_gets_nobody():
    arms = [{"name": "a", "weight": 1}, {"name": "b", "weight": 0}]
    assert {routing.choose_arm(7, u, arms) for u in range(1, 2000)} == {"a"}
    assert routing.choose_arm(7, 1, [{"name": "a", "weight": 0}]) is None


@pytest.fixture
def population(db):
    return [UserFactory(username=f"p{i}", role=Role.USER) for i in range(60)]


def _arms_of(users):
    return {u.pk: routing.route(user=u, model_name="iris-model").arm for u in users}


def test_assignment_is_recorded_and_sticks_through_weight_changes(
    train, population, admin_user, django_capture_on_commit_callbacks
):
    control, candidate = two_versions(train)
    experiment = ab_experiment(control, candidate, weights=(50, 50))
    before = _arms_of(population)
    assert set(before.values()) == {"control", "candidate"}
    assert ABAssignment.objects.filter(experiment=experiment).count() == len(population)
    arms = routing.snapshot(experiment)["arms"]
    for user in population:  # the recorded arm is the hashed one
        assert before[user.pk] == routing.choose_arm(experiment.pk, user.pk, arms)

    with django_capture_on_commit_callbacks(execute=True):
        services.arm_weights_set(
            experiment=experiment, weights={"control": 95, "candidate": 5}, actor=admin_user
        )
    cache.clear()  # nothing cached: the answer must come from the recorded rows
    assert _arms_of(population) == before
    # Users new to the experiment follow the new weights.
    newcomers = [UserFactory(username=f"new{i}", role=Role.USER) for i in range(40)]
    arms = _arms_of(newcomers)
    assert Counter(arms.values())["control"] >= 30
    assert AuditEvent.objects.filter(action=AuditAction.EXPERIMENT_WEIGHTS_CHANGED).exists()


def test_closing_an_arm_moves_its_unpinned_users(
    train, population, django_capture_on_commit_callbacks
):
    control, candidate = two_versions(train)
    experiment = ab_experiment(control, candidate)
    before = _arms_of(population)
    pinned = next(u for u in population if before[u.pk] == "candidate")
    with django_capture_on_commit_callbacks(execute=True):
        services.user_pin(experiment=experiment, user=pinned, arm_name="candidate")
        services.arm_weights_set(experiment=experiment, weights={"candidate": 0})
    after = _arms_of(population)
    assert after[pinned.pk] == "candidate"
    assert {arm for pk, arm in after.items() if pk != pinned.pk} == {"control"}


def test_an_admin_pin_wins_and_is_audited(
    train, user, admin_user, django_capture_on_commit_callbacks
):
    control, candidate = two_versions(train)
    experiment = ab_experiment(control, candidate, weights=(100, 0))
    assert routing.route(user=user, model_name="iris-model").arm == "control"
    with django_capture_on_commit_callbacks(execute=True):
        services.user_pin(experiment=experiment, user=user, arm_name="candidate", actor=admin_user)
    routed = routing.route(user=user, model_name="iris-model")
    assert (routed.arm, routed.version) == ("candidate", candidate)
    event = AuditEvent.objects.get(action=AuditAction.EXPERIMENT_USER_PINNED)
    assert (event.details["arm"], event.actor_username) == ("candidate", "admin")
    with django_capture_on_commit_callbacks(execute=True):
        services.user_pin(experiment=experiment, user=user, arm_name="", actor=admin_user)
    assert routing.route(user=user, model_name="iris-model").arm == "control"


def test_no_running_experiment_costs_one_cache_get_and_no_query(train, user, monkeypatch):
    two_versions(train)
    assert routing.route(user=user, model_name="iris-model") is None  # fills the cache
    gets = []
    original = cache.get
    monkeypatch.setattr(cache, "get", lambda *a, **k: gets.append(a[0]) or original(*a, **k))
    with CaptureQueriesContext(connection) as queries:
        assert routing.route(user=user, model_name="iris-model") is None
    assert len(gets) == 1
    assert len(queries) == 0


def test_start_and_stop_reach_routing_on_commit(train, user, django_capture_on_commit_callbacks):
    control, candidate = two_versions(train)
    assert routing.route(user=user, model_name="iris-model") is None  # "none" is cached
    experiment = ab_experiment(control, candidate, weights=(0, 1), start=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.experiment_start(experiment=experiment)
    assert routing.route(user=user, model_name="iris-model").arm == "candidate"
    with django_capture_on_commit_callbacks(execute=True):
        services.experiment_stop(experiment=experiment, reason="done")
    assert routing.route(user=user, model_name="iris-model") is None


def test_forced_arm_must_exist(train, user, django_capture_on_commit_callbacks):
    control, candidate = two_versions(train)
    with pytest.raises(routing.UnknownArm):
        routing.route(user=user, model_name="iris-model", forced_arm="candidate")
    with django_capture_on_commit_callbacks(execute=True):
        ab_experiment(control, candidate, weights=(1, 0), shadow=candidate)
    assert routing.route(user=user, model_name="iris-model", forced_arm="candidate").arm == (
        "candidate"
    )
    for missing in ("nope", "shadow"):  # a shadow arm never answers, even when asked
        with pytest.raises(routing.UnknownArm):
            routing.route(user=user, model_name="iris-model", forced_arm=missing)


def test_one_running_experiment_per_model(train):
    control, candidate = two_versions(train)
    ab_experiment(control, candidate)
    second = ab_experiment(control, candidate, start=False)
    with pytest.raises(services.ExperimentError, match="already runs"):
        services.experiment_start(experiment=second)
    # The database refuses it too, whatever the code path.
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=second.pk).update(status=ExperimentStatus.RUNNING)
