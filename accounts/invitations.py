"""Invitations: a new user receives allauth's password-reset link to set a first password."""

from allauth.account.forms import ResetPasswordForm


def send_invitation(request, user):
    if not user.email:
        return False
    form = ResetPasswordForm(data={"email": user.email})
    if form.is_valid():
        form.save(request)
        return True
    return False
