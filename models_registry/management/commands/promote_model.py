from django.core.management.base import BaseCommand, CommandError

from models_registry import services
from models_registry.models import MLModel


class Command(BaseCommand):
    help = "Promote VERSION of model NAME to production; the current one is archived."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version", type=int)

    def handle(self, *args, name, version, **options):
        model = MLModel.objects.filter(name=name).first()
        if model is None:
            raise CommandError(f"No model {name!r}.")
        target = model.versions.filter(version=version).first()
        if target is None:
            raise CommandError(f"{name} has no version {version}.")
        try:
            previous = services.version_promote(version=target)
        except services.RegistryError as exc:
            raise CommandError(str(exc)) from exc
        was = f" (v{previous.version} archived)" if previous else ""
        self.stdout.write(f"{name} v{version} is now in production{was}.")
