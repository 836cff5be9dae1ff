"""Model artifacts: skops files (no pickle) in Django storage, verified before loading."""

import hashlib
import platform

import numpy
import sklearn
import skops
import skops.io as sio
from django.core.files.base import ContentFile

# Types whose modules start with these are ours to load: scikit-learn and what it is made of.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


class ArtifactError(Exception):
    """An artifact that must not be loaded: tampered, missing or with untrusted types."""


def framework_versions():
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "skops": skops.__version__,
    }


def serialize(estimator):
    """Return (bytes, sha256) of a skops dump."""
    data = sio.dumps(estimator)
    return data, hashlib.sha256(data).hexdigest()


def attach(version, data, sha256):
    version.artifact_sha256 = sha256
    version.artifact_size = len(data)
    version.artifact.save(
        f"{version.model.name}-v{version.version}.skops", ContentFile(data), save=False
    )


def load(version):
    """Read, verify and deserialize a version's estimator; raise ArtifactError when unsafe."""
    try:
        # A handle of our own: the version row (and its FieldFile) may be shared by threads.
        with version.artifact.storage.open(version.artifact.name, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, ValueError) as exc:
        raise ArtifactError(f"{version}: artifact missing ({exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != version.artifact_sha256:
        raise ArtifactError(
            f"{version}: artifact checksum mismatch (expected {version.artifact_sha256[:12]}…, "
            f"got {digest[:12]}…); refusing to load a file that changed after registration"
        )
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means we cannot trust it
        raise ArtifactError(f"{version}: artifact is not a readable skops file ({exc})") from None
    refused = [t for t in untrusted if not t.startswith(TRUSTED_MODULE_PREFIXES)]
    if refused:
        raise ArtifactError(f"{version}: artifact contains untrusted types: {', '.join(refused)}")
    return sio.loads(data, trusted=untrusted)
