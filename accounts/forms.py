from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import AuditAction, AuditEvent, Role, TokenScope
from accounts.roles import allowed_scopes
from portal.http import client_ip

# How the audit log names a refused second-factor code, by allauth's error code.
REFUSED_CODE_ACTIONS = {"too_many_login_attempts": AuditAction.LOGIN_RATE_LIMITED}


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


class AuditedAuthenticateForm(AuthenticateForm):
    """allauth's two-factor sign-in step (MFA_FORMS), with every refused code audited."""

    def clean_code(self):
        try:
            return super().clean_code()
        except ValidationError as error:
            AuditEvent.objects.record(
                REFUSED_CODE_ACTIONS.get(error.code, AuditAction.LOGIN_FAILED),
                target=self.user,
                details={"login": self.user.username, "step": "two_factor"},
                ip=client_ip(context.request),
            )
            raise
