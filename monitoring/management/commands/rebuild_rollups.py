from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from monitoring.rollups import rollups_rebuild
from monitoring.services import parse_window


class Command(BaseCommand):
    help = (
        "Recount the traffic rollups, per minute and per hour (what the monitoring pages show), "
        "of the last --window from the prediction log itself. Needed only for log rows written by "
        "other means than the portal (an import, a restored backup); the portal keeps them itself. "
        "Writers wait while it runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--window", default="7d", help="how far back, e.g. 90m, 24h, 7d, 2w (default 7d)"
        )

    def handle(self, *args, window, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Rebuilding rollups needs PostgreSQL (set DATABASE_URL).")
        try:
            span = parse_window(window)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        now = timezone.now()
        written = rollups_rebuild(since=now - span, until=now + timedelta(minutes=1))
        self.stdout.write(f"Rebuilt {written:,} minute rollups over the last {window}.")
