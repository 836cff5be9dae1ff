"""API token material: generation, parsing and verification (constant-time)."""

import hmac
import re
import secrets
import string

from accounts.models import TOKEN_PREFIX_LENGTH, TOKEN_SCHEME, ApiToken, hash_token
from portal import memo

SECRET_BYTES = 32  # 256 bits from the OS CSPRNG
_PREFIX_ALPHABET = string.ascii_letters + string.digits
TOKEN_PATTERN = re.compile(
    rf"^{TOKEN_SCHEME}_(?P<prefix>[A-Za-z0-9]{{{TOKEN_PREFIX_LENGTH}}})_[A-Za-z0-9_\-]{{20,}}$"
)


class TokenError(Exception):
    """Why a presented token is refused; the message is safe to return to the caller."""


def generate_token():
    """Return (prefix, plaintext): the prefix is stored in clear to find the row."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(TOKEN_PREFIX_LENGTH))
    return prefix, f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


def verify_token(plaintext):
    """Return the active ApiToken for this plaintext or raise TokenError."""
    match = TOKEN_PATTERN.match(plaintext or "")
    if match is None:
        raise TokenError("Invalid token")
    prefix = match["prefix"]
    # The row is remembered by prefix; the secret is still compared on every call.
    token = memo.remember(
        ("token", prefix),
        lambda: ApiToken.objects.select_related("user").filter(prefix=prefix).first(),
    )
    presented = hash_token(plaintext)
    # Compare even when no row matched, so timing does not reveal which prefixes exist.
    stored = token.token_hash if token is not None else "0" * len(presented)
    if not hmac.compare_digest(presented, stored) or token is None:
        raise TokenError("Invalid token")
    if token.is_revoked:
        raise TokenError("Token revoked")
    if token.is_expired:
        raise TokenError("Token expired")
    if not token.user.is_active:
        raise TokenError("User inactive")
    return token
