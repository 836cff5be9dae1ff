from django.apps import AppConfig


class ModelsRegistryConfig(AppConfig):
    name = "models_registry"
    verbose_name = "Model registry"

    def ready(self):
        from models_registry import signals  # noqa: F401 - connects receivers
        from models_registry.experiments import signals as experiment_signals  # noqa: F401
