from django.apps import AppConfig
from django.apps import apps as app_registry
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and access"

    def ready(self):
        from accounts import signals  # noqa: F401 - connects the login audit receivers

        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_role_groups")


def _sync_roles(sender, apps=app_registry, **kwargs):
    """After the last app migrated every permission exists, so the role groups are complete."""
    from accounts.roles import sync_role_groups

    # post_migrate is sent only to apps with a models module; wait for the last of them.
    with_models = [config for config in app_registry.get_app_configs() if config.models_module]
    if sender is not with_models[-1]:
        return
    try:
        apps.get_model("accounts", "User")
    except LookupError:  # migrated backwards past accounts
        return
    sync_role_groups(apps)
