"""Roles are Groups; this module says which permissions each holds and who has which role."""

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission

from accounts.models import ROLE_PRECEDENCE, Role, TokenScope

CAPABILITY_APP = "accounts"
USER_CAPABILITIES = ("predict", "use_llm_proxy")
ADMIN_CAPABILITIES = (
    *USER_CAPABILITIES,
    "view_all_history",
    "view_audit_log",
    "manage_models",
    "manage_users",
)
# Apps whose model permissions the admin role holds for Django admin.
ADMIN_MODEL_APPS = ("accounts", "models_registry", "predictions", "monitoring", "auth")
# The audit log is read-only for everyone, admins included.
NEVER_GRANTED = {"add_auditevent", "change_auditevent", "delete_auditevent"}

# Which capability a token scope needs from the role; reading needs none.
SCOPE_CAPABILITY = {
    TokenScope.PREDICT: "accounts.predict",
    TokenScope.PROXY: "accounts.use_llm_proxy",
}


def _capabilities(codenames, permission_model=Permission):
    return list(
        permission_model.objects.filter(
            content_type__app_label=CAPABILITY_APP, codename__in=codenames
        )
    )


def role_permissions(role, permission_model=Permission):
    if role == Role.VIEWER:
        return []
    if role == Role.USER:
        return _capabilities(USER_CAPABILITIES, permission_model)
    model_perms = permission_model.objects.filter(
        content_type__app_label__in=ADMIN_MODEL_APPS
    ).exclude(codename__in=NEVER_GRANTED)
    return list(model_perms) + _capabilities(ADMIN_CAPABILITIES, permission_model)


def sync_role_groups(apps=global_apps, **_):
    """Create the three role groups and give each exactly its permissions (idempotent)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.value)
        group.permissions.set(role_permissions(role, permission_model))


def role_of(user):
    """The user's role: the highest role group, or admin for a superuser; None for no role."""
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(user, "_role_cache", False)
    if cached is not False:
        return cached
    user._role_cache = _role_from(user, set(user.groups.values_list("name", flat=True)))
    return user._role_cache


def _role_from(user, group_names):
    role = next((r for r in ROLE_PRECEDENCE if r.value in group_names), None)
    return Role.ADMIN if role is None and user.is_superuser else role


def roles_load(users):
    """Work out the role of each of `users` in one query (role_of then answers from memory)."""
    names = {user.pk: set() for user in users}
    membership = users[0].groups.through if users else None
    if membership is not None:
        for user_id, name in membership.objects.filter(user_id__in=names).values_list(
            "user_id", "group__name"
        ):
            names[user_id].add(name)
    for user in users:
        user._role_cache = _role_from(user, names[user.pk])


def allowed_scopes(role):
    if role == Role.VIEWER:
        return [TokenScope.READ]
    if role in (Role.USER, Role.ADMIN):
        return list(TokenScope)
    return []


def role_group(role):
    return Group.objects.get(name=Role(role).value)
