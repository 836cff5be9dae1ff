import re

from django import forms
from django.core.exceptions import ValidationError

from models_registry.training import datasets
from models_registry.training.estimators import ESTIMATORS, parse_param_strings
from models_registry.training.metrics import validate_gates

GATE_LINE = re.compile(r"^\s*(?P<metric>[a-z_0-9]+)\s*(?P<op>>=|<=|>|<)\s*(?P<threshold>\S+)\s*$")

DATASET_CHOICES = [(name, name.replace("_", " ")) for name in sorted(datasets.BUILTIN)] + [
    (datasets.CSV, "upload a CSV")
]


class TrainForm(forms.Form):
    model_name = forms.SlugField(
        max_length=100, label="Model name", help_text="A new name creates the model."
    )
    dataset = forms.ChoiceField(choices=DATASET_CHOICES)
    csv_file = forms.FileField(
        required=False,
        label="CSV file",
        help_text=(
            f"Up to {datasets.MAX_CSV_BYTES // 2**20} MB and {datasets.MAX_CSV_COLUMNS} columns."
        ),
    )
    target_column = forms.CharField(required=False, max_length=200, label="Target column")
    estimator = forms.ChoiceField(choices=[(k, v.label) for k, v in ESTIMATORS.items()])
    params = forms.CharField(
        required=False,
        label="Hyperparameters",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "n_estimators=200\nmax_depth=8"}),
        help_text="One name=value per line; empty for the defaults.",
    )
    promote = forms.BooleanField(required=False, label="Promote if the gates pass")

    def clean_csv_file(self):
        upload = self.cleaned_data["csv_file"]
        if upload is not None:  # refused from its size and first bytes, before it is read
            datasets.check_csv_file(upload)
        return upload

    def clean_params(self):
        lines = [line for line in self.cleaned_data["params"].splitlines() if line.strip()]
        return parse_param_strings(lines)


class AccessForm(forms.Form):
    who = forms.CharField(max_length=150, label="User or group name")
    grant = forms.BooleanField(required=False, initial=True)


class ModelSettingsForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    restricted = forms.BooleanField(required=False, label="Restricted (granted users only)")
    gates = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "roc_auc >= 0.9\nlog_loss <= 0.3"}),
        help_text="One gate per line: metric, operator (>=, >, <=, <), threshold.",
    )
    max_regression = forms.FloatField(
        required=False,
        min_value=0,
        label="Max regression vs production",
        help_text="On the primary metric (ROC AUC or RMSE); empty to skip.",
    )
    enforce_input_ranges = forms.BooleanField(
        required=False,
        label="Refuse inputs outside the training range",
        help_text=(
            "Off: such values are served, flagged in the log and shown on the monitoring pages."
        ),
    )

    @staticmethod
    def gates_text(gates):
        return "\n".join(f"{g['metric']} {g['op']} {g['threshold']}" for g in gates)

    def clean_gates(self):
        gates = []
        for line in self.cleaned_data["gates"].splitlines():
            if not line.strip():
                continue
            match = GATE_LINE.match(line)
            if match is None:
                raise ValidationError(
                    f"Cannot read gate {line.strip()!r}: write e.g. roc_auc >= 0.9"
                )
            gate = match.groupdict()
            try:
                gate["threshold"] = float(gate["threshold"])
            except ValueError:
                raise ValidationError(f"Threshold in {line.strip()!r} is not a number.") from None
            gates.append(gate)
        validate_gates(gates)
        return gates
