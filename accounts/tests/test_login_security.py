"""Sign-in hardening: Django admin behind allauth's login, lockouts per client, refusals audited."""

import time
from http import HTTPStatus

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from accounts.tests.factories import DEFAULT_PASSWORD

TOO_MANY = b"Too many failed login attempts"
WRONG_PASSWORD = "not-the-password-1"
OWNER_IP = "198.51.100.7"
ATTACKER_IP = "203.0.113.66"
REFUSALS = (AuditAction.LOGIN_FAILED, AuditAction.LOGIN_RATE_LIMITED)


def signed_in(client):
    return SESSION_KEY in client.session


def totp_code(secret, *, valid=True):
    code = hotp_value(secret, int(time.time()) // 30)
    return format_hotp_value(code if valid else (code + 1) % 1_000_000)


def behind_proxy(ip):
    """A browser at ip, seen through nginx (which sets X-Forwarded-For, one hop)."""
    return Client(headers={"x-forwarded-for": ip})


def portal_login(client, login, password):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def admin_login(client, username, password):
    """What a script does at /admin/login/: post there, then post again wherever it leads."""
    response = client.post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )
    if response.status_code == HTTPStatus.FOUND and response["Location"].startswith(
        reverse("account_login")
    ):
        return client.post(response["Location"], {"login": username, "password": password})
    return response


@pytest.fixture
def proxied(settings):
    settings.TRUSTED_PROXY_COUNT = 1


@pytest.fixture
def totp_secret(settings, admin_user):
    settings.MFA_TOTP_TOLERANCE = 1  # a code made as the 30 s window ends still counts
    secret = generate_totp_secret()
    TOTP.activate(admin_user, secret)
    return secret


# ---------------------------------------------------------------- admin login
def test_admin_login_leads_to_the_portal_login(client, admin_user):
    response = client.post(
        "/admin/login/", {"username": "admin", "password": DEFAULT_PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=/admin/" in response["Location"].replace("%2F", "/")
    assert not signed_in(client)


def test_admin_login_with_totp_needs_the_code(client, admin_user, totp_secret):
    response = admin_login(client, "admin", DEFAULT_PASSWORD)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    assert not signed_in(client)
    assert client.get("/admin/").status_code == HTTPStatus.FOUND
    assert client.get("/admin/accounts/user/").status_code == HTTPStatus.FOUND
    assert client.get(reverse("portal:dashboard")).status_code == HTTPStatus.FOUND

    client.post(reverse("mfa_authenticate"), {"code": totp_code(totp_secret, valid=False)})
    assert not signed_in(client)

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(totp_secret)})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/admin/"
    assert signed_in(client)
    assert client.get("/admin/accounts/user/").status_code == HTTPStatus.OK


def test_admin_login_is_rate_limited(client, admin_user):
    for _ in range(15):
        admin_login(client, "admin", WRONG_PASSWORD)
    response = admin_login(client, "admin", DEFAULT_PASSWORD)
    assert TOO_MANY in response.content
    assert not signed_in(client)
    assert client.get("/admin/").status_code == HTTPStatus.FOUND
    assert AuditEvent.objects.filter(action__in=REFUSALS).count() == 16


def test_admin_login_refuses_a_signed_in_non_staff_user(client, user):
    portal_login(client, "user", DEFAULT_PASSWORD)
    assert signed_in(client)
    assert client.get("/admin/login/").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/admin/").status_code == HTTPStatus.FOUND


# ---------------------------------------------------------------- lockouts behind the proxy
def test_one_clients_failures_do_not_lock_out_another(proxied, user):
    noisy = behind_proxy(ATTACKER_IP)
    for n in range(11):
        portal_login(noisy, f"nobody-{n}", WRONG_PASSWORD)
    assert TOO_MANY in portal_login(noisy, "nobody-x", WRONG_PASSWORD).content

    owner = behind_proxy(OWNER_IP)
    portal_login(owner, "user", DEFAULT_PASSWORD)
    assert signed_in(owner)


def test_guesses_from_other_addresses_do_not_lock_the_owner_out(proxied, user):
    for n in range(6):
        portal_login(behind_proxy(f"203.0.113.{n + 1}"), "user", WRONG_PASSWORD)

    owner = behind_proxy(OWNER_IP)
    portal_login(owner, "user", DEFAULT_PASSWORD)
    assert signed_in(owner)


def test_one_address_still_gets_five_guesses_at_an_account(proxied, user):
    attacker = behind_proxy(ATTACKER_IP)
    for _ in range(5):
        portal_login(attacker, "user", WRONG_PASSWORD)
    response = portal_login(attacker, "user", DEFAULT_PASSWORD)
    assert TOO_MANY in response.content
    assert not signed_in(attacker)


# ---------------------------------------------------------------- audit
def test_every_refused_attempt_is_audited_with_the_client_address(proxied, user):
    attacker = behind_proxy(ATTACKER_IP)
    for _ in range(12):
        portal_login(attacker, "user", WRONG_PASSWORD)

    refused = AuditEvent.objects.filter(action__in=REFUSALS)
    assert refused.filter(action=AuditAction.LOGIN_FAILED).count() == 5
    assert refused.filter(action=AuditAction.LOGIN_RATE_LIMITED).count() == 7
    assert set(refused.values_list("ip", flat=True)) == {ATTACKER_IP}
    assert {event.details["login"] for event in refused} == {"user"}


def test_refused_second_factor_codes_are_audited(proxied, admin_user, totp_secret):
    browser = behind_proxy(OWNER_IP)
    portal_login(browser, "admin", DEFAULT_PASSWORD)
    for _ in range(6):
        browser.post(reverse("mfa_authenticate"), {"code": totp_code(totp_secret, valid=False)})
    assert not signed_in(browser)

    refused = AuditEvent.objects.filter(target_id=str(admin_user.pk), action__in=REFUSALS)
    assert refused.filter(action=AuditAction.LOGIN_FAILED).count() == 5
    assert refused.filter(action=AuditAction.LOGIN_RATE_LIMITED).count() == 1
    assert set(refused.values_list("ip", flat=True)) == {OWNER_IP}
