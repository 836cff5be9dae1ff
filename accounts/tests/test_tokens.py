"""Token lifecycle: create, use, expire, revoke, wrong scope; hashed at rest; constant-time."""

import hmac
from datetime import timedelta
from http import HTTPStatus
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import services, tokens
from accounts.models import ApiToken, AuditAction, AuditEvent, TokenScope, hash_token
from accounts.tests.factories import make_token

ME = "/api/v1/me"


def test_token_is_random_long_and_stored_only_as_hash(user):
    token, plaintext = make_token(user)
    _, other_plaintext = make_token(user)
    assert plaintext != other_plaintext
    secret = plaintext.split("_", 2)[2]
    assert len(secret) >= 43  # 32 bytes of urlsafe base64: 256 bits
    row = ApiToken.objects.get(pk=token.pk)
    assert row.token_hash == hash_token(plaintext)
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().first().values()]
    assert not any(secret in value for value in stored)
    assert plaintext.startswith(row.display_prefix + "_")


def test_verify_uses_constant_time_compare(user):
    _, plaintext = make_token(user)
    with mock.patch.object(tokens.hmac, "compare_digest", wraps=hmac.compare_digest) as spy:
        tokens.verify_token(plaintext)
        with pytest.raises(tokens.TokenError):
            tokens.verify_token(plaintext[:-4] + "AAAA")
    assert spy.call_count == 2


def test_unknown_prefix_still_compares(user):
    with (
        mock.patch.object(tokens.hmac, "compare_digest", return_value=False) as spy,
        pytest.raises(tokens.TokenError, match="Invalid token"),
    ):
        tokens.verify_token("mlp_ABCDEFGH_" + "x" * 43)
    spy.assert_called_once()


def test_lifecycle_use_expire_revoke(client, user, bearer):
    token, plaintext = make_token(user, scope=TokenScope.PREDICT, expires_days=1)
    response = client.get(ME, **bearer(plaintext))
    assert response.status_code == HTTPStatus.OK
    assert response.json()["token"]["scope"] == "predict"
    token.refresh_from_db()
    assert token.last_used_at is not None

    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        expired = client.get(ME, **bearer(plaintext))
    assert expired.status_code == HTTPStatus.UNAUTHORIZED
    assert expired.json() == {"detail": "Token expired"}

    services.token_revoke(token=token, actor=user)
    revoked = client.get(ME, **bearer(plaintext))
    assert revoked.status_code == HTTPStatus.UNAUTHORIZED
    assert revoked.json() == {"detail": "Token revoked"}
    assert revoked["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication required: send a Bearer token"),
        ("Basic dXNlcjpwYXNz", "Use the Authorization: Bearer <token> header"),
        ("Bearer not-a-token", "Invalid token"),
        ("Bearer mlp_ABCDEFGH_" + "y" * 43, "Invalid token"),
    ],
)
def test_missing_or_bad_token_is_401(client, db, header, detail):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(ME, **extra)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": detail}


def test_session_login_does_not_authenticate_the_api(client, user):
    client.force_login(user)
    assert client.get(ME).status_code == HTTPStatus.UNAUTHORIZED


def test_inactive_user_token_is_refused(client, user, bearer):
    _, plaintext = make_token(user)
    user.is_active = False
    user.save()
    assert client.get(ME, **bearer(plaintext)).status_code == HTTPStatus.UNAUTHORIZED


def test_last_used_is_written_at_most_once_a_minute(client, user, bearer):
    token, plaintext = make_token(user)
    client.get(ME, **bearer(plaintext))
    token.refresh_from_db()
    first = token.last_used_at
    client.get(ME, **bearer(plaintext))
    token.refresh_from_db()
    assert token.last_used_at == first
    with time_machine.travel(first + timedelta(seconds=61)):
        client.get(ME, **bearer(plaintext))
    token.refresh_from_db()
    assert token.last_used_at > first


def test_viewer_cannot_hold_predict_or_proxy_tokens(viewer):
    for scope in (TokenScope.PREDICT, TokenScope.PROXY, TokenScope.ALL):
        with pytest.raises(ValidationError, match="cannot hold"):
            make_token(viewer, scope=scope)
    token, _ = make_token(viewer, scope=TokenScope.READ)
    assert token.grants(TokenScope.READ)
    assert not token.grants(TokenScope.PREDICT)


def test_scope_grants():
    def grants(scope):
        return {s for s in TokenScope if ApiToken(scope=scope).grants(s)}

    assert grants(TokenScope.READ) == {TokenScope.READ}
    assert grants(TokenScope.PREDICT) == {TokenScope.READ, TokenScope.PREDICT}
    assert grants(TokenScope.PROXY) == {TokenScope.READ, TokenScope.PROXY}
    assert grants(TokenScope.ALL) == {TokenScope.READ, TokenScope.PREDICT, TokenScope.PROXY}


def test_expiry_is_bounded(user, settings):
    with pytest.raises(ValidationError, match="Expiry"):
        make_token(user, expires_days=settings.TOKEN_MAX_EXPIRY_DAYS + 1)
    with pytest.raises(ValidationError, match="Expiry"):
        make_token(user, expires_days=0)
    with pytest.raises(ValidationError, match="name"):
        make_token(user, name="  ")


def test_create_and_revoke_are_audited_once(user, admin_user):
    token, _ = make_token(user)
    services.token_revoke(token=token, actor=admin_user)
    services.token_revoke(token=token, actor=admin_user)  # idempotent
    actions = list(
        AuditEvent.objects.filter(target_id=str(token.pk)).values_list("action", "actor_username")
    )
    assert sorted(actions) == [
        (AuditAction.TOKEN_CREATED, "user"),
        (AuditAction.TOKEN_REVOKED, "admin"),
    ]


def test_create_token_command_prints_only_the_token(user, capsys, client, bearer):
    call_command(
        "create_token", "user", "--name", "ci", "--scope", "predict", "--expires-days", "7"
    )
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    plaintext = out.strip()
    assert tokens.TOKEN_PATTERN.match(plaintext)
    token = ApiToken.objects.get(name="ci")
    assert token.scope == TokenScope.PREDICT
    assert (token.expires_at - timezone.now()).days in (6, 7)
    assert client.get(ME, **bearer(plaintext)).status_code == HTTPStatus.OK


def test_create_token_command_errors(viewer, db):
    with pytest.raises(CommandError, match="No active user"):
        call_command("create_token", "nobody")
    with pytest.raises(CommandError, match="cannot hold"):
        call_command("create_token", "viewer", "--scope", "predict")


def test_me_reports_user_role_token_and_quota_usage(client, user, bearer):
    from accounts.models import QuotaKind
    from accounts.quotas import quota_reserve

    quota_reserve(user=user, kind=QuotaKind.PREDICTION_ROWS, units=4)
    _, plaintext = make_token(user, name="laptop", scope=TokenScope.PROXY)
    body = client.get(ME, **bearer(plaintext)).json()
    assert (body["username"], body["role"]) == ("user", "user")
    assert body["token"]["name"] == "laptop"
    assert body["token"]["scope"] == "proxy"
    rows = next(q for q in body["quotas"] if q["kind"] == "prediction_rows")
    assert rows["used"] == 4
    assert rows["remaining"] == rows["limit"] - 4
