import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Role, User
from accounts.roles import role_of, sync_role_groups
from models_registry.models import MLModel
from models_registry.services import version_promote
from models_registry.training.pipeline import run_training

DEMO_MODEL = "breast-cancer"
# (estimator, params, promote): a production version and a staged challenger.
DEMO_VERSIONS = (
    ("random_forest", {"n_estimators": 60, "max_depth": 6}, True),
    ("logistic_regression", {"C": 0.5}, False),
)
DEMO_USERS = (
    ("admin", Role.ADMIN),
    ("user", Role.USER),
    ("viewer", Role.VIEWER),
)


class Command(BaseCommand):
    help = (
        "Create the role groups, the demo users admin, user and viewer, and a trained demo "
        "model with a production and a staged version (idempotent). "
        "Passwords come from DEMO_PASSWORD; without it each new user gets a generated "
        "password, printed once. Existing users keep their password unless DEMO_PASSWORD is set."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="where the portal will be served, for the sign-in hint (default: %(default)s)",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        sync_role_groups()
        password = os.environ.get("DEMO_PASSWORD") or None
        lines = []
        for username, role in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                chosen = password or secrets.token_urlsafe(12)
                user = services.user_create(
                    username=username,
                    role=role,
                    email=f"{username}@example.com",
                    password=chosen,
                )
                lines.append(f"  {username:<7} role={role.value:<7} password={chosen}")
                continue
            if role_of(user) != role:
                services.role_set(user=user, role=role)
            if password and not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
                lines.append(
                    f"  {username:<7} role={role.value:<7} password reset from DEMO_PASSWORD"
                )
        self._demo_model()
        if lines:
            self.stdout.write(f"Demo users (shown once; sign in at {options['url']}):")
            self.stdout.write("\n".join(lines))
        else:
            self.stdout.write("Demo users already exist; passwords unchanged.")

    def _demo_model(self):
        if MLModel.objects.filter(name=DEMO_MODEL).exists():
            return
        from models_registry.models import TrainingJob

        admin = User.objects.get(username="admin")
        for estimator, params, promote in DEMO_VERSIONS:
            job = TrainingJob.objects.create(
                model_name=DEMO_MODEL,
                dataset="breast_cancer",
                estimator=estimator,
                params=params,
                created_by=admin,
            )
            version = run_training(job.pk)
            if version is None:
                raise RuntimeError(f"demo training failed: {job.error}")
            if promote:
                version_promote(version=version, actor=admin)
            self.stdout.write(
                f"Demo model {version}: {version.stage if not promote else 'production'}"
            )
