from django import forms
from django.contrib import admin, messages
from guardian.admin import GuardedModelAdmin

from models_registry import services
from models_registry.models import MLModel, ModelVersion, TrainingJob
from models_registry.training.metrics import validate_gates
from portal.http import client_ip


class VersionInline(admin.TabularInline):
    model = ModelVersion
    extra = 0
    can_delete = False
    fields = ("version", "stage", "estimator", "dataset_name", "created_at", "promoted_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class MLModelForm(forms.ModelForm):
    class Meta:
        model = MLModel
        fields = (
            "name",
            "task_type",
            "description",
            "owner",
            "restricted",
            "gates",
            "max_regression",
            "enforce_input_ranges",
        )

    def clean_gates(self):
        gates = self.cleaned_data["gates"] or []
        if not isinstance(gates, list):
            raise forms.ValidationError("Gates are a list of {metric, op, threshold} objects.")
        validate_gates(gates)
        return gates


@admin.register(MLModel)
class MLModelAdmin(GuardedModelAdmin):
    """Object permissions ("use" on a restricted model) are granted from this page."""

    form = MLModelForm

    list_display = (
        "name",
        "task_type",
        "restricted",
        "enforce_input_ranges",
        "production",
        "owner",
        "created_at",
    )
    list_filter = ("task_type", "restricted", "enforce_input_ranges")
    search_fields = ("name", "description")
    inlines = [VersionInline]
    actions = ["rollback"]

    @admin.display(description="production version")
    def production(self, obj):
        version = obj.production_version
        return f"v{version.version}" if version else "—"

    @admin.action(description="Roll back to the previous production version")
    def rollback(self, request, queryset):
        for model in queryset:
            try:
                target = services.version_rollback(
                    model=model, actor=request.user, ip=client_ip(request)
                )
            except services.RegistryError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{model.name} rolled back to v{target.version}.")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "stage",
        "estimator",
        "dataset_name",
        "created_by",
        "created_at",
        "promoted_at",
    )
    list_filter = ("stage", "estimator", "model")
    search_fields = ("model__name",)
    actions = ["promote"]
    # Artifacts, metrics and schema are facts about a trained file: never edited by hand.
    readonly_fields = [f.name for f in ModelVersion._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Promote the selected version to production")
    def promote(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Promote one version at a time.", messages.ERROR)
            return
        version = queryset.get()
        try:
            services.version_promote(version=version, actor=request.user, ip=client_ip(request))
        except services.RegistryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{version} is now in production.")


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "model_name",
        "dataset",
        "estimator",
        "status",
        "progress",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "estimator", "dataset")
    search_fields = ("model_name",)
    readonly_fields = [f.name for f in TrainingJob._meta.fields]

    def has_add_permission(self, request):
        return False
