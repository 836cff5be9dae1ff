from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role, User


class Command(BaseCommand):
    help = (
        "Give USERNAME the role admin, user or viewer (replacing any other role). "
        "With --create, create the user first (no usable password: they set one via "
        "'forgot password', or pass --password)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=[r.value for r in Role])
        parser.add_argument("--create", action="store_true", help="create the user if missing")
        parser.add_argument("--email", default="", help="email for a created user")
        parser.add_argument("--password", default=None, help="password for a created user")

    def handle(self, *args, username, role, create, email, password, **options):
        user = User.objects.filter(username=username).first()
        try:
            if user is None:
                if not create:
                    raise CommandError(f"No user {username!r}. Add --create to create it.")
                user = services.user_create(
                    username=username, role=role, email=email, password=password
                )
                self.stdout.write(f"Created {username} with role {role}.")
                return
            services.role_set(user=user, role=role)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"{username} now has role {role}.")
