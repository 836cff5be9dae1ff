from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory

from models_registry.experiments.models import ExperimentKind

ARM_ROWS = 4
DEFAULT_STEPS = "5, 25, 50, 100"


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"v{obj.version} ({obj.get_stage_display()}, {obj.estimator})"


class ArmForm(forms.Form):
    name = forms.SlugField(max_length=50, required=False)
    version = VersionChoiceField(queryset=None, required=False)
    weight = forms.IntegerField(min_value=0, required=False, initial=50)

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = versions

    def clean(self):
        data = super().clean()
        if data.get("name") and not data.get("version"):
            self.add_error("version", "Choose this arm's version.")
        if data.get("version") and not data.get("name"):
            self.add_error("name", "Name this arm.")
        return data


ArmFormSet = formset_factory(ArmForm, extra=ARM_ROWS, max_num=ARM_ROWS)


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=ExperimentKind.choices, initial=ExperimentKind.AB)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    shadow_name = forms.SlugField(max_length=50, required=False, initial="shadow")
    shadow_version = VersionChoiceField(
        queryset=None,
        required=False,
        label="Shadow version",
        help_text="Optional: gets a copy of every request off the request path; never answers.",
    )
    steps = forms.CharField(
        required=False,
        initial=DEFAULT_STEPS,
        label="Canary steps (%)",
        help_text="Canary only: percentages of traffic, ending at 100 (the promotion).",
    )
    max_error_rate_delta = forms.FloatField(
        min_value=0,
        initial=2.0,
        label="Max error rate increase (points)",
        help_text="Canary vs control, in percentage points.",
    )
    max_latency_ratio = forms.FloatField(
        min_value=1, initial=1.5, label="Max p95 latency ratio", help_text="Canary / control."
    )
    min_requests = forms.IntegerField(
        min_value=1, initial=100, label="Min requests per arm", help_text="Before a gate decides."
    )
    min_step_seconds = forms.IntegerField(min_value=0, initial=300, label="Min seconds per step")

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shadow_version"].queryset = versions

    def group(self, *names):
        return [self[name] for name in names]

    @property
    def basic_fields(self):
        return self.group("name", "kind", "description")

    @property
    def shadow_fields(self):
        return self.group("shadow_name", "shadow_version")

    @property
    def plan_fields(self):
        return self.group(
            "steps", "max_error_rate_delta", "max_latency_ratio", "min_requests", "min_step_seconds"
        )

    def clean_steps(self):
        raw = self.cleaned_data["steps"].replace("%", "")
        try:
            return [int(part) for part in raw.replace(",", " ").split()]
        except ValueError:
            raise ValidationError("Write whole percentages, e.g. 5, 25, 50, 100.") from None

    def clean(self):
        data = super().clean()
        if data.get("shadow_version") and not data.get("shadow_name"):
            self.add_error("shadow_name", "Name the shadow arm.")
        return data

    def plan(self):
        data = self.cleaned_data
        return {
            "steps": data["steps"],
            "max_error_rate_delta": data["max_error_rate_delta"] / 100,
            "max_latency_ratio": data["max_latency_ratio"],
            "min_requests": data["min_requests"],
            "min_step_seconds": data["min_step_seconds"],
        }


class PinForm(forms.Form):
    username = forms.CharField(max_length=150)
    arm = forms.CharField(max_length=50, required=False, help_text="Empty to unpin.")


class ConcludeForm(forms.Form):
    winner = forms.CharField(max_length=50, required=False)
    promote = forms.BooleanField(required=False, label="Promote the winner's version")
