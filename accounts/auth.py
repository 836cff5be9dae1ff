"""Bearer-token authentication for every API route, with scope and role checks."""

from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import HttpBearer

from accounts.models import TokenScope
from accounts.roles import SCOPE_CAPABILITY, role_of
from accounts.tokens import TokenError, verify_token


class TokenAuth(HttpBearer):
    """Authenticate `Authorization: Bearer <token>` and require `scope` of token and role.

    Missing/unknown/revoked/expired → 401; a scope the token or the role lacks → 403.
    """

    def __init__(self, scope=TokenScope.READ):
        super().__init__()
        self.scope = TokenScope(scope)

    def __call__(self, request):
        # Overridden so a malformed header is never logged (the base class logs it in DEBUG).
        header = request.headers.get(self.header, "")
        scheme, _, credentials = header.partition(" ")
        if not header:
            raise AuthenticationError(message="Authentication required: send a Bearer token")
        if scheme.lower() != self.openapi_scheme or not credentials.strip():
            raise AuthenticationError(message="Use the Authorization: Bearer <token> header")
        return self.authenticate(request, credentials.strip())

    def authenticate(self, request, token):
        try:
            api_token = verify_token(token)
        except TokenError as exc:
            raise AuthenticationError(message=str(exc)) from None
        user = api_token.user
        if not api_token.grants(self.scope):
            raise AuthorizationError(
                message=f"This token's scope '{api_token.scope}' does not allow "
                f"'{self.scope.value}'"
            )
        capability = SCOPE_CAPABILITY.get(self.scope)
        if capability and not user.has_perm(capability):
            role = role_of(user)
            raise AuthorizationError(
                message=f"Your role ({role.value if role else 'none'}) may not use "
                f"'{self.scope.value}'"
            )
        api_token.touch()
        request.api_token = api_token
        return user


read_auth = TokenAuth(TokenScope.READ)
predict_auth = TokenAuth(TokenScope.PREDICT)
proxy_auth = TokenAuth(TokenScope.PROXY)
