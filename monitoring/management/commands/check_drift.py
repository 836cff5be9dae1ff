import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from models_registry.models import MLModel
from monitoring import services
from monitoring.drift.check import DriftCheckError
from monitoring.models import DriftStatus

EXIT_ALERT = 1
EXIT_USAGE = 2
HEADERS = ("feature", "method", "score", "p-value", "psi", "status")


def _number(value):
    return "-" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = (
        "Compare the recent traffic of model NAME (its production version unless --version) "
        "with the version's training reference, print one line per feature (and the "
        "prediction) and store the report. Exit status: 0 no feature in alert, 1 some feature "
        "in alert, 2 bad arguments (unknown model or version, bad window, no reference)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version N names the model version here; Django's own --version (its release
        # number) gives way.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("name", help="the model's name")
        parser.add_argument(
            "--version", type=int, metavar="N", help="version number to check (default: production)"
        )
        parser.add_argument(
            "--window",
            default=None,
            help=f"how far back to read logged predictions, e.g. 30m, 24h, 7d "
            f"(default DRIFT_WINDOW, now {settings.DRIFT_WINDOW})",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print only: store no report, raise no alert, set no metric",
        )

    def handle(self, *args, name, version, window, dry_run, **options):
        target = self._version(name, version)
        try:
            span = services.parse_window(window or settings.DRIFT_WINDOW)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        try:
            result, _report = services.drift_check(version=target, window=span, save=not dry_run)
        except DriftCheckError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        self.stdout.write(
            f"{target} · {result.rows:,} rows from {result.window_start:%Y-%m-%d %H:%M} "
            f"to {result.window_end:%Y-%m-%d %H:%M} UTC · {result.duration_ms:.0f} ms"
        )
        self._table(result.columns)
        status = DriftStatus(result.status)
        self.stdout.write(f"overall: {status.label}")
        if status == DriftStatus.ALERT:
            sys.exit(EXIT_ALERT)

    def _version(self, name, number):
        model = MLModel.objects.filter(name=name).first()
        if model is None:
            raise CommandError(f"No model {name!r}.", returncode=EXIT_USAGE)
        versions = model.versions.select_related("model")
        if number is None:
            target = versions.filter(stage="production").first()
            if target is None:
                raise CommandError(
                    f"{name} has no production version: pass --version.", returncode=EXIT_USAGE
                )
            return target
        target = versions.filter(version=number).first()
        if target is None:
            raise CommandError(f"{name} has no version {number}.", returncode=EXIT_USAGE)
        return target

    def _table(self, columns):
        rows = [
            (
                c.feature,
                c.method,
                _number(c.score),
                _number(c.p_value),
                _number(c.psi),
                DriftStatus(c.status).label,
            )
            for c in columns
        ]
        widths = [max(len(str(r[i])) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
        for row in [HEADERS, *rows]:
            cells = (str(value).ljust(width) for value, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
