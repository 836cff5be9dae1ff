from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import services
from accounts.models import ApiToken, AuditEvent, QuotaUsage, Role, User, UserQuota
from accounts.roles import role_of
from portal.http import client_ip


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "role_display", "is_active", "last_login", "date_joined")
    list_filter = ("groups", "is_active", "is_staff", "is_superuser")
    actions = ["make_admin", "make_user", "make_viewer", "reset_quota_usage"]

    @admin.display(description="role")
    def role_display(self, obj):
        role = role_of(obj)
        return role.label if role else "—"

    def _set_role(self, request, queryset, role):
        for user in queryset:
            services.role_set(user=user, role=role, actor=request.user, ip=client_ip(request))
        self.message_user(request, f"{queryset.count()} user(s) now have the {role.label} role.")

    @admin.action(description="Give the admin role", permissions=["change"])
    def make_admin(self, request, queryset):
        self._set_role(request, queryset, Role.ADMIN)

    @admin.action(description="Give the user role", permissions=["change"])
    def make_user(self, request, queryset):
        self._set_role(request, queryset, Role.USER)

    @admin.action(description="Give the viewer role", permissions=["change"])
    def make_viewer(self, request, queryset):
        self._set_role(request, queryset, Role.VIEWER)

    @admin.action(description="Reset today's quota usage", permissions=["change"])
    def reset_quota_usage(self, request, queryset):
        for user in queryset:
            services.quota_usage_reset(user=user, actor=request.user, ip=client_ip(request))
        self.message_user(request, f"Quota usage reset for {queryset.count()} user(s).")

    def save_related(self, request, form, formsets, change):
        # Group edits in the form are role changes: audit them like every other path.
        before = role_of(form.instance) if change else None
        super().save_related(request, form, formsets, change)
        form.instance._role_cache = False
        after = role_of(form.instance)
        if after is not None and after != before:
            services.role_set(
                user=form.instance, role=after, actor=request.user, ip=client_ip(request)
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "display_prefix",
        "scope",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter), "expires_at")
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at", "revoked_at", "scope")
    fields = (
        "user",
        "name",
        "scope",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are shown once at creation: create them in the portal or CLI

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.token_revoke(token=token, actor=request.user, ip=client_ip(request))
            count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


@admin.register(UserQuota)
class UserQuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "prediction_rows_per_day", "llm_tokens_per_day", "updated_at")
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change):
        services.quota_set(
            user=obj.user,
            actor=request.user,
            ip=client_ip(request),
            prediction_rows_per_day=obj.prediction_rows_per_day,
            llm_tokens_per_day=obj.llm_tokens_per_day,
        )
        obj.pk = UserQuota.objects.get(user=obj.user).pk


@admin.register(QuotaUsage)
class QuotaUsageAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "day", "used")
    list_filter = ("kind", "day")
    search_fields = ("user__username",)
    readonly_fields = ("user", "kind", "day", "used")

    def has_add_permission(self, request):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "action", "target_repr", "ip", "request_id")
    list_filter = ("action", "created_at")
    search_fields = ("actor_username", "target_repr", "request_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
