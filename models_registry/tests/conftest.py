import pytest

from models_registry.serving import clear_loaded


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    clear_loaded()
