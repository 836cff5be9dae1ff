"""Which version serves a model, and the loaded estimators, cached safely across workers.

The production pointer lives in the shared cache (Redis in production) and is dropped on every
promotion or rollback, so every worker sees the change on its next request. Loaded estimators
are cached per process by version id and checksum: a new version is a new key, never stale.
"""

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from django.core.cache import cache

from models_registry import artifacts
from models_registry.models import MLModel, ModelVersion
from models_registry.predictor import predictor_build
from portal import memo

logger = logging.getLogger(__name__)
POINTER_TTL_SECONDS = 300
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")
MAX_LOADED_MODELS = 16
_MISSING = 0

_loaded = OrderedDict()
# Version rows the pointer named, per process: what serving reads of them (artifact, schema,
# classes) never changes after registration, and a promotion moves the pointer, not the row.
_versions = OrderedDict()
_lock = Lock()


def _pointer_key(model_name):
    return f"registry:production:{model_name}"


def _policy_key(model_name):
    return f"registry:policy:{model_name}"


@dataclass(frozen=True)
class ModelPolicy:
    """What serving must know of a model row itself (kept per worker while the memo stands)."""

    restricted: bool
    enforce_input_ranges: bool


def model_policy(model_name):
    """The ModelPolicy of an existing model, None when there is none."""
    if not _SLUG.fullmatch(model_name):
        return None  # never a model name, and not fit for a cache key
    return memo.remember(("policy", model_name), lambda: _policy_lookup(model_name))


def model_restricted(model_name):
    """True or False for an existing model (is it restricted?), None when there is none."""
    policy = model_policy(model_name)
    return None if policy is None else policy.restricted


def _policy_lookup(model_name):
    state = cache.get(_policy_key(model_name))
    if not isinstance(state, dict):
        row = (
            MLModel.objects.filter(name=model_name)
            .values("restricted", "enforce_input_ranges")
            .first()
        )
        state = {"missing": True} if row is None else row
        cache.set(_policy_key(model_name), state, POINTER_TTL_SECONDS)
    if state.get("missing"):
        return None
    return ModelPolicy(
        restricted=state["restricted"], enforce_input_ranges=state["enforce_input_ranges"]
    )


def forget_model(model_name):
    cache.delete_many([_policy_key(model_name), _pointer_key(model_name)])
    memo.bump()


def production_version(model_name):
    """The production ModelVersion of a model, or None."""
    return memo.remember(("production", model_name), lambda: _production_lookup(model_name))


def _production_lookup(model_name):
    version_id = cache.get(_pointer_key(model_name))
    if version_id is None:
        version_id = (
            ModelVersion.objects.production()
            .filter(model__name=model_name)
            .values_list("pk", flat=True)
            .first()
        ) or _MISSING
        cache.set(_pointer_key(model_name), version_id, POINTER_TTL_SECONDS)
    if version_id == _MISSING:
        return None
    version = _versions.get(version_id)
    if version is not None:
        return version
    version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
    if version is None or version.stage != "production":
        invalidate(model_name)  # the pointer outlived its version: ask the database again
        return _production_lookup(model_name) if version is not None else None
    _keep_version(version)
    return version


def serving_version(version_id):
    """A version row by id, for serving (kept per process: what serving reads never changes)."""
    version = _versions.get(version_id)
    if version is None:
        version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
        if version is not None:
            _keep_version(version)
    return version


def _keep_version(version):
    with _lock:
        _versions[version.pk] = version
        while len(_versions) > MAX_LOADED_MODELS:
            _versions.popitem(last=False)


def invalidate(model_name):
    cache.delete(_pointer_key(model_name))
    memo.bump()


def load_predictor(version):
    """The version's Predictor (compiled when safe), loaded and verified once per process."""
    key = (version.pk, version.artifact_sha256)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    predictor = predictor_build(
        artifacts.load(version),
        schema=version.input_schema,
        output_classes=version.output_classes,
        label=f"{version.model.name} v{version.version}",
    )
    with _lock:
        _loaded[key] = predictor
        while len(_loaded) > MAX_LOADED_MODELS:
            _loaded.popitem(last=False)
    return predictor


def load_estimator(version):
    """The fitted pipeline of a version, as trained (loaded once per process)."""
    return load_predictor(version).pipeline


def warm_up():
    """Load what may serve (production versions, running experiments' arms) into this process.

    Called as a gunicorn worker starts, so no request pays for loading and checking a model
    (the better part of a second each), neither after a deploy nor after a worker is recycled.
    Returns {label: error or None}; a version that fails to load is logged and skipped,
    /readiness reports it.
    """
    from models_registry.experiments.models import Arm, Experiment

    arms = Arm.objects.filter(experiment__in=Experiment.objects.running()).values("version_id")
    versions = ModelVersion.objects.production() | ModelVersion.objects.filter(pk__in=arms)
    outcome = {}
    for version in versions.select_related("model"):
        label = f"{version.model.name} v{version.version}"
        try:
            load_predictor(version)
            outcome[label] = None
        except Exception as exc:  # noqa: BLE001 - one bad artifact must not stop the worker
            logger.warning("could not warm up %s: %s", label, exc)
            outcome[label] = str(exc)
    return outcome


def clear_loaded():
    with _lock:
        _loaded.clear()
        _versions.clear()
