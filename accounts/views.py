"""Portal pages for tokens (everyone), users and roles, and the audit log (admins)."""

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.forms import AuditFilterForm, QuotaForm, RoleForm, TokenCreateForm, UserCreateForm
from accounts.invitations import send_invitation
from accounts.models import ApiToken, AuditEvent, User, UserQuota
from accounts.quotas import quota_statuses, quota_statuses_many
from accounts.roles import role_of, roles_load
from portal.forms import add_service_errors
from portal.http import client_ip, render_page

AUDIT_PAGE_SIZE = 50


# ---------------------------------------------------------------- tokens
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    role = role_of(request.user)
    form = TokenCreateForm(request.POST or None, role=role)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            token, plaintext = services.token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_days=form.cleaned_data["expires_days"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            created = {"token": token, "plaintext": plaintext}
            form = TokenCreateForm(role=role)
    context = {
        "form": form,
        "created": created,
        "tokens": ApiToken.objects.for_user(request.user),
    }
    return render_page(request, "accounts/tokens.html", context, partial="tokens-panel")


@login_required
@require_POST
def token_revoke(request, pk):
    # Scoped to the owner: another user's token id is a 404, not a revocation.
    token = get_object_or_404(ApiToken.objects.for_user(request.user), pk=pk)
    services.token_revoke(token=token, actor=request.user, ip=client_ip(request))
    if not request.htmx:
        return redirect("accounts:tokens")
    return render_page(
        request, "accounts/tokens.html", {"token": token, "tokens": [token]}, partial="token-row"
    )


# ---------------------------------------------------------------- users
def _users():
    return User.objects.order_by("username")


def _user_row_context(user, quota=False, usage=None):
    """One row of the users page; `quota` and `usage` when the caller loaded them in bulk."""
    if quota is False:
        quota = UserQuota.objects.filter(user=user).first()
    return {
        "row_user": user,
        "role_form": RoleForm(initial={"role": role_of(user)}, prefix=f"u{user.pk}"),
        "quota_form": QuotaForm(
            initial={
                "prediction_rows_per_day": quota.prediction_rows_per_day if quota else None,
                "llm_tokens_per_day": quota.llm_tokens_per_day if quota else None,
            },
            prefix=f"q{user.pk}",
        ),
        "usage": usage if usage is not None else quota_statuses(user),
    }


@login_required
@permission_required("accounts.manage_users", raise_exception=True)
@require_http_methods(["GET", "POST"])
def users(request):
    form = UserCreateForm(request.POST or None)
    invited = None
    if request.method == "POST" and form.is_valid():
        try:
            invited = services.user_create(
                **form.cleaned_data, actor=request.user, ip=client_ip(request)
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            send_invitation(request, invited)
            form = UserCreateForm()
    users_ = list(_users())
    roles_load(users_)
    overrides = {q.user_id: q for q in UserQuota.objects.filter(user__in=users_)}
    usage = quota_statuses_many(users_, overrides)
    rows = [_user_row_context(u, overrides.get(u.pk), usage[u.pk]) for u in users_]
    return render_page(
        request,
        "accounts/users.html",
        {"form": form, "rows": rows, "invited": invited},
        partial="users-panel",
    )


@login_required
@permission_required("accounts.manage_users", raise_exception=True)
@require_POST
def user_role(request, pk):
    user = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST, prefix=f"u{user.pk}")
    error = None
    if form.is_valid():
        if user == request.user and form.cleaned_data["role"] != "admin":
            error = "You cannot remove your own admin role."
        else:
            services.role_set(
                user=user,
                role=form.cleaned_data["role"],
                actor=request.user,
                ip=client_ip(request),
            )
    else:
        error = "Choose a valid role."
    if not request.htmx:
        return redirect("accounts:users")
    context = {**_user_row_context(user), "error": error, "saved": error is None}
    return render_page(request, "accounts/users.html", context, partial="user-row")


@login_required
@permission_required("accounts.manage_users", raise_exception=True)
@require_POST
def user_quota(request, pk):
    user = get_object_or_404(User, pk=pk)
    form = QuotaForm(request.POST, prefix=f"q{user.pk}")
    error = None
    if form.is_valid():
        services.quota_set(
            user=user, actor=request.user, ip=client_ip(request), **form.cleaned_data
        )
    else:
        error = "Quotas must be whole numbers of 0 or more (empty for the role default)."
    if not request.htmx:
        return redirect("accounts:users")
    context = {**_user_row_context(user), "error": error, "saved": error is None}
    if error:
        context["quota_form"] = form
    return render_page(request, "accounts/users.html", context, partial="user-row")


# ---------------------------------------------------------------- audit log
@login_required
@permission_required("accounts.view_audit_log", raise_exception=True)
@require_GET
def audit(request):
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.all()
    if form.is_valid():
        data = form.cleaned_data
        if data["actor"]:
            events = events.filter(actor_username__icontains=data["actor"])
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["since"]:
            events = events.filter(created_at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(created_at__date__lte=data["until"])
        if data["before"]:
            events = events.filter(id__lt=data["before"])
    # Keyset pagination on id: no OFFSET scans and no COUNT(*) however long the log grows.
    page = list(events.order_by("-id")[: AUDIT_PAGE_SIZE + 1])
    has_more = len(page) > AUDIT_PAGE_SIZE
    page = page[:AUDIT_PAGE_SIZE]
    next_query = None
    if has_more:
        params = request.GET.copy()
        params["before"] = page[-1].id
        next_query = params.urlencode()
    partial = "audit-rows" if request.GET.get("before") else "audit-table"
    return render_page(
        request,
        "accounts/audit.html",
        {"form": form, "events": page, "next_query": next_query},
        partial=partial,
    )
