"""Experiment workflows: create, start, stop, conclude, weights, pins and canary steps.

Every change is audited; routing picks it up when the cached snapshot is dropped on commit.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from models_registry.experiments import gates
from models_registry.experiments.models import (
    ABAssignment,
    Arm,
    CanaryPlan,
    Experiment,
    ExperimentKind,
    ExperimentStatus,
)

FULL_ROLLOUT = 100


class ExperimentError(Exception):
    """A refused experiment operation; the message says why."""


def _audit(action, *, actor, experiment, details=None, ip=None):
    AuditEvent.objects.record(
        action,
        actor=actor,
        target=experiment,
        details={"model": experiment.model.name, "experiment": experiment.name, **(details or {})},
        ip=ip,
    )


def validate_steps(steps):
    if not steps:
        raise ValidationError({"steps": "Give at least one step, e.g. 5, 25, 50, 100."})
    if any(not 0 < step <= FULL_ROLLOUT for step in steps):
        raise ValidationError({"steps": "Each step is a percentage above 0 and at most 100."})
    if list(steps) != sorted(set(steps)):
        raise ValidationError({"steps": "Steps must increase, e.g. 5, 25, 50, 100."})
    if steps[-1] != FULL_ROLLOUT:
        raise ValidationError({"steps": "The last step must be 100 (the promotion)."})


@transaction.atomic
def experiment_create(
    *, model, name, kind, arms, shadow=None, plan=None, description="", actor=None, ip=None
):
    """Create a draft experiment. `arms`: [{"name", "version", "weight"}], the first is control.

    A canary has exactly two arms (control, canary) and a `plan` dict of CanaryPlan fields.
    """
    arms = list(arms)
    all_arms = arms + ([shadow] if shadow else [])
    errors = {}
    if len(arms) < (2 if kind == ExperimentKind.CANARY else 1):
        errors["arms"] = "Give at least two arms (the first one is the control)."
    if kind == ExperimentKind.CANARY and len(arms) != 2:
        errors["arms"] = "A canary has exactly two arms: the control, then the canary."
    names = [arm["name"] for arm in all_arms]
    if len(set(names)) != len(names):
        errors["arms"] = "Arm names must be unique within the experiment."
    if any(arm["version"].model_id != model.pk for arm in all_arms):
        errors["arms"] = f"Every arm's version must be a version of {model.name}."
    if kind == ExperimentKind.AB and sum(arm["weight"] for arm in arms) <= 0:
        errors["arms"] = "The weights must add up to more than 0."
    if any(arm["weight"] < 0 for arm in arms):
        errors["arms"] = "Weights cannot be negative."
    if errors:
        raise ValidationError(errors)
    if kind == ExperimentKind.CANARY:
        validate_steps((plan or {}).get("steps") or [])
    experiment = Experiment.objects.create(
        model=model, name=name, kind=kind, description=description, created_by=actor
    )
    for index, arm in enumerate(arms):
        weight = arm["weight"]
        if kind == ExperimentKind.CANARY:
            weight = FULL_ROLLOUT if index == 0 else 0  # the plan sets them on start
        Arm.objects.create(
            experiment=experiment,
            name=arm["name"],
            version=arm["version"],
            weight=weight,
            is_control=index == 0,
        )
    if shadow:
        Arm.objects.create(
            experiment=experiment, name=shadow["name"], version=shadow["version"], is_shadow=True
        )
    if kind == ExperimentKind.CANARY:
        CanaryPlan.objects.create(experiment=experiment, **plan)
    _audit(
        AuditAction.EXPERIMENT_CREATED,
        actor=actor,
        experiment=experiment,
        details={
            "kind": kind,
            "arms": {arm["name"]: f"v{arm['version'].version}" for arm in all_arms},
        },
        ip=ip,
    )
    return experiment


def _locked(experiment):
    return Experiment.objects.select_for_update().select_related("model").get(pk=experiment.pk)


@transaction.atomic
def experiment_start(*, experiment, actor=None, ip=None):
    experiment = _locked(experiment)
    if experiment.status != ExperimentStatus.DRAFT:
        raise ExperimentError(f"Only a draft can start; this one is {experiment.status}.")
    if not experiment.is_canary and not any(arm.weight for arm in experiment.serving_arms()):
        raise ExperimentError("Give at least one arm a weight above 0 before starting.")
    others = Experiment.objects.running().filter(model=experiment.model)
    if others.exists():
        raise ExperimentError(
            f"{experiment.model.name} already runs {others.first().name!r}: stop it first."
        )
    now = timezone.now()
    if experiment.is_canary:
        plan = experiment.plan
        plan.step_index, plan.step_started_at = 0, now
        plan.save(update_fields=["step_index", "step_started_at"])
        _set_canary_weights(experiment, plan.current_percent)
    experiment.status = ExperimentStatus.RUNNING
    experiment.started_at, experiment.started_by = now, actor
    try:
        with transaction.atomic():
            experiment.save(update_fields=["status", "started_at", "started_by"])
    except IntegrityError:  # a concurrent start won the partial unique index
        raise ExperimentError(f"{experiment.model.name} already runs an experiment.") from None
    _audit(AuditAction.EXPERIMENT_STARTED, actor=actor, experiment=experiment, ip=ip)
    return experiment


def _finish(experiment, *, status, actor, reason=""):
    experiment.status = status
    if experiment.stopped_at is None:
        experiment.stopped_at, experiment.stopped_by = timezone.now(), actor
    if reason:
        experiment.stop_reason = reason
    experiment.save(update_fields=["status", "stopped_at", "stopped_by", "stop_reason", "winner"])


@transaction.atomic
def experiment_stop(*, experiment, actor=None, reason="", ip=None):
    experiment = _locked(experiment)
    if experiment.status != ExperimentStatus.RUNNING:
        raise ExperimentError(
            f"Only a running experiment can stop; this one is {experiment.status}."
        )
    _finish(experiment, status=ExperimentStatus.STOPPED, actor=actor, reason=reason)
    _audit(
        AuditAction.EXPERIMENT_STOPPED,
        actor=actor,
        experiment=experiment,
        details={"reason": reason},
        ip=ip,
    )
    return experiment


@transaction.atomic
def experiment_conclude(*, experiment, winner="", promote=False, actor=None, ip=None):
    """End the experiment with a winner; with `promote`, the winner's version goes to production."""
    from models_registry.services import RegistryError, version_promote

    experiment = _locked(experiment)
    if experiment.status not in (ExperimentStatus.RUNNING, ExperimentStatus.STOPPED):
        raise ExperimentError(f"A {experiment.status} experiment cannot be concluded.")
    arm = experiment.arms.filter(name=winner).select_related("version").first() if winner else None
    if winner and arm is None:
        raise ExperimentError(f"No arm {winner!r} in this experiment.")
    if promote and arm is None:
        raise ExperimentError("Choose the winning arm to promote.")
    experiment.winner = winner
    _finish(experiment, status=ExperimentStatus.CONCLUDED, actor=actor)
    _audit(
        AuditAction.EXPERIMENT_CONCLUDED,
        actor=actor,
        experiment=experiment,
        details={"winner": winner, "promote": promote},
        ip=ip,
    )
    if promote and arm.version.stage != "production":
        try:
            version_promote(version=arm.version, actor=actor, ip=ip)
        except RegistryError as exc:
            raise ExperimentError(str(exc)) from None
    return experiment


