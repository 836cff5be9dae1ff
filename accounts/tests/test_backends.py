"""Permission sets come from the shared cache, and every kind of change invalidates them."""

from django.contrib.auth.models import Permission

from accounts import services
from accounts.models import Role, User
from accounts.roles import role_group


def _fresh(user):
    return User.objects.get(pk=user.pk)  # as the next request loads it: no per-object cache


def test_a_warm_check_needs_no_query(user, django_assert_num_queries):
    assert _fresh(user).has_perm("accounts.predict")
    fresh = _fresh(user)
    with django_assert_num_queries(0):
        assert fresh.has_perm("accounts.predict")
        assert not fresh.has_perm("accounts.manage_users")


def test_role_changes_apply_to_the_next_check(user):
    assert _fresh(user).has_perm("accounts.predict")
    services.role_set(user=user, role=Role.VIEWER)
    assert not _fresh(user).has_perm("accounts.predict")
    role_group(Role.VIEWER).user_set.remove(user)
    role_group(Role.ADMIN).user_set.add(user)  # from the group's side
    assert _fresh(user).has_perm("accounts.manage_users")


def test_grant_and_deactivation_changes_apply_to_the_next_check(user):
    assert not _fresh(user).has_perm("accounts.view_audit_log")
    role_group(Role.USER).permissions.add(Permission.objects.get(codename="view_audit_log"))
    assert _fresh(user).has_perm("accounts.view_audit_log")
    user.user_permissions.add(Permission.objects.get(codename="manage_users"))
    assert _fresh(user).has_perm("accounts.manage_users")
    user.is_active = False
    user.save()
    assert not _fresh(user).has_perm("accounts.predict")
