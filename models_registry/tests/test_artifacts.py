"""Artifacts load only when their checksum matches and every type in them is trusted."""

import hashlib

import pandas as pd
import pytest
import skops.io as sio
from django.core.files.base import ContentFile

from models_registry import artifacts, services
from models_registry.serving import clear_loaded


class Payload:
    """Stands in for an object smuggled into an artifact."""


def _replace_artifact(version, data, *, fix_checksum):
    version.artifact.storage.delete(version.artifact.name)
    version.artifact.storage.save(version.artifact.name, ContentFile(data))
    if fix_checksum:
        version.artifact_sha256 = hashlib.sha256(data).hexdigest()


def test_a_version_loads_and_predicts(train):
    version = train()
    row = pd.DataFrame(
        [
            {
                "sepal_length_(cm)": 5.1,
                "sepal_width_(cm)": 3.5,
                "petal_length_(cm)": 1.4,
                "petal_width_(cm)": 0.2,
            }
        ]
    )
    assert artifacts.load(version).predict(row).tolist() == ["setosa"]


def test_tampered_artifact_is_refused(train):
    version = train()
    with version.artifact.open("rb") as handle:
        data = bytearray(handle.read())
    data[len(data) // 2] ^= 0xFF
    _replace_artifact(version, bytes(data), fix_checksum=False)
    with pytest.raises(artifacts.ArtifactError, match="checksum mismatch"):
        artifacts.load(version)


def test_untrusted_types_are_refused(train):
    version = train()
    _replace_artifact(version, sio.dumps({"model": Payload()}), fix_checksum=True)
    with pytest.raises(artifacts.ArtifactError, match=r"untrusted types: .*Payload"):
        artifacts.load(version)


def test_missing_artifact_is_refused(train):
    version = train()
    version.artifact.storage.delete(version.artifact.name)
    with pytest.raises(artifacts.ArtifactError, match="missing"):
        artifacts.load(version)


def test_readiness_fails_when_a_production_artifact_is_tampered(client, train, admin_user):
    client.force_login(admin_user)  # only an admin sees what a failed check raised
    version = train()
    services.version_promote(version=version)
    assert client.get("/readiness").status_code == 200
    _replace_artifact(version, b"not a model", fix_checksum=False)
    clear_loaded()  # a fresh worker process, which has to load the file again
    response = client.get("/readiness")
    assert response.status_code == 503
    assert response.json()["failures"][0]["check"] == "models"
    assert "checksum mismatch" in response.json()["failures"][0]["error"]
