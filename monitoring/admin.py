from django.contrib import admin

from monitoring.models import DriftReport, FeatureDrift, MonitoringSettings


@admin.register(MonitoringSettings)
class MonitoringSettingsAdmin(admin.ModelAdmin):
    list_display = ("model", "psi_warn", "psi_alert", "p_value", "distance")
    autocomplete_fields = ("model",)


class FeatureDriftInline(admin.TabularInline):
    model = FeatureDrift
    fields = ("feature", "method", "score", "p_value", "psi", "values", "status")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DriftReport)
class DriftReportAdmin(admin.ModelAdmin):
    list_display = (
        "model",
        "version",
        "status",
        "rows",
        "window_start",
        "window_end",
        "created_at",
    )
    list_filter = ("status", "model")
    readonly_fields = (
        "model",
        "version",
        "window_start",
        "window_end",
        "rows",
        "status",
        "duration_ms",
        "created_at",
    )
    inlines = [FeatureDriftInline]

    def has_add_permission(self, request):
        return False