@transaction.atomic
def arm_weights_set(*, experiment, weights, actor=None, ip=None):
    """Set serving arms' weights ({name: weight}); users already assigned keep their arm."""
    experiment = _locked(experiment)
    if experiment.status not in (ExperimentStatus.DRAFT, ExperimentStatus.RUNNING):
        raise ExperimentError(f"A {experiment.status} experiment's weights are final.")
    if experiment.is_canary:
        raise ExperimentError("A canary's weights follow its plan.")
    arms = {arm.name: arm for arm in experiment.serving_arms()}
    unknown = set(weights) - set(arms)
    if unknown:
        raise ValidationError(f"No arm(s) {', '.join(sorted(unknown))} to weigh.")
    if any(w < 0 for w in weights.values()):
        raise ValidationError("Weights cannot be negative.")
    merged = {name: weights.get(name, arm.weight) for name, arm in arms.items()}
    if sum(merged.values()) <= 0:
        raise ValidationError("The weights must add up to more than 0.")
    changes = {}
    for name, arm in arms.items():
        if merged[name] != arm.weight:
            changes[name] = {"from": arm.weight, "to": merged[name]}
            arm.weight = merged[name]
            arm.save(update_fields=["weight"])
    if changes:
        _audit(
            AuditAction.EXPERIMENT_WEIGHTS_CHANGED,
            actor=actor,
            experiment=experiment,
            details={"weights": changes},
            ip=ip,
        )
    return changes


