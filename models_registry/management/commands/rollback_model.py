from django.core.management.base import BaseCommand, CommandError

from models_registry import services
from models_registry.models import MLModel


class Command(BaseCommand):
    help = (
        "Put the previous production version of model NAME back into production (or --to VERSION)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--to", type=int, dest="to_version", metavar="VERSION")

    def handle(self, *args, name, to_version, **options):
        model = MLModel.objects.filter(name=name).first()
        if model is None:
            raise CommandError(f"No model {name!r}.")
        current = model.production_version
        try:
            target = services.version_rollback(model=model, to_version=to_version)
        except services.RegistryError as exc:
            raise CommandError(str(exc)) from exc
        was = f" (was v{current.version})" if current else ""
        self.stdout.write(f"Rolled back {name} to v{target.version}{was}.")
