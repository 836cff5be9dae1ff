from django import forms
from django.conf import settings

from accounts.models import AuditAction, Role, TokenScope
from accounts.roles import allowed_scopes


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses this token, e.g. 'nightly batch'.")
    scope = forms.ChoiceField(choices=TokenScope.choices)
    expires_days = forms.IntegerField(
        min_value=1,
        max_value=settings.TOKEN_MAX_EXPIRY_DAYS,
        label="Expires in (days)",
        initial=settings.TOKEN_DEFAULT_EXPIRY_DAYS,
    )

    def __init__(self, *args, role=None, **kwargs):
        super().__init__(*args, **kwargs)
        scopes = allowed_scopes(role)
        self.fields["scope"].choices = [(s.value, s.label) for s in scopes]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class QuotaForm(forms.Form):
    prediction_rows_per_day = forms.IntegerField(
        min_value=0, required=False, help_text="Empty: the role's default."
    )
    llm_tokens_per_day = forms.IntegerField(
        min_value=0, required=False, help_text="Empty: the role's default."
    )


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(help_text="An invitation to set a password is sent here.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.USER)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, label="Who")
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, widget=forms.HiddenInput)
