from django import forms

from models_registry.training import datasets
from models_registry.training.estimators import ESTIMATORS, parse_param_strings

DATASET_CHOICES = [(name, name.replace("_", " ")) for name in sorted(datasets.BUILTIN)] + [
    (datasets.CSV, "upload a CSV")
]


class TrainForm(forms.Form):
    model_name = forms.SlugField(
        max_length=100, label="Model name", help_text="A new name creates the model."
    )
    dataset = forms.ChoiceField(choices=DATASET_CHOICES)
    csv_file = forms.FileField(
        required=False, label="CSV file", help_text=f"Up to {datasets.MAX_CSV_BYTES // 2**20} MB."
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

    def clean_params(self):
        lines = [line for line in self.cleaned_data["params"].splitlines() if line.strip()]
        return parse_param_strings(lines)


class AccessForm(forms.Form):
    who = forms.CharField(max_length=150, label="User or group name")
    grant = forms.BooleanField(required=False, initial=True)
