from allauth.account.adapter import DefaultAccountAdapter


class ClosedSignupAdapter(DefaultAccountAdapter):
    """Nobody signs up: admins create or invite users (portal Users page, admin, set_role)."""

    def is_open_for_signup(self, request):
        return False
