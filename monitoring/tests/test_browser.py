"""A viewer reads Monitoring in headless Chromium: traffic charts, ranges, a model's drift."""

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import DEFAULT_PASSWORD
from monitoring.services import drift_check
from monitoring.tests.conftest import log_window, predict, shifted, shop_frame
from portal.tests.browser import log_in
from predictions import logbook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "monitoring.png"


def _traffic(version, minutes=50):
    """A request a minute or so, some slow, one in twenty failing, a canary arm beside."""
    now = timezone.now()
    records = []
    for minute in range(minutes):
        for i in range(3):
            canary = i == 2
            records.append(
                {
                    "request_id": uuid.uuid4().hex,
                    "model_name": version.model.name,
                    "version_number": version.version,
                    "arm": "canary" if canary else "",
                    "inputs": [{}],
                    "outputs": [] if minute % 20 == 0 and i == 0 else ["big"],
                    "rows": 1,
                    "latency_ms": 2.0 + (minute % 7) * (4 if canary else 1),
                    "created_at": (now - timedelta(minutes=minute)).isoformat(),
                    "status": "error" if minute % 20 == 0 and i == 0 else "ok",
                }
            )
    logbook.write_records(records)


def test_a_viewer_reads_traffic_then_a_models_drift(page, live_server, viewer, shop_version):
    _traffic(shop_version)
    frame = shop_frame(seed=11)
    log_window(shop_version, shifted(frame), outputs=predict(shop_version, frame))
    drift_check(version=shop_version, window=timedelta(days=1))

    log_in(page, live_server.url, "viewer", DEFAULT_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Monitoring").click()
    table = page.get_by_test_id("traffic-table")
    expect(table.locator("tbody tr")).to_have_count(2)  # v1, and v1's canary arm
    expect(table).to_contain_text("canary")
    expect(page.get_by_test_id("chart")).to_have_count(3)
    expect(page.locator("svg polyline.series").first).to_be_visible()
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("link", name="Last day").click()  # htmx swaps the traffic block
    expect(page).to_have_url(f"{live_server.url}/monitoring/?range=day")
    expect(page.get_by_role("link", name="Last day")).to_have_attribute("aria-current", "true")

    table.get_by_role("link", name="drift").first.click()
    expect(page.get_by_test_id("report-status")).to_have_text("Alert")
    expect(page.get_by_test_id("histogram")).to_be_visible()
    page.get_by_test_id("drift-table").get_by_role("link", name="size").click()
    expect(page.get_by_test_id("feature").get_by_role("heading", level=2)).to_have_text("size")
