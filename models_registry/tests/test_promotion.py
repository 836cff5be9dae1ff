"""Promotion and rollback: service, commands, audit, and the one-production invariant."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from accounts.models import AuditAction, AuditEvent
from models_registry import services, serving
from models_registry.models import ModelVersion, Stage


def test_promote_archives_the_previous_version(train, admin_user):
    first, second = train(), train()
    assert services.version_promote(version=first, actor=admin_user) is None
    assert services.version_promote(version=second, actor=admin_user) == first
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    events = AuditEvent.objects.filter(action=AuditAction.MODEL_PROMOTED).order_by("id")
    assert [e.details["version"] for e in events] == [1, 2]
    assert events.last().details["previous"] == 1


def test_rollback_restores_the_previous_production_version(train, admin_user):
    first, second, third = train(), train(), train()
    for version in (first, second):
        services.version_promote(version=version)
    target = services.version_rollback(model=first.model, actor=admin_user)
    assert target == first
    assert first.model.production_version == first
    assert AuditEvent.objects.filter(action=AuditAction.MODEL_ROLLED_BACK).count() == 1
    # --to picks any promotable version, even one that never served.
    assert services.version_rollback(model=first.model, to_version=3) == third


def test_nothing_to_roll_back_to(train):
    version = train()
    with pytest.raises(services.RegistryError, match="nothing to roll back to"):
        services.version_rollback(model=version.model)
    services.version_promote(version=version)
    with pytest.raises(services.RegistryError, match="nothing to roll back to"):
        services.version_rollback(model=version.model)


def test_database_refuses_two_production_versions(train):
    first, second = train(), train()
    ModelVersion.objects.filter(pk=first.pk).update(stage=Stage.PRODUCTION)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(stage=Stage.PRODUCTION)


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_leave_one_production_version(train):
    versions = [train() for _ in range(4)]
    barrier = threading.Barrier(len(versions))
    errors = []

    def promote(version):
        try:
            barrier.wait()
            services.version_promote(version=version)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    model = versions[0].model
    assert model.versions.filter(stage=Stage.PRODUCTION).count() == 1
    assert model.versions.filter(stage=Stage.ARCHIVED).count() == 3


def test_commands(train, capsys):
    train(), train()
    call_command("promote_model", "iris-model", "1")
    call_command("promote_model", "iris-model", "2")
    call_command("rollback_model", "iris-model")
    out = capsys.readouterr().out
    assert "iris-model v2 is now in production (v1 archived)." in out
    assert "Rolled back iris-model to v1 (was v2)." in out
    with pytest.raises(CommandError, match="No model 'nope'"):
        call_command("promote_model", "nope", "1")
    with pytest.raises(CommandError, match="has no version 9"):
        call_command("promote_model", "iris-model", "9")
    with pytest.raises(CommandError, match="already in production"):
        call_command("promote_model", "iris-model", "1")


def test_train_model_command(db, admin_user, capsys):
    call_command(
        "train_model",
        "cli-iris",
        "--dataset",
        "iris",
        "--estimator",
        "random_forest",
        "--param",
        "n_estimators=5",
        "--promote",
    )
    out = capsys.readouterr().out
    assert "register: done" in out
    assert "cli-iris v1: production" in out
    with pytest.raises(CommandError, match="neither a built-in dataset"):
        call_command("train_model", "x", "--dataset", "nope.csv", "--estimator", "random_forest")
    with pytest.raises(CommandError, match="Parameters look like"):
        call_command(
            "train_model",
            "x",
            "--dataset",
            "iris",
            "--estimator",
            "random_forest",
            "--param",
            "oops",
        )


def test_serving_follows_promotion_and_rollback(train, django_capture_on_commit_callbacks):
    first, second = train(), train()
    assert serving.production_version("iris-model") is None
    with django_capture_on_commit_callbacks(execute=True):
        services.version_promote(version=first)
    assert serving.production_version("iris-model") == first
    with django_capture_on_commit_callbacks(execute=True):
        services.version_promote(version=second)
    assert serving.production_version("iris-model") == second
    estimator = serving.load_estimator(second)
    assert serving.load_estimator(second) is estimator  # loaded once per process
    assert list(estimator.classes_) == ["setosa", "versicolor", "virginica"]


def test_warm_up_loads_every_version_that_may_serve(train):
    from models_registry.experiments.models import Arm, Experiment, ExperimentStatus

    first = train(name="warm")
    services.version_promote(version=first)
    challenger = train(name="warm", estimator="random_forest", params={"n_estimators": 3})
    idle = train(name="warm")  # neither production nor in a running experiment
    experiment = Experiment.objects.create(
        model=first.model, name="warm-ab", status=ExperimentStatus.RUNNING
    )
    Arm.objects.create(experiment=experiment, name="b", version=challenger, weight=50)
    serving.clear_loaded()
    assert serving.warm_up() == {"warm v1": None, "warm v2": None}
    assert (first.pk, first.artifact_sha256) in serving._loaded
    assert (idle.pk, idle.artifact_sha256) not in serving._loaded


def test_warm_up_skips_a_version_it_cannot_load(train):
    version = train(name="broken-warm")
    services.version_promote(version=version)
    ModelVersion.objects.filter(pk=version.pk).update(artifact_sha256="0" * 64)
    serving.clear_loaded()
    outcome = serving.warm_up()
    assert "checksum mismatch" in outcome["broken-warm v1"]
