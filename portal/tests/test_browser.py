"""The portal in headless Chromium: each role signs in, sees its navigation, uses tokens."""

import os
import shutil
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from accounts.models import QuotaKind
from accounts.quotas import quota_reserve
from accounts.tests.factories import DEFAULT_PASSWORD
from portal.tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAV = {
    "viewer": [
        "Dashboard",
        "Models",
        "Experiments",
        "History",
        "Monitoring",
        "API tokens",
        "API docs",
    ],
    "user": [
        "Dashboard",
        "Models",
        "Experiments",
        "History",
        "Monitoring",
        "Jobs",
        "API tokens",
        "API docs",
    ],
    "admin": [
        "Dashboard",
        "Models",
        "Experiments",
        "History",
        "Monitoring",
        "Jobs",
        "API tokens",
        "Users",
        "Audit log",
        "Django admin",
        "API docs",
    ],
}
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


@pytest.mark.parametrize("role", ["viewer", "user", "admin"])
def test_each_role_sees_its_navigation(page, live_server, role_users, role):
    log_in(page, live_server.url, role, DEFAULT_PASSWORD)
    expect(page.get_by_test_id("role")).to_have_text(role.capitalize())
    expect(page.locator("nav.nav a")).to_have_text(NAV[role])
    expect(page.locator("meter")).to_have_count(2)


@pytest.mark.parametrize("role", ["viewer", "user"])
def test_admin_pages_are_refused(page, live_server, role_users, role):
    log_in(page, live_server.url, role, DEFAULT_PASSWORD)
    for path in ("/users/", "/audit/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == HTTPStatus.FORBIDDEN
        expect(page.get_by_role("heading", level=1)).to_have_text("403 · Not allowed")


def test_token_is_shown_once_works_and_can_be_revoked(page, live_server, user):
    log_in(page, live_server.url, "user", DEFAULT_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="API tokens").click()
    page.fill("input[name=name]", "browser token")
    page.select_option("select[name=scope]", "predict")
    page.get_by_role("button", name="Create token").click()

    value = page.get_by_test_id("token-value")
    expect(value).to_be_visible()
    plaintext = value.input_value()
    assert plaintext.startswith("mlp_")
    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.status_code == HTTPStatus.OK
    assert me.json()["username"] == "user"
    assert me.json()["token"]["name"] == "browser token"

    page.reload()
    expect(page.get_by_test_id("token-value")).to_have_count(0)
    assert plaintext not in page.content()
    row = page.locator("tr", has_text="browser token")
    expect(row).to_contain_text(plaintext[:12])

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text="browser token")).to_contain_text("revoked")
    again = httpx.get(
        f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"}
    )
    assert again.status_code == HTTPStatus.UNAUTHORIZED


def test_viewer_may_only_create_read_tokens(page, live_server, viewer):
    log_in(page, live_server.url, "viewer", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/tokens/")
    expect(page.locator("select[name=scope] option")).to_have_text(["Read"])
    page.fill("input[name=name]", "dashboards")
    page.get_by_role("button", name="Create token").click()
    plaintext = page.get_by_test_id("token-value").input_value()
    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.status_code == HTTPStatus.OK
    assert me.json()["username"] == "viewer"
    assert me.json()["token"]["scope"] == "read"


def test_admin_changes_a_role_in_place(page, live_server, admin_user, viewer):
    log_in(page, live_server.url, "admin", DEFAULT_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Users").click()
    row = page.locator(f"#user-{viewer.pk}")
    row.locator("select").select_option("user")
    expect(page.locator(f"#user-{viewer.pk}")).to_contain_text("Saved")
    viewer.refresh_from_db()
    assert viewer.role == "user"


def test_dashboard_screenshot(page, live_server, admin_user, user, tmp_path):
    quota_reserve(user=admin_user, kind=QuotaKind.PREDICTION_ROWS, units=420_000)
    quota_reserve(user=admin_user, kind=QuotaKind.LLM_TOKENS, units=1_730_000)
    log_in(page, live_server.url, "admin", DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/tokens/")
    page.fill("input[name=name]", "nightly batch")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("token-value")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("active-tokens")).to_have_text("1")
    expect(page.locator("meter").first).to_have_attribute("value", "420000")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, SCREENSHOT)
        for path in ("/tokens/", "/users/", "/audit/"):
            page.goto(f"{live_server.url}{path}")
            page.screenshot(path=str(SCREENSHOT.with_name(f"{path.strip('/')}.png")))


def test_admin_api_docs_and_two_factor_pages_run_under_the_policy(page, live_server, admin_user):
    # The page fixture fails the test on any refusal; here the pages with the most scripts.
    log_in(page, live_server.url, "admin", DEFAULT_PASSWORD)
    response = page.goto(f"{live_server.url}/api/v1/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MLOps Portal")
    expect(page.locator(".opblock").first).to_be_visible()
    page.goto(f"{live_server.url}/admin/accounts/user/add/")
    expect(page.locator("input[name=username]")).to_be_visible()
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    page.fill("input[name=password]", DEFAULT_PASSWORD)  # allauth asks again first
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url("**/2fa/totp/activate/")
    qr_code = page.locator("img[src^='data:']")
    expect(qr_code).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", qr_code.element_handle()) > 0
