"""Navigation that shows only what the signed-in user's role may use."""

from django.urls import reverse

from accounts.roles import role_of

# (label, url name, permission needed or None for any signed-in role)
NAVIGATION = [
    ("Dashboard", "portal:dashboard", None),
    ("Models", "registry:model_list", None),
    ("Experiments", "registry:experiment_list", None),
    ("History", "predictions:history", None),
    ("Monitoring", "monitoring:overview", None),
    ("Jobs", "predictions:job_list", "accounts.predict"),
    ("API tokens", "accounts:tokens", None),
    ("Users", "accounts:users", "accounts.manage_users"),
    ("Audit log", "accounts:audit", "accounts.view_audit_log"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "current_role": None}
    path = request.path
    items = []
    for label, url_name, permission in NAVIGATION:
        if permission is None or user.has_perm(permission):
            url = reverse(url_name)
            active = path == url if url == "/" else path.startswith(url)
            items.append({"label": label, "url": url, "active": active})
    return {"nav_items": items, "current_role": role_of(user)}
