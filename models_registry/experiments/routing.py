"""Which arm (and so which version) answers a predict call: runs on every request.

The running experiment of each model is cached as a small snapshot in the shared cache and
dropped on commit whenever an experiment, arm or plan changes (see `invalidate`), so a model
without a running experiment costs one cache get. A user's arm comes from a deterministic
hash of experiment and user; A/B arms are then recorded in an ABAssignment row on first use,
so later weight changes never move a user who has already been served.

Canary experiments do not record assignments: the canary arm holds the lowest buckets, so
raising its percentage only ever moves users from control to canary, never back and forth.
"""

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from django.core.cache import cache

from models_registry import serving
from models_registry.experiments.models import ABAssignment, Arm, Experiment, ExperimentKind
from portal import memo

SNAPSHOT_TTL_SECONDS = 300
ASSIGNMENT_TTL_SECONDS = 24 * 3600
_NONE = "none"  # cached "no running experiment", distinct from a cache miss
_BUCKET_DIGITS = 15  # hex digits of the hash used: 60 bits, plenty for a uniform bucket


class UnknownArm(Exception):
    """A forced arm that the model's running experiment does not have (or no experiment)."""


@dataclass(frozen=True)
class Route:
    version: object  # a ModelVersion
    arm: str
    experiment_id: int
    shadows: list = field(default_factory=list)  # [(arm name, version id), ...]


def _snapshot_key(model_name):
    return f"experiments:running:{model_name}"


def _assignment_key(experiment_id, user_id):
    return f"experiments:arm:{experiment_id}:{user_id}"


def invalidate(model_name):
    cache.delete(_snapshot_key(model_name))
    memo.bump()


def forget_assignment(experiment_id, user_id):
    # Assignments are not remembered per process: a new user's first call records one, and
    # that must not drop every worker's memo.
    cache.delete(_assignment_key(experiment_id, user_id))


def snapshot(experiment):
    """The plain data routing needs from a running experiment (what the cache holds)."""
    return {
        "id": experiment.pk,
        "kind": experiment.kind,
        "arms": [
            {"name": arm.name, "version_id": arm.version_id, "weight": arm.weight}
            for arm in experiment.serving_arms()
        ],
        "shadows": [[arm.name, arm.version_id] for arm in experiment.shadow_arms()],
    }


def running_snapshot(model_name):
    """The cached snapshot of the model's running experiment, or None."""
    return memo.remember(("experiment", model_name), lambda: _snapshot_lookup(model_name))


def _snapshot_lookup(model_name):
    key = _snapshot_key(model_name)
    data = cache.get(key)
    if data is None:
        experiment = (
            Experiment.objects.running()
            .filter(model__name=model_name)
            .prefetch_related("arms")
            .first()
        )
        data = snapshot(experiment) if experiment is not None else _NONE
        cache.set(key, data, SNAPSHOT_TTL_SECONDS)
    return None if data == _NONE else data


def bucket(experiment_id, user_id):
    """A number in [0, 1) fixed for this experiment and user."""
    digest = hashlib.sha256(f"{experiment_id}:{user_id}".encode()).hexdigest()
    return int(digest[:_BUCKET_DIGITS], 16) / 16**_BUCKET_DIGITS


def choose_arm(experiment_id, user_id, arms):
    """The arm name the user's bucket falls in, by cumulative weight; None if all weigh 0."""
    live = [arm for arm in arms if arm["weight"] > 0]
    if not live:
        return None
    edges = list(accumulate(arm["weight"] for arm in live))
    point = bucket(experiment_id, user_id) * edges[-1]
    return live[min(bisect_right(edges, point), len(live) - 1)]["name"]


def _assigned_arm(data, user):
    """The user's arm: a pin or a recorded A/B assignment wins over the weights."""
    weights = {arm["name"]: arm["weight"] for arm in data["arms"]}
    key = _assignment_key(data["id"], user.pk)
    recorded = cache.get(key)
    if recorded is None:
        recorded = ABAssignment.objects.filter(experiment_id=data["id"], user=user).values_list(
            "arm__name", "pinned"
        ).first() or ("", False)
        cache.set(key, tuple(recorded), ASSIGNMENT_TTL_SECONDS)
    name, pinned = recorded
    if pinned or weights.get(name, 0) > 0:
        return name
    chosen = choose_arm(data["id"], user.pk, data["arms"])
    if chosen is None or data["kind"] == ExperimentKind.CANARY:
        return chosen
    # First use, or the recorded arm was closed (weight 0): record the arm so it sticks.
    arm_id = Arm.objects.filter(experiment_id=data["id"], name=chosen).values_list("pk", flat=True)[
        0
    ]
    assignment, created = ABAssignment.objects.get_or_create(
        experiment_id=data["id"], user=user, defaults={"arm_id": arm_id}
    )
    if not created and assignment.arm_id != arm_id:
        current = assignment.arm.name
        if assignment.pinned or weights.get(current, 0) > 0:  # a concurrent request won
            chosen, pinned = current, assignment.pinned
        else:
            ABAssignment.objects.filter(pk=assignment.pk).update(arm_id=arm_id)
    cache.set(key, (chosen, pinned), ASSIGNMENT_TTL_SECONDS)
    return chosen


def route(*, user, model_name, forced_arm=None):
    """The Route that serves this call, or None when the model runs no experiment."""
    data = running_snapshot(model_name)
    if data is None:
        if forced_arm:
            raise UnknownArm(f"{model_name} runs no experiment, so it has no arm {forced_arm!r}")
        return None
    if forced_arm:
        if forced_arm not in {arm["name"] for arm in data["arms"]}:
            raise UnknownArm(f"The running experiment on {model_name} has no arm {forced_arm!r}")
        name = forced_arm
    else:
        name = _assigned_arm(data, user)
    if name is None:
        return None  # every arm weighs 0: production answers
    version_id = next(arm["version_id"] for arm in data["arms"] if arm["name"] == name)
    version = serving.serving_version(version_id)
    if version is None:
        invalidate(model_name)
        return None
    return Route(
        version=version,
        arm=name,
        experiment_id=data["id"],
        shadows=[tuple(shadow) for shadow in data["shadows"]],
    )
