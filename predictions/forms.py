from django import forms

from predictions.models import PredictionStatus


class HistoryFilterForm(forms.Form):
    model = forms.CharField(required=False)
    version = forms.IntegerField(required=False, min_value=1)
    arm = forms.CharField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "any"), *PredictionStatus.choices])
    since = forms.DateTimeField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateTimeField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    user = forms.CharField(required=False, label="User")
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, can_see_all=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_see_all:
            del self.fields["user"]

    def filters(self):
        data = {k: v for k, v in self.cleaned_data.items() if k != "cursor"}
        return data
