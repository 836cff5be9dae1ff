from ninja import Router

from accounts.quotas import quota_statuses
from accounts.roles import role_of
from accounts.schemas import MeOut

router = Router(tags=["account"])


@router.get("/me", response=MeOut, url_name="get_me")
def get_me(request):
    """Who the token belongs to, its role and today's quota usage."""
    user, token = request.auth, request.api_token
    role = role_of(user)
    return {
        "username": user.username,
        "email": user.email,
        "role": role.value if role else None,
        "token": {
            "name": token.name,
            "prefix": token.display_prefix,
            "scope": token.scope,
            "expires_at": token.expires_at,
        },
        "quotas": [
            {
                "kind": s.kind,
                "limit": s.limit,
                "used": s.used,
                "remaining": s.remaining,
                "resets_at": s.resets_at,
            }
            for s in quota_statuses(user)
        ],
    }
