"""Fill the prediction log with synthetic rows, to benchmark the history and monitoring pages."""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from accounts.models import User
from models_registry.models import ModelVersion
from monitoring.rollups import rollups_rebuild
from predictions.models import Prediction

CHUNK = 100_000
# One INSERT ... SELECT per chunk: PostgreSQL generates the rows, nothing crosses the wire.
SEED_SQL = f"""
INSERT INTO {Prediction._meta.db_table}
  (request_id, user_id, model_id, version_id, model_name, version_number, arm, inputs,
   outputs, probabilities, rows, latency_ms, created_at, status, error)
SELECT %(prefix)s || g, %(user)s, %(model)s, %(version)s, %(model_name)s, %(version_number)s,
  CASE WHEN g %% 10 = 0 THEN 'canary' ELSE '' END, %(inputs)s::jsonb,
  jsonb_build_array(g %% 2), NULL, 1, 0.5 + (g %% 100) / 50.0,
  now() - make_interval(secs => g::double precision * %(spread)s / %(total)s),
  CASE WHEN g %% 200 = 0 THEN 'error' ELSE 'ok' END, ''
FROM generate_series(%(start)s, %(stop)s) AS g
"""  # noqa: S608 - the table name is ours


class Command(BaseCommand):
    help = (
        "Add synthetic prediction log rows for USERNAME on MODEL's production version, spread "
        "over the last --days days, until the user has at least --rows rows. For benchmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("model", help="model name; its production version is used")
        parser.add_argument("--rows", type=int, default=1_000_000, help="target row count")
        parser.add_argument("--days", type=int, default=30, help="spread over this many days")

    def handle(self, *args, username, model, rows, days, **options):
        user = User.objects.filter(username=username).first()
        version = ModelVersion.objects.production().filter(model__name=model).first()
        if user is None or version is None:
            raise CommandError(f"Need user {username!r} and a production version of {model!r}.")
        have = Prediction.objects.filter(user=user).count()
        missing = rows - have
        if missing <= 0:
            self.stdout.write(f"{username} already has {have:,} logged predictions.")
            return
        inputs = '[{"seeded": true}]'
        prefix = f"seed-{int(time.time())}-"
        started = time.monotonic()
        for start in range(1, missing + 1, CHUNK):
            stop = min(start + CHUNK - 1, missing)
            with connection.cursor() as cursor:
                cursor.execute(
                    SEED_SQL,
                    {
                        "prefix": prefix,
                        "user": user.pk,
                        "model": version.model_id,
                        "version": version.pk,
                        "model_name": version.model.name,
                        "version_number": version.version,
                        "inputs": inputs,
                        "spread": days * 86400,
                        "total": missing,
                        "start": start,
                        "stop": stop,
                    },
                )
            self.stdout.write(f"  {stop:,} / {missing:,} rows", ending="\r")
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Prediction._meta.db_table}")
        # The rows bypassed the log writer: count them into the monitoring rollups from the log.
        now = timezone.now()
        rollups_rebuild(
            since=now - timedelta(days=days, minutes=1), until=now + timedelta(minutes=2)
        )
        elapsed = time.monotonic() - started
        self.stdout.write(f"\nSeeded {missing:,} rows (and their rollups) in {elapsed:.1f} s.")