@transaction.atomic
def user_pin(*, experiment, user, arm_name, actor=None, ip=None):
    """Keep `user` on `arm_name` whatever the weights say; an empty arm name unpins."""
    experiment = _locked(experiment)
    if experiment.status in (ExperimentStatus.STOPPED, ExperimentStatus.CONCLUDED):
        raise ExperimentError("The experiment is over: nothing to pin.")
    if not arm_name:
        deleted, _ = ABAssignment.objects.filter(
            experiment=experiment, user=user, pinned=True
        ).delete()
        if deleted:
            _audit(
                AuditAction.EXPERIMENT_USER_PINNED,
                actor=actor,
                experiment=experiment,
                details={"user": user.username, "arm": None},
                ip=ip,
            )
        return None
    arm = experiment.arms.filter(name=arm_name, is_shadow=False).first()
    if arm is None:
        raise ValidationError({"arm": f"No serving arm {arm_name!r} in this experiment."})
    ABAssignment.objects.update_or_create(
        experiment=experiment, user=user, defaults={"arm": arm, "pinned": True}
    )
    _audit(
        AuditAction.EXPERIMENT_USER_PINNED,
        actor=actor,
        experiment=experiment,
        details={"user": user.username, "arm": arm_name},
        ip=ip,
    )
    return arm


def _set_canary_weights(experiment, percent):
    arms = experiment.serving_arms()  # canary first, control last
    canary, control = arms[0], arms[-1]
    canary.weight, control.weight = percent, FULL_ROLLOUT - percent
    canary.save(update_fields=["weight"])
    control.save(update_fields=["weight"])


@transaction.atomic
def canary_advance(*, experiment_id, now=None):
    """Check the current step's gate: advance, promote at 100%, roll back, or wait.

    Returns the decision dict also stored on the plan as `last_check`.
    """
    from models_registry.services import RegistryError, version_promote

    now = now or timezone.now()
    experiment = (
        Experiment.objects.select_for_update(of=("self",))
        .select_related("model")
        .filter(pk=experiment_id, kind=ExperimentKind.CANARY, status=ExperimentStatus.RUNNING)
        .first()
    )
    if experiment is None:
        return {"decision": "not running"}
    plan = experiment.plan
    arms = experiment.serving_arms()
    canary, control = arms[0], arms[-1]
    check = gates.canary_check(
        experiment=experiment, plan=plan, canary=canary, control=control, now=now
    )
    plan.last_check = {**check, "at": now.isoformat()}
    plan.save(update_fields=["last_check"])
    details = {"step": plan.current_percent, **check}
    if check["decision"] == gates.ROLL_BACK:
        _set_canary_weights(experiment, 0)
        reason = f"Canary gate failed at {plan.current_percent}%: {check['reason']}"
        _finish(experiment, status=ExperimentStatus.STOPPED, actor=None, reason=reason)
        _audit(AuditAction.CANARY_ROLLED_BACK, actor=None, experiment=experiment, details=details)
    elif check["decision"] == gates.ADVANCE:
        plan.step_index += 1
        plan.step_started_at = now
        plan.save(update_fields=["step_index", "step_started_at"])
        _set_canary_weights(experiment, plan.current_percent)
        details["to"] = plan.current_percent
        _audit(AuditAction.CANARY_ADVANCED, actor=None, experiment=experiment, details=details)
        if plan.current_percent == FULL_ROLLOUT:
            _canary_promote(experiment, canary, version_promote, RegistryError)
    return check


def _canary_promote(experiment, canary, version_promote, registry_error):
    try:
        with transaction.atomic():
            version_promote(version=canary.version)
    except registry_error as exc:
        _set_canary_weights(experiment, 0)
        _finish(
            experiment,
            status=ExperimentStatus.STOPPED,
            actor=None,
            reason=f"Canary reached 100% but promotion was refused: {exc}",
        )
        _audit(
            AuditAction.EXPERIMENT_STOPPED,
            actor=None,
            experiment=experiment,
            details={"reason": experiment.stop_reason},
        )
        return
    experiment.winner = canary.name
    _finish(
        experiment, status=ExperimentStatus.CONCLUDED, actor=None, reason="Canary promoted at 100%."
    )
    _audit(
        AuditAction.EXPERIMENT_CONCLUDED,
        actor=None,
        experiment=experiment,
        details={"winner": canary.name, "promote": True},
    )


def canary_tick():
    """One beat tick: check every running canary; returns {experiment id: decision}."""
    ids = (
        Experiment.objects.running().filter(kind=ExperimentKind.CANARY).values_list("pk", flat=True)
    )
    return {pk: canary_advance(experiment_id=pk)["decision"] for pk in list(ids)}
