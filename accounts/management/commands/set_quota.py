import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import User
from accounts.quotas import quota_statuses

QUOTA_OPTIONS = ("prediction_rows_per_day", "llm_tokens_per_day")


def _limit(value):
    if value.lower() == "default":
        return None
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number or 'default'") from None
    if number < 0:
        raise argparse.ArgumentTypeError("a quota cannot be negative")
    return number


class Command(BaseCommand):
    help = (
        "Set USERNAME's daily quotas. Give a number, or 'default' to follow the role's "
        "default again. Prints today's usage against the new limits."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        # SUPPRESS: an option not given is absent, so it is left as it is.
        parser.add_argument(
            "--prediction-rows-per-day", type=_limit, metavar="N|default", default=argparse.SUPPRESS
        )
        parser.add_argument(
            "--llm-tokens-per-day", type=_limit, metavar="N|default", default=argparse.SUPPRESS
        )

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        limits = {field: options[field] for field in QUOTA_OPTIONS if field in options}
        if not limits:
            raise CommandError(
                "Nothing to set: pass --prediction-rows-per-day and/or --llm-tokens-per-day."
            )
        try:
            services.quota_set(user=user, **limits)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for status in quota_statuses(user):
            self.stdout.write(f"{status.kind}: {status.used} used of {status.limit} today")
