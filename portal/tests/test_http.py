"""client_ip: the trusted-proxy rule, and never a value the audit log's inet column refuses."""

import pytest
from django.test import RequestFactory

from accounts.models import AuditAction, AuditEvent
from portal.http import client_ip


@pytest.fixture
def behind_one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


def _request(forwarded=None, remote="10.0.0.5"):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_the_entry_the_trusted_proxy_added_is_the_client(behind_one_proxy):
    assert client_ip(_request("1.2.3.4, 203.0.113.9")) == "203.0.113.9"


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("203.0.113.9")) == "10.0.0.5"


@pytest.mark.parametrize("junk", ["not-an-address", "1.2.3.4; DROP TABLE", "999.1.1.1", "::zz"])
def test_junk_in_x_forwarded_for_falls_back_to_the_peer(behind_one_proxy, junk):
    assert client_ip(_request(junk)) == "10.0.0.5"


@pytest.mark.django_db
def test_junk_never_reaches_the_audit_log(behind_one_proxy, client, admin_user):
    # A page that audits (a failed login) with a forged header must not be a 500.
    response = client.post(
        "/accounts/login/",
        {"login": "admin", "password": "wrong"},
        HTTP_X_FORWARDED_FOR="<script>",
        REMOTE_ADDR="10.0.0.7",
    )
    assert response.status_code < 500
    event = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).latest("pk")
    assert event.ip == "10.0.0.7"
