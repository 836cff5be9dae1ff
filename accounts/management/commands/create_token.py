from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import TokenScope, User


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME and print it alone on stdout (capture it: it is "
        "never shown again), e.g. TOKEN=$(manage.py create_token alice --scope predict)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="what the token is for (default: cli)")
        parser.add_argument(
            "--scope",
            choices=[s.value for s in TokenScope],
            default=TokenScope.READ.value,
            help="read, predict, proxy or all (what the role allows)",
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="days until it expires (default from TOKEN_DEFAULT_EXPIRY_DAYS)",
        )

    def handle(self, *args, username, name, scope, expires_days, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        try:
            _, plaintext = services.token_create(
                user=user, name=name, scope=scope, expires_days=expires_days
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(plaintext)
